"""Hostile uploads through the portal form and the API: polyglots, decompression bombs, huge or
many-paged PDFs, SVG with script, hostile file names.

Each is refused with a 4xx and its stable error code, leaving no appeal and no file in
MEDIA_ROOT, or (a polyglot image) stored only as the re-encoded image and served with its own
image type and ``nosniff``.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from minsheng.appeals.models import Appeal, Attachment
from tests.appeals.test_attachments import (
    MINIMAL_PDF,
    files_under,
    jpeg_bytes,
    pdf_bytes,
    png_bytes,
    stored_bytes,
    stream,
)
from tests.conftest import World

pytestmark = pytest.mark.django_db

PHONE = "13900004321"
SCRIPT = b"<html><body><script>alert(document.domain)</script></body></html>"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    cache.clear()  # upload rate limit
    return tmp_path


# ---------------------------------------------------------------- hostile files


def a_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("evil/Main.class", b"\xca\xfe\xba\xbe" + b"\x00" * 32)
        archive.writestr("index.html", SCRIPT)
    return out.getvalue()


def jpeg_html_zip_polyglot() -> bytes:
    """A JPEG with HTML in a comment segment, then HTML and a ZIP after its end marker."""
    jpeg = jpeg_bytes((32, 16))
    comment = b"\xff\xfe" + struct.pack(">H", len(SCRIPT) + 2) + SCRIPT
    return jpeg[:2] + comment + jpeg[2:] + SCRIPT + a_zip()


def png_zip_polyglot() -> bytes:
    """A PNG whose text chunk is HTML, with a ZIP appended: PNG viewers and unzip both open it."""
    png = png_bytes((20, 10))
    body = b"Comment\x00" + SCRIPT
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return png[:33] + chunk + png[33:] + a_zip()  # after the signature and IHDR


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A few hundred bytes declaring 3.6 gigapixels (one row of zeros compressed)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    pixels = zlib.compress(b"\x00" * (width // 8 + 1) * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


def jpeg_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A small JPEG whose frame header is edited to claim huge dimensions."""
    data = bytearray(jpeg_bytes((16, 16)))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def pdf_zip_polyglot() -> bytes:
    """A valid PDF carrying a ZIP archive in a stream: unzip finds its directory near the end."""
    return pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        stream(a_zip()),
    )


def pdf_html_polyglot() -> bytes:
    """A PDF whose first line break is followed by an HTML page, for a content sniffer."""
    return MINIMAL_PDF.replace(b"\n", b"\n" + SCRIPT + b"\n", 1)


def pdf_with_pages(count: int) -> bytes:
    kids = b" ".join(b"%d 0 R" % (3 + n) for n in range(count))
    pages = [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * count
    return pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        *pages,
    )


def pdf_stream_bomb() -> bytes:
    """A 65 KB Flate stream that inflates to 65 MB, then JavaScript the scan must not skip."""
    bomb = zlib.compress(b"\x00" * (65 * 1024 * 1024), 9)
    hidden = zlib.compress(b"4 0 << /S /JavaScript /JS (app.alert(1)) >>")
    return pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        stream(bomb, b"/Filter /FlateDecode"),
        stream(hidden, b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode"),
    )


def pdf_hidden_javascript(encode: Callable[[bytes], bytes], filters: bytes) -> bytes:
    hidden = encode(b"4 0 << /S /JavaScript /JS (app.alert(1)) >>")
    return pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        stream(hidden, b"/Type /ObjStm /N 1 /First 4 /Filter " + filters),
    )


def pdf_with_xfa() -> bytes:
    return pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /XFA 3 0 R >> >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
        stream(
            zlib.compress(b"<xdp:xdp><template><script>app.alert(1)</script></template></xdp:xdp>"),
            b"/Filter /FlateDecode",
        ),
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(2)</script></svg>"
)

