"""Staff password rules (GB/T 22239 level 3): complexity, periodic change, audited changes.

Length, similarity to the account and common passwords are Django's own validators
(configured in settings' "Staff login security" block); this module adds what Django lacks:
character classes, the username inside the password, and the maximum age.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from minsheng.core import audit

from .models import User

# Passwords must mix at least this many of: upper case, lower case, digits, symbols.
REQUIRED_CLASSES = 3


def character_classes(password: str) -> int:
    """How many of the four classes occur; any character that is not a letter or a digit
    (punctuation, space, …) is a symbol. Letters without case (Chinese) count in no class."""
    return sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


class CharacterClassesValidator:
    """At least three of upper case, lower case, digit and symbol."""

    def __init__(self, required: int = REQUIRED_CLASSES) -> None:
        self.required = required

    def validate(self, password: str, user: Any = None) -> None:
        if character_classes(password) < self.required:
            raise ValidationError(
                _(
                    "The password must mix at least %(required)d of: capital letters, small "
                    "letters, digits and symbols."
                ),
                code="password_too_simple",
                params={"required": self.required},
            )

    def get_help_text(self) -> str:
        return _(
            "Use at least %(required)d of: capital letters, small letters, digits and symbols."
        ) % {"required": self.required}


class NotContainingUsernameValidator:
    """The account name, in any case, may not appear inside the password.

    Django's similarity validator compares whole strings, so a long password that merely
    contains the username ("zhangsan" + "#Secure2026!") slips past it."""

    def validate(self, password: str, user: Any = None) -> None:
        username = str(getattr(user, "username", "") or "")
        if len(username) >= 3 and username.lower() in password.lower():
            raise ValidationError(
                _("The password may not contain the account name."),
                code="password_contains_username",
            )

    def get_help_text(self) -> str:
        return _("Do not put your account name in the password.")


def password_expires_at(user: User) -> datetime | None:
    """When the staff member must change the password; None when the rule does not apply."""
    days = settings.MINSHENG_PASSWORD_MAX_AGE_DAYS
    if days <= 0 or user.is_demo or not user.has_usable_password():
        return None
    since = user.password_changed_at or user.date_joined
    return since + timedelta(days=days)


def password_expired(user: User, now: datetime | None = None) -> bool:
    expires = password_expires_at(user)
    return expires is not None and (now or timezone.now()) >= expires


@transaction.atomic
def change_password(*, user: User, new_password: str, actor: User | None) -> None:
    """Set a staff member's new password (already validated by the form) and audit it.

    ``User.set_password`` stamps ``password_changed_at``, which restarts the maximum age."""
    user.set_password(new_password)
    user.save(update_fields=["password", "password_changed_at"])
    audit.record(
        actor=actor,
        action="org.staff.password_change",
        target=user,
        data={"by_self": actor is not None and actor.pk == user.pk},
    )
