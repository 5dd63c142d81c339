"""Statistics in the staff console: ``/console/stats/``."""

from django.urls import path

from .views import console

app_name = "analytics"
urlpatterns = [
    path("", console.dashboard, name="dashboard"),
    path("leader/", console.leader, name="leader"),
    path("ranking/", console.ranking, name="ranking"),
    path("export/queue.xlsx", console.export_queue, name="export_queue"),
    path("exports/", console.export_list, name="exports"),
    path("exports/<int:job_id>.xlsx", console.export_download, name="export_download"),
    path("export/<slug:table>.xlsx", console.export_table, name="export"),
    path("report.docx", console.report_docx, name="report"),
]
