"""Files a form holds server-side between tries: shared by the portal and the console.

A refused form comes back without asking for its photos again: files are stored (checked,
stripped) as soon as they arrive, and the page carries their upload tokens until the appeal
that takes them is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest
from django.utils.translation import gettext

from minsheng.core import ratelimit
from minsheng.core.errors import DomainError

from ..attachments import sanitize_original_name, store_upload
from ..errors import AppealError
from ..models import Attachment

UPLOAD_RATE = 60  # files per client address per minute, as the API's upload endpoint


def error_message(error: DomainError) -> str:
    """The refusal in words, with what to do about too many files."""
    message = str(error.error.message)
    if error.code == AppealError.TOO_MANY_ATTACHMENTS.code and "max" in error.details:
        message += " " + gettext("At most %(max)s; tick the ones to remove.") % error.details
    return message


@dataclass
class Uploads:
    """Files this page holds server-side (stored, not yet part of an appeal) and upload errors."""

    items: list[Attachment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> list[str]:
        return [a.upload_token for a in self.items]

    def fingerprint(self) -> list[str]:
        # The content, not the token: a double click sends the same files twice and gets new
        # tokens for them, but it is the same submission.
        return [a.sha256 for a in self.items]


def collect_uploads(request: HttpRequest) -> Uploads:
    """Files kept from an earlier try (minus those ticked for removal), then the new ones."""
    removed = set(request.POST.getlist("remove_upload"))
    kept = [t for t in dict.fromkeys(request.POST.getlist("upload")) if t and t not in removed]
    rows = {
        a.upload_token: a
        for a in Attachment.objects.filter(upload_token__in=kept[:50], appeal__isnull=True)
    }
    uploads = Uploads(items=[rows[t] for t in kept if t in rows])
    for upload in request.FILES.getlist("photos"):
        name = sanitize_original_name(upload.name or "")
        try:
            ratelimit.hit("upload", ratelimit.client_address(request), limit=UPLOAD_RATE)
            uploads.items.append(store_upload(data=upload, original_name=name))
        except DomainError as error:
            uploads.errors.append(
                gettext("%(name)s: %(problem)s")
                % {"name": name or "?", "problem": error_message(error)}
            )
    return uploads
