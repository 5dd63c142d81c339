"""Citizen portal (the web twin of the mini-program): ``/``."""

from django.urls import path

from .views import portal

app_name = "portal"
urlpatterns = [
    path("", portal.home, name="home"),
    path("appeal/new/", portal.submit, name="submit"),
    path("appeal/done/<str:code>/", portal.done, name="done"),
    path("appeal/done/<str:code>/code.txt", portal.done_text, name="done_text"),
    path("track/", portal.track, name="track"),
    path("track/<str:code>/", portal.followup, name="followup"),
    path("track/<str:code>/supplement/", portal.supplement, name="supplement"),
    path("track/<str:code>/rate/", portal.rate, name="rate"),
    path("my/", portal.my_appeals, name="my_appeals"),
    path("my/login/", portal.my_login, name="my_login"),
    path("my/login/code/", portal.my_login_code, name="my_login_code"),
    path("my/login/resend/", portal.my_login_resend, name="my_login_resend"),
    path("my/logout/", portal.my_logout, name="my_logout"),
]
