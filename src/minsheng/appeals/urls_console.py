"""Staff console: ``/console/``."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import console

app_name = "console"
urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="appeals/console/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("", console.home, name="home"),
    path("appeals/", console.queue, name="queue"),
    path("appeals/bulk-dispatch/", console.bulk_dispatch, name="bulk_dispatch"),
    path("appeals/<int:appeal_id>/", console.detail, name="detail"),
    path("appeals/<int:appeal_id>/reveal/", console.reveal, name="reveal"),
    path("appeals/<int:appeal_id>/action/<str:name>/", console.act, name="act"),
    path("intake/", console.intake, name="intake"),
    path("intake/caller/", console.intake_caller, name="intake_caller"),
    path("intake/suggest/", console.intake_suggest, name="intake_suggest"),
]