# name → (bytes, file name, status, error code, details the refusal carries)
REFUSED: dict[str, tuple[Callable[[], bytes], str, int, str, dict[str, Any]]] = {
    "png_bomb": (png_bomb, "bomb.png", 413, "attachment_too_large", {"max_pixels": 40_000_000}),
    "png_bomb_under_pillow_limit": (
        lambda: png_bomb(8000, 8000),
        "bomb.png",
        413,
        "attachment_too_large",
        {"max_pixels": 40_000_000},
    ),
    "jpeg_bomb": (jpeg_bomb, "bomb.jpg", 413, "attachment_too_large", {"max_pixels": 40_000_000}),
    "pdf_zip_polyglot": (
        pdf_zip_polyglot,
        "letter.pdf",
        415,
        "attachment_type",
        {"reason": "pdf_polyglot"},
    ),
    "pdf_html_polyglot": (
        pdf_html_polyglot,
        "letter.pdf",
        415,
        "attachment_type",
        {"reason": "pdf_polyglot"},
    ),
    "pdf_thousands_of_pages": (
        lambda: pdf_with_pages(2000),
        "scan.pdf",
        413,
        "attachment_too_large",
        {"reason": "pdf_pages", "max_pages": 500},
    ),
    "pdf_stream_bomb": (
        pdf_stream_bomb,
        "scan.pdf",
        413,
        "attachment_too_large",
        {"reason": "pdf_streams", "max_inflated_bytes": 64 * 1024 * 1024},
    ),
    "pdf_js_in_hex_object_stream": (
        lambda: pdf_hidden_javascript(lambda b: b.hex().encode() + b">", b"/ASCIIHexDecode"),
        "form.pdf",
        415,
        "attachment_type",
        {"reason": "pdf_javascript"},
    ),
    "pdf_js_in_flate_over_flate": (
        lambda: pdf_hidden_javascript(
            lambda b: zlib.compress(zlib.compress(b)), b"[/FlateDecode /FlateDecode]"
        ),
        "form.pdf",
        415,
        "attachment_type",
        {"reason": "pdf_javascript"},
    ),
    "pdf_xfa_form": (
        pdf_with_xfa,
        "form.pdf",
        415,
        "attachment_type",
        {"reason": "pdf_javascript"},
    ),
    "svg_with_script": (
        lambda: SVG,
        "photo.svg",
        415,
        "attachment_type",
        {"reason": "unrecognized", "accepted": ["jpeg", "png", "pdf"]},
    ),
    "html_named_jpg": (
        lambda: SCRIPT,
        "photo.jpg",
        415,
        "attachment_type",
        {"reason": "unrecognized", "accepted": ["jpeg", "png", "pdf"]},
    ),
}


# ---------------------------------------------------------------- channels


def api_upload(data: bytes, name: str, content_type: str = "image/jpeg") -> Any:
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return Client().post("/api/v1/public/uploads", {"file": upload})


def portal_submit(world: World, data: bytes, name: str) -> Any:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = client.get("/appeal/new/")
    form = {
        "submission_key": page.context["form"]["submission_key"].value(),
        "appeal_type": "complaint",
        "place": str(world.village.pk),
        "text": "村口道路塌陷。",
        "phone": PHONE,
        "photos": SimpleUploadedFile(name, data, content_type="image/jpeg"),
    }
    return client.post("/appeal/new/", form)


def submit_with(token: str) -> Appeal:
    body = {"appeal_type": "complaint", "content": "附图", "phone": PHONE, "uploads": [token]}
    response = Client().post("/api/v1/public/appeals", body, content_type="application/json")
    assert response.status_code == 201
    return Appeal.objects.get(pk=response.json()["id"])


