"""Attachments are recognised by content, stored without metadata, and cleaned up when unused."""

from __future__ import annotations

import errno
import hashlib
import io
import re
import stat
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin

from minsheng.appeals import attachments
from minsheng.appeals.attachments import (
    content_type_of,
    delete_stale_uploads,
    open_attachment,
    store_upload,
)
from minsheng.appeals.models import Appeal, Attachment
from minsheng.core.clock import replaying
from minsheng.core.errors import DomainError

pytestmark = pytest.mark.django_db

ORIENTATION = 0x0112
GPS_IFD = 0x8825


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# ---------------------------------------------------------------- builders


def jpeg_bytes(
    size: tuple[int, int] = (64, 32),
    *,
    orientation: int | None = None,
    gps: bool = False,
    noisy: bool = False,
) -> bytes:
    image = Image.effect_noise(size, 64).convert("RGB") if noisy else Image.new("RGB", size, "red")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if gps:
        gps_ifd = exif.get_ifd(GPS_IFD)
        gps_ifd[1] = "N"
        gps_ifd[2] = (39.0, 54.0, 27.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (116.0, 23.0, 29.0)
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        exif=exif.tobytes(),
        icc_profile=b"icc-profile" * 10,
        xmp=b"<x:xmpmeta>GPSLatitude 39.9</x:xmpmeta>",
    )
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (20, 10), *, metadata: bool = False) -> bytes:
    out = io.BytesIO()
    options = {}
    if metadata:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "home address")
        info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPSLatitude</x:xmpmeta>")
        options = {"pnginfo": info, "icc_profile": b"icc-profile" * 10}
    Image.new("RGBA", size, (0, 128, 255, 200)).save(out, "PNG", **options)
    return out.getvalue()


