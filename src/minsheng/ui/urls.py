from django.urls import path

from . import views

app_name = "ui"
urlpatterns = [
    path("elder-mode/", views.toggle_elder_mode, name="elder"),
]