def download(world: World, appeal: Appeal, attachment: Attachment) -> Any:
    staff = Client()
    staff.force_login(world["center_admin"])
    return staff.get(f"/api/v1/appeals/{appeal.pk}/attachments/{attachment.pk}")


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_hostile_file_is_refused_by_the_api_with_its_code_and_leaves_nothing(
    media_root: Path, case: str
) -> None:
    build, name, status, code, details = REFUSED[case]

    # When the file is uploaded through the API
    response = api_upload(build(), name)

    # Then it is refused with the stable code and its details, and nothing is kept
    assert response.status_code == status
    assert (response.json()["code"], response.json()["details"]) == (code, details)
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_hostile_file_is_refused_by_the_portal_form_and_leaves_nothing(
    world: World, media_root: Path, case: str
) -> None:
    build, name, _status, _code, _details = REFUSED[case]

    # When a citizen sends the form with the file
    response = portal_submit(world, build(), name)

    # Then the form comes back with the file's problem, and no appeal, row or file exists
    assert response.status_code == 422
    assert len(response.context["uploads"].errors) == 1
    assert response.context["uploads"].errors[0].startswith(f"{name}: ")
    assert Appeal.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert files_under(media_root) == []


def test_pdf_over_the_byte_limit_is_refused_by_both_channels(
    world: World, settings: Any, media_root: Path
) -> None:
    # Given a limit of 64 KB and a valid PDF one byte over it
    settings.MINSHENG_ATTACHMENT_MAX_BYTES = 64 * 1024
    padding = b"%" + b"x" * (64 * 1024 - len(MINIMAL_PDF) - 1) + b"\n"
    big = MINIMAL_PDF.replace(b"xref\n", padding + b"xref\n", 1)
    assert len(big) == 64 * 1024 + 1

    # When it is sent to the API and through the portal
    api = api_upload(big, "big.pdf", "application/pdf")
    portal = portal_submit(world, big, "big.pdf")

    # Then both refuse it as too large and nothing is kept
    assert api.status_code == 413
    assert api.json()["code"] == "attachment_too_large"
    assert api.json()["details"] == {"max_bytes": 64 * 1024}
    assert portal.status_code == 422
    assert portal.context["uploads"].errors == ["big.pdf: The file is too large."]
    assert (Appeal.objects.count(), Attachment.objects.count()) == (0, 0)
    assert files_under(media_root) == []


def test_pdf_with_a_few_hundred_pages_is_accepted(media_root: Path) -> None:
    # A long but plausible document stays under the page limit
    response = api_upload(pdf_with_pages(300), "scan.pdf", "application/pdf")

    assert response.status_code == 201
    assert response.json()["kind"] == "pdf"


def test_scanned_pdf_whose_image_inflates_past_the_budget_is_accepted(media_root: Path) -> None:
    # Given a scan: one Flate-compressed page image of 70 MB of pixels (the scan's budget is 64)
    pixels = zlib.compress(b"\xff" * (70 * 1024 * 1024), 9)
    scan = pdf_bytes(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources "
        b"<< /XObject << /Im1 4 0 R >> >> >>",
        stream(
            pixels,
            b"/Type /XObject /Subtype /Image /Width 8192 /Height 2987 /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode",
        ),
    )

    # When it is uploaded, then it is accepted: image pixels are not inflated by the scan
    response = api_upload(scan, "scan.pdf", "application/pdf")
    assert response.status_code == 201
    assert response.json()["kind"] == "pdf"


# ---------------------------------------------------------------- polyglot images: re-encoded


