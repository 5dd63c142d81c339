"""E-mail through Django's e-mail framework.

``EMAIL_BACKEND`` is the console backend by default (the message is printed by the worker);
``MINSHENG_EMAIL_URL`` (``smtp://user:password@host:587?tls=1`` or ``smtps://…``) switches to
SMTP. Tests get Django's in-memory outbox.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail


def send_email(address: str, subject: str, text: str) -> None:
    """Send one message now; raises what the backend raises (``SMTPException``, ``OSError``)."""
    send_mail(
        subject=subject.replace("\n", " ")[:200],
        message=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[address],
        fail_silently=False,
    )
