"""Stable error codes of the staff login gates (answers of the session-authenticated API)."""

from django.utils.translation import gettext_lazy as _

from minsheng.core.errors import ErrorCode


class SecurityError(ErrorCode):
    TWO_FACTOR_REQUIRED = (
        "two_factor_required",
        _("Confirm the code of your authenticator app in the staff console first."),
        403,
    )
    PASSWORD_EXPIRED = (
        "password_expired",
        _("Your password has expired: change it in the staff console first."),
        403,
    )