def pdf_bytes(*bodies: bytes) -> bytes:
    """A well-formed PDF: the given objects (1 is the catalog), an xref table and a trailer."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1,
        xref,
    )
    return bytes(out)


MINIMAL_PDF = pdf_bytes(
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
)


def stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(content), extra, content)


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def stored_bytes(attachment: Attachment) -> bytes:
    with open_attachment(attachment) as handle:
        return handle.read()


def refused(data: object, name: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        store_upload(data=data, original_name=name)
    return caught.value


def make_appeal() -> Appeal:
    return Appeal.objects.create(
        tracking_code="A0000001",
        channel="hotline",
        appeal_type="complaint",
        content="路灯不亮",
        created_at=datetime(2025, 3, 1, tzinfo=UTC),
    )


# ---------------------------------------------------------------- images


def test_jpeg_with_gps_exif_is_stored_without_any_metadata(media_root: Path) -> None:
    # given a phone photo carrying camera, GPS, XMP and ICC metadata
    original = jpeg_bytes(gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD) != {}

    # when it is uploaded
    attachment = store_upload(data=original, original_name="IMG_0001.JPG")

    # then it is stored as a JPEG with none of that metadata left
    stored = stored_bytes(attachment)
    reopened = Image.open(io.BytesIO(stored))
    assert attachment.kind == "jpeg"
    assert reopened.format == "JPEG"
    assert reopened.size == (64, 32)
    assert dict(reopened.getexif()) == {}
    assert "exif" not in reopened.info
    assert "icc_profile" not in reopened.info
    assert "xmp" not in reopened.info
    assert b"Exif\x00\x00" not in stored
    assert b"GPS" not in stored
    assert b"PhoneMaker" not in stored
    assert attachment.size == len(stored)
    assert attachment.sha256 == hashlib.sha256(stored).hexdigest()
    assert files_under(media_root) == [media_root / attachment.storage_name]


def test_png_text_icc_and_xmp_chunks_are_dropped() -> None:
    # given a PNG with a text comment, XMP and an ICC profile
    original = png_bytes(metadata=True)

    # when it is uploaded
    attachment = store_upload(data=original, original_name="scan.png")

    # then only the pixels remain
    reopened = Image.open(io.BytesIO(stored_bytes(attachment)))
    assert reopened.format == "PNG"
    assert reopened.mode == "RGBA"
    assert reopened.info.keys() - {"dpi"} == set()
    assert reopened.getpixel((0, 0)) == (0, 128, 255, 200)


def test_exif_orientation_6_is_applied_to_the_pixels() -> None:
    # given a 64×32 photo whose EXIF says "rotate 90° clockwise to display"
    original = jpeg_bytes((64, 32), orientation=6)

    # when it is uploaded
    attachment = store_upload(data=original, original_name="portrait.jpg")

    # then the stored pixels are upright (32×64) and no orientation tag is left to apply twice
    reopened = Image.open(io.BytesIO(stored_bytes(attachment)))
    assert reopened.size == (32, 64)
    assert ORIENTATION not in reopened.getexif()


def test_png_named_pdf_is_stored_as_png(media_root: Path) -> None:
    # given a PNG whose name claims it is a PDF
    # when it is uploaded
    attachment = store_upload(data=png_bytes(), original_name="report.pdf")

    # then the content decides
    assert attachment.kind == "png"
    assert attachment.storage_name.endswith(".png")
    assert content_type_of(attachment) == "image/png"
    assert Image.open(media_root / attachment.storage_name).format == "PNG"


def test_text_file_named_jpg_is_refused_and_nothing_is_written(media_root: Path) -> None:
    # given a text file named like a photo, sent with an image content type
    upload = SimpleUploadedFile("photo.jpg", b"just some text\n", content_type="image/jpeg")

    # when it is uploaded
    error = refused(upload, "photo.jpg")

    # then it is refused, and no row and no file exist
    assert error.code == "attachment_type"
    assert error.details == {"reason": "unrecognized", "accepted": ["jpeg", "png", "pdf"]}
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


def test_a_full_disk_is_a_clear_507_and_leaves_no_file_behind(monkeypatch, media_root) -> None:
    # given a disk that fills up while the file is written (the kernel's answer, ENOSPC, at
    # the flush to disk: the temporary file already exists then)
    def no_space(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(attachments.os, "fsync", no_space)

    # when a valid PDF is uploaded
    error = refused(MINIMAL_PDF, "letter.pdf")

    # then it is refused as storage_full (507), and no row, no temporary file remain
    assert (error.code, error.status) == ("storage_full", 507)
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


def test_another_write_error_is_not_mistaken_for_a_full_disk(monkeypatch, media_root) -> None:
    def broken(descriptor: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(attachments.os, "fsync", broken)
    with pytest.raises(OSError, match="Input/output"):
        store_upload(data=MINIMAL_PDF, original_name="letter.pdf")
    assert files_under(media_root) == []


def test_truncated_jpeg_is_refused_as_corrupt(media_root: Path) -> None:
    # given a JPEG cut off half way (its header is intact)
    whole = jpeg_bytes((128, 128), noisy=True)
    truncated = whole[: len(whole) // 2]

    # when it is uploaded
    error = refused(truncated, "cut.jpg")

    # then it is refused as damaged, and nothing is written
    assert error.code == "attachment_corrupt"
    assert error.details == {"reason": "image"}
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


def test_png_magic_followed_by_garbage_is_refused_as_corrupt() -> None:
    # given the PNG signature followed by junk
    # when it is uploaded
    error = refused(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20, "x.png")

    # then it is refused as damaged
    assert error.code == "attachment_corrupt"
    assert Attachment.objects.count() == 0


def test_image_over_the_pixel_limit_is_refused_before_decoding(monkeypatch, media_root) -> None:
    # given a pixel limit of 1,000 and a small file of 50×50 = 2,500 pixels
    monkeypatch.setattr(attachments, "MAX_IMAGE_PIXELS", 1_000)

    # when it is uploaded
    error = refused(png_bytes((50, 50)), "bomb.png")

    # then it is refused as too large, and nothing is written
    assert error.code == "attachment_too_large"
    assert error.details == {"max_pixels": 1_000}
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


# ---------------------------------------------------------------- size


def test_oversized_file_is_refused_and_nothing_is_written(settings, media_root: Path) -> None:
    # given a limit of 100 bytes and a 101-byte PDF-looking file
    settings.MINSHENG_ATTACHMENT_MAX_BYTES = 100
    data = b"%PDF-" + b"x" * 96

    # when it is uploaded
    error = refused(data, "big.pdf")

    # then it is refused with the limit, and nothing is written
    assert error.code == "attachment_too_large"
    assert error.details == {"max_bytes": 100}
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


def test_oversized_stream_is_read_no_further_than_limit_plus_one(settings) -> None:
    # given a limit of 1,000 bytes and a 1 MB stream that does not say how large it is
    settings.MINSHENG_ATTACHMENT_MAX_BYTES = 1_000
    source = io.BytesIO(b"%PDF-" + b"x" * 1_000_000)

    # when it is uploaded
    error = refused(source, "huge.pdf")

    # then it is refused after reading only 1,001 bytes
    assert error.code == "attachment_too_large"
    assert source.tell() == 1_001
    assert Attachment.objects.count() == 0


def test_uploaded_file_declaring_a_size_over_the_limit_is_refused_unread(settings) -> None:
    # given a limit of 10 bytes and a Django upload of 11
    settings.MINSHENG_ATTACHMENT_MAX_BYTES = 10
    upload = SimpleUploadedFile("a.pdf", b"%PDF-123456", content_type="application/pdf")

    # when it is uploaded
    error = refused(upload, "a.pdf")

    # then it is refused as too large
    assert error.code == "attachment_too_large"
    assert error.details == {"max_bytes": 10}


def test_empty_file_is_refused(media_root: Path) -> None:
    # given an empty upload
    upload = SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg")

    # when it is uploaded
    error = refused(upload, "empty.jpg")

    # then it is refused, and nothing is written
    assert error.code == "attachment_corrupt"
    assert error.details == {"reason": "empty"}
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


# ---------------------------------------------------------------- PDF


def test_minimal_pdf_is_accepted_byte_for_byte(media_root: Path) -> None:
    # given a valid one-page PDF sent as a Django upload with a misleading content type
    upload = SimpleUploadedFile("申请书.pdf", MINIMAL_PDF, content_type="image/png")

    # when it is uploaded
    attachment = store_upload(data=upload, original_name="申请书.pdf")

    # then it is stored unchanged as a PDF
    assert attachment.kind == "pdf"
    assert content_type_of(attachment) == "application/pdf"
    assert stored_bytes(attachment) == MINIMAL_PDF
    assert attachment.size == len(MINIMAL_PDF)
    assert attachment.sha256 == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert attachment.original_name == "申请书.pdf"


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (b"<< /S /JavaScript /JS (app.alert(1)) >>", "pdf_javascript"),
        (b"<< /S /Java#53cript /J#53 (app.alert(1)) >>", "pdf_javascript"),
        (b"<< /S /Launch /F (cmd.exe) >>", "pdf_launch"),
        (b"<< /Type /EmbeddedFile >>", "pdf_embedded_file"),
    ],
    ids=["javascript", "hex-escaped-javascript", "launch", "embedded-file"],
)
def test_pdf_with_active_content_is_refused(action: bytes, reason: str, media_root) -> None:
    # given a PDF that opens with an action or carries a file
    data = pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        action,
    )

    # when it is uploaded
    error = refused(data, "invoice.pdf")

    # then it is refused, with the reason, and nothing is written
    assert error.code == "attachment_type"
    assert error.details == {"reason": reason}
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


def test_pdf_with_javascript_inside_a_compressed_object_stream_is_refused() -> None:
    # given a PDF whose action dictionary is hidden in a Flate-compressed object stream
    hidden = zlib.compress(b"4 0 << /S /JavaScript /JS (app.alert(1)) >>")
    data = pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        stream(hidden, b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode"),
    )
    assert b"JavaScript" not in data

    # when it is uploaded
    error = refused(data, "hidden.pdf")

    # then it is refused all the same
    assert error.code == "attachment_type"
    assert error.details == {"reason": "pdf_javascript"}


def test_pdf_without_end_of_file_marker_is_refused_as_corrupt() -> None:
    # given a PDF cut off before its %%EOF
    # when it is uploaded
    error = refused(MINIMAL_PDF[:-20], "cut.pdf")

    # then it is refused as damaged
    assert error.code == "attachment_corrupt"
    assert error.details == {"reason": "pdf_truncated"}
    assert Attachment.objects.count() == 0


# ---------------------------------------------------------------- storage


def test_stored_file_is_private_and_filed_by_month(media_root: Path) -> None:
    # given an upload on 9 March 2025
    with replaying(datetime(2025, 3, 9, 8, 30, tzinfo=UTC)):
        # when it is stored
        attachment = store_upload(data=MINIMAL_PDF, original_name="a.pdf")

    # then it sits under 2025/03 with mode 0640 and no temporary file beside it
    path = media_root / attachment.storage_name
    assert re.fullmatch(r"2025/03/[0-9a-f]{32}\.pdf", attachment.storage_name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert files_under(media_root) == [path]
    assert attachment.uploaded_at == datetime(2025, 3, 9, 8, 30, tzinfo=UTC)
    assert len(attachment.upload_token) == 22


def test_same_bytes_uploaded_twice_get_different_storage_names_and_tokens() -> None:
    # given the same PDF uploaded twice
    first = store_upload(data=MINIMAL_PDF, original_name="a.pdf")
    second = store_upload(data=MINIMAL_PDF, original_name="a.pdf")

    # then each has its own file and token, with the same checksum
    assert first.storage_name != second.storage_name
    assert first.upload_token != second.upload_token
    assert first.sha256 == second.sha256


def test_storage_name_is_not_derived_from_the_original_name() -> None:
    # given an upload with a telling name
    # when it is stored
    attachment = store_upload(data=png_bytes(), original_name="王小明_身份证.png")

    # then the storage name is random hex, and the original name is kept only for display
    assert re.fullmatch(r"\d{4}/\d{2}/[0-9a-f]{32}\.png", attachment.storage_name)
    assert "王小明" not in attachment.storage_name
    assert attachment.original_name == "王小明_身份证.png"


def test_original_name_is_reduced_to_a_clean_basename() -> None:
    # given a name with folders, a control character, a direction override and 300 characters
    name = "..\\..\\etc/secret/ph\x00oto\u202egpj." + "x" * 300

    # when it is stored
    attachment = store_upload(data=MINIMAL_PDF, original_name=name)

    # then only the basename is kept, cleaned, at most 200 characters
    assert attachment.original_name == ("photogpj." + "x" * 300)[:200]
    assert len(attachment.original_name) == 200


# ---------------------------------------------------------------- stale uploads


def test_delete_stale_uploads_removes_only_old_unlinked_uploads(media_root: Path) -> None:
    # given an old unlinked upload, an old linked one and a recent unlinked one
    with replaying(datetime(2025, 3, 1, tzinfo=UTC)):
        stale = store_upload(data=MINIMAL_PDF, original_name="stale.pdf")
        linked = store_upload(data=MINIMAL_PDF, original_name="linked.pdf")
    linked.appeal = make_appeal()
    linked.save(update_fields=["appeal"])
    with replaying(datetime(2025, 3, 2, 12, tzinfo=UTC)):
        recent = store_upload(data=MINIMAL_PDF, original_name="recent.pdf")

    # when uploads older than a day are swept on 3 March
    with replaying(datetime(2025, 3, 3, tzinfo=UTC)):
        deleted = delete_stale_uploads(timedelta(days=1))

    # then only the stale upload and its file are gone
    assert deleted == 1
    assert set(Attachment.objects.values_list("pk", flat=True)) == {linked.pk, recent.pk}
    assert files_under(media_root) == sorted(
        [media_root / linked.storage_name, media_root / recent.storage_name]
    )
    assert not (media_root / stale.storage_name).exists()
