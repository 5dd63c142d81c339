"""Staff login security pages, included into the console's namespace (``console:…``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("two-factor/", views.two_factor_page, name="two_factor"),
    path("password/", views.StaffPasswordChangeView.as_view(), name="password_change"),
    path("security/", views.security_page, name="security"),
    path("security/unlock/", views.unlock_account, name="security_unlock"),
    path(
        "security/<int:user_id>/reset-two-factor/",
        views.reset_two_factor,
        name="security_reset_two_factor",
    ),
]