@pytest.mark.parametrize(
    ("build", "kind", "content_type"),
    [(jpeg_html_zip_polyglot, "jpeg", "image/jpeg"), (png_zip_polyglot, "png", "image/png")],
    ids=["jpeg_html_zip", "png_html_zip"],
)
def test_polyglot_image_is_stored_only_as_its_reencoded_pixels_and_served_safely(
    world: World, media_root: Path, build: Callable[[], bytes], kind: str, content_type: str
) -> None:
    # Given an image that is also an HTML page and a ZIP archive
    polyglot = build()
    assert zipfile.is_zipfile(io.BytesIO(polyglot)) and SCRIPT in polyglot
    with Image.open(io.BytesIO(polyglot)) as original:
        original_pixels = original.convert("RGB").tobytes()

    # When it is uploaded through the API and attached to an appeal
    response = api_upload(polyglot, f"photo.{kind}")
    assert response.status_code == 201
    appeal = submit_with(response.json()["upload_token"])
    attachment = appeal.attachments.get()

    # Then only the re-encoded image is on disk: no HTML, no ZIP, the same picture
    stored = stored_bytes(attachment)
    assert stored != polyglot
    assert b"<script" not in stored and b"<html" not in stored
    assert b"PK\x03\x04" not in stored and not zipfile.is_zipfile(io.BytesIO(stored))
    assert files_under(media_root) == [media_root / attachment.storage_name]
    with Image.open(io.BytesIO(stored)) as clean:
        assert clean.format == kind.upper()
        if kind == "png":  # lossless: the very same pixels
            assert clean.convert("RGB").tobytes() == original_pixels
    # And it is served as that image type, never sniffed as anything else
    served = download(world, appeal, attachment)
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Cache-Control"] == "private, no-store"
    # Shown in the staff's browser (a photo), under its cleaned name: it can only be an image
    assert served["Content-Disposition"] == f'inline; filename="photo.{kind}"'
    assert b"".join(served.streaming_content) == stored


def test_polyglot_image_through_the_portal_is_stored_reencoded(
    world: World, media_root: Path
) -> None:
    # When a citizen attaches a JPEG/HTML/ZIP polyglot to the portal form
    response = portal_submit(world, jpeg_html_zip_polyglot(), "photo.jpg")

    # Then the appeal is made and its photo is a plain JPEG
    assert response.status_code == 302
    attachment = Appeal.objects.get().attachments.get()
    stored = stored_bytes(attachment)
    assert stored.startswith(b"\xff\xd8\xff") and stored.endswith(b"\xff\xd9")
    assert SCRIPT not in stored and not zipfile.is_zipfile(io.BytesIO(stored))


def test_pdf_is_served_as_a_download_never_inline(world: World) -> None:
    response = api_upload(MINIMAL_PDF, "申请书.pdf", "application/pdf")
    appeal = submit_with(response.json()["upload_token"])

    served = download(world, appeal, appeal.attachments.get())

    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"].startswith("attachment;")
    assert served["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------------------------------- hostile names


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../../etc/passwd.png", "passwd.png"),
        ("..\\..\\boot.ini.png", "boot.ini.png"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("zero\u200bwidth\ufeff.png", "zerowidth.png"),
        ("tab\tand\x1bescape.png", "tabandescape.png"),
        ('"><img src=x onerror=alert(1)>.png', '"><img src=x onerror=alert(1)>.png'),
    ],
    ids=["dot_dot_slash", "backslashes", "rtl_override", "zero_width", "controls", "html"],
)
def test_hostile_file_name_is_cleaned_and_never_reaches_the_disk(
    world: World, media_root: Path, name: str, kept: str
) -> None:
    # When a valid PNG arrives under a hostile name
    response = api_upload(png_bytes(), name, "image/png")

    # Then it is stored under a random name inside MEDIA_ROOT, the display name cleaned
    assert response.status_code == 201
    attachment = Attachment.objects.get()
    assert attachment.original_name == kept
    assert files_under(media_root) == [media_root / attachment.storage_name]
    assert kept not in attachment.storage_name
    # And the download names it safely (quoted, or RFC 5987 encoded)
    appeal = submit_with(attachment.upload_token)
    disposition = download(world, appeal, appeal.attachments.get())["Content-Disposition"]
    assert "\n" not in disposition and "\r" not in disposition and "/" not in disposition


def test_nul_in_a_file_name_through_the_portal_is_dropped(world: World, media_root: Path) -> None:
    response = portal_submit(world, png_bytes(), "a\x00b.png")

    assert response.status_code == 302
    assert Appeal.objects.get().attachments.get().original_name == "ab.png"
