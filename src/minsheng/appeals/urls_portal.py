"""Citizen portal (the web twin of the mini-program): ``/``."""

from django.urls import path

from .views import portal

app_name = "portal"
urlpatterns = [
    path("", portal.home, name="home"),
]
