"""The public transparency page on the portal: ``/stats/``."""

from django.urls import path

from .views import portal

app_name = "transparency"
urlpatterns = [path("", portal.transparency, name="stats")]
