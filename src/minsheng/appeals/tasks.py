"""Background work of the appeals app, run by ``minsheng worker``."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from minsheng.core import clock

from .attachments import delete_stale_uploads
from .citizen_login import KEEP_OLD_CODES
from .models import PhoneLoginCode

# A form may keep its uploads across refused tries for a while; a day is far beyond that.
STALE_UPLOADS = timedelta(days=1)


@task()
def housekeeping() -> dict[str, int]:
    """Delete uploads no submission took and one-time login codes nothing can use any more."""
    uploads = delete_stale_uploads(STALE_UPLOADS)
    codes, _ = PhoneLoginCode.objects.filter(created_at__lt=clock.now() - KEEP_OLD_CODES).delete()
    return {"uploads": uploads, "login_codes": codes}
