"""The worker's housekeeping: uploads no submission took and old login codes go, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minsheng.appeals.attachments import store_upload
from minsheng.appeals.models import Attachment, PhoneLoginCode
from minsheng.appeals.tasks import housekeeping
from minsheng.core import periodic
from minsheng.core.clock import replaying
from tests.appeals.factories import submitted
from tests.appeals.test_attachments import MINIMAL_PDF

pytestmark = pytest.mark.django_db

MARCH_3 = datetime(2026, 3, 3, 12, tzinfo=UTC)


def _code(phone: str, at: datetime) -> PhoneLoginCode:
    return PhoneLoginCode.objects.create(
        phone=phone, code_hash="x" * 64, created_at=at, expires_at=at + timedelta(minutes=5)
    )


def test_housekeeping_deletes_old_unused_uploads_and_old_codes_only(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with replaying(MARCH_3 - timedelta(days=2)):
        stale = store_upload(data=MINIMAL_PDF, original_name="stale.pdf")
        taken = store_upload(data=MINIMAL_PDF, original_name="taken.pdf")
        old_code = _code("13800001111", MARCH_3 - timedelta(days=2))
    Attachment.objects.filter(pk=taken.pk).update(appeal=submitted(world))
    with replaying(MARCH_3 - timedelta(hours=2)):
        fresh = store_upload(data=MINIMAL_PDF, original_name="fresh.pdf")
        new_code = _code("13800001111", MARCH_3 - timedelta(hours=2))

    with replaying(MARCH_3):
        result = housekeeping.call()

    assert result == {"uploads": 1, "login_codes": 1}
    assert set(Attachment.objects.values_list("pk", flat=True)) == {taken.pk, fresh.pk}
    assert not (Path(tmp_path) / stale.storage_name).exists()
    assert (Path(tmp_path) / fresh.storage_name).exists()
    assert list(PhoneLoginCode.objects.values_list("pk", flat=True)) == [new_code.pk]
    assert old_code.pk != new_code.pk


def test_housekeeping_is_a_periodic_job_set_by_its_setting(settings):
    settings.MINSHENG_HOUSEKEEPING_SECONDS = 900
    job = next(j for j in periodic.jobs() if j.name == "appeals_housekeeping")
    assert job.task is housekeeping
    assert job.every() == 900
