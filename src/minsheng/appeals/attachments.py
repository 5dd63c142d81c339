"""Attachment intake and storage: JPEG, PNG and PDF, recognised by content, stored privately.

A file's name and the content type a client sends are claims; only the bytes decide. Images are
decoded and re-encoded from their pixels alone, so EXIF (camera, time, GPS), XMP, ICC profiles
and text chunks never leave the citizen's phone for our disk (nor whatever else a polyglot image
carries: HTML, a ZIP). PDFs are checked at the byte level for active content (scripts, launch
actions, embedded files), which staff would otherwise open, for being another kind of file too
(a ZIP, HTML) and for bombs (thousands of pages, streams that inflate without end).

Files live under ``MEDIA_ROOT/<yyyy>/<mm>/<32 random hex>.<ext>``: the name says nothing about
the citizen or the file, and cannot be guessed to fetch someone else's upload.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import io
import os
import re
import secrets
import tempfile
import unicodedata
import zipfile
import zlib
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.db import transaction
from PIL import Image, ImageOps

from minsheng.core import clock
from minsheng.core.errors import DomainError

from .errors import AppealError
from .models import Attachment

KINDS = ("jpeg", "png", "pdf")
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "pdf": "application/pdf"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "pdf": "pdf"}

# A 40-megapixel photo is larger than any phone sends by default; beyond it, decoding alone
# could take gigabytes of memory (a "decompression bomb" is a small file of huge dimensions).
MAX_IMAGE_PIXELS = 40_000_000
JPEG_QUALITY = 85
ORIGINAL_NAME_MAX = 200
FILE_MODE = 0o640
DIRECTORY_MODE = 0o750

_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"%PDF-", "pdf"),
)
# Pillow's names for what we accept; phones write multi-picture JPEGs (MPO) for portrait shots.
_PILLOW_FORMATS = {"jpeg": {"JPEG", "MPO"}, "png": {"PNG"}}
# The pixel modes each encoder writes as they are; anything else is converted first.
_KEEP_MODES = {"jpeg": {"L", "RGB"}, "png": {"1", "L", "LA", "RGB", "RGBA", "I", "I;16", "P"}}

# PDF names that make a viewer run code, start programs or carry other files; refused.
_PDF_FORBIDDEN_NAMES = {
    b"JavaScript": "pdf_javascript",
    b"JS": "pdf_javascript",
    b"Launch": "pdf_launch",
    b"EmbeddedFile": "pdf_embedded_file",
    b"EmbeddedFiles": "pdf_embedded_file",
    # XFA forms carry their own scripts; rich media (Flash, 3D) and "go to embedded" open
    # content inside the file; none belongs in a citizen's letter or a scanned form.
    b"XFA": "pdf_javascript",
    b"RichMedia": "pdf_embedded_file",
    b"GoToE": "pdf_embedded_file",
}
# A PDF name: "/" then regular characters; "#hh" escapes let "/Java#53cript" spell JavaScript.
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()%{}\x00]+)")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")
# Writers put %%EOF at the very end, give or take line ends and a little trailing garbage.
_PDF_EOF_WINDOW = 1024
# Compressed streams (object streams hide dictionaries there) are inflated for the scan, up to
# this many bytes in all, so a zip bomb inside a PDF costs bounded time and memory.
_PDF_INFLATE_BUDGET = 64 * 1024 * 1024
# Streams inside streams (Flate over hex, Flate over Flate) are unwrapped this deep; a viewer
# decodes any chain of filters, so the scan must see what is under each of them.
_PDF_DECODE_DEPTH = 4
# A letter, a form, a scanned document: a few hundred pages at the very most. Thousands of
# pages in a few megabytes only make the staff's viewer crawl.
MAX_PDF_PAGES = 500
# What browsers and old content sniffers take for HTML near the start of a file.
_HTML_MARKERS = re.compile(
    rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|img|meta|object|embed)", re.I
)
_SNIFF_WINDOW = 1024
_HEX_STREAM = re.compile(rb"[0-9A-Fa-f\s]+>?")

_READ_CHUNK = 64 * 1024
# A full disk or an exhausted quota: the citizen can only try again later (507, not a 500).
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def store_upload(
    *, data: bytes | _Readable, original_name: str, uploaded_by: Any = None
) -> Attachment:
    """Check an uploaded file by its content and store it; the caller names its token later.

    Raises ``DomainError`` with ``ATTACHMENT_TOO_LARGE`` (over the byte, pixel, PDF page or
    PDF stream limit), ``ATTACHMENT_TYPE`` (not JPEG, PNG or PDF, or a PDF with active content
    or that is also a ZIP or HTML) or
    ``ATTACHMENT_CORRUPT`` (empty, or damaged); a refused file leaves no row and no file behind.
    """
    max_bytes: int = settings.MINSHENG_ATTACHMENT_MAX_BYTES
    raw = _read_limited(data, max_bytes)
    if not raw:
        raise DomainError(AppealError.ATTACHMENT_CORRUPT, details={"reason": "empty"})
    kind = detect_kind(raw)
    if kind is None:
        raise DomainError(
            AppealError.ATTACHMENT_TYPE,
            details={"reason": "unrecognized", "accepted": list(KINDS)},
        )
    if kind == "pdf":
        _check_pdf(raw)
        stored = raw
    else:
        stored = _reencode_image(raw, kind)

    at = clock.now()
    storage_name = f"{at:%Y}/{at:%m}/{secrets.token_hex(16)}.{EXTENSIONS[kind]}"
    path = _path_of(storage_name)
    try:
        _write_atomically(path, stored)
    except OSError as exc:
        if exc.errno in _DISK_FULL:  # the temporary file is gone: nothing was stored
            raise DomainError(AppealError.STORAGE_FULL) from exc
        raise
    try:
        return Attachment.objects.create(
            upload_token=secrets.token_urlsafe(16),
            kind=kind,
            size=len(stored),
            sha256=hashlib.sha256(stored).hexdigest(),
            storage_name=storage_name,
            original_name=sanitize_original_name(original_name),
            uploaded_at=at,
            uploaded_by=uploaded_by,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def open_attachment(attachment: Attachment) -> IO[bytes]:
    """The stored file, opened for binary reading; the caller closes it."""
    return _path_of(attachment.storage_name).open("rb")


def content_type_of(attachment: Attachment) -> str:
    """The MIME type to serve the stored file with (from its checked kind, never the client)."""
    return CONTENT_TYPES[attachment.kind]


def delete_stale_uploads(older_than: timedelta) -> int:
    """Delete uploads never named by a submission and older than ``older_than``; with files.

    Run it outside a transaction (a periodic task): each batch commits before its files go.
    Rows a submission is attaching at this moment are locked and skipped, so an upload is
    never deleted from under the appeal it is joining.
    """
    cutoff = clock.now() - older_than
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                Attachment.objects.select_for_update(skip_locked=True)
                .filter(appeal__isnull=True, uploaded_at__lt=cutoff)
                .order_by("pk")
                .values_list("pk", "storage_name")[:500]
            )
            if not batch:
                return deleted
            Attachment.objects.filter(pk__in=[pk for pk, _ in batch], appeal__isnull=True).delete()
        for _, storage_name in batch:
            _path_of(storage_name).unlink(missing_ok=True)
        deleted += len(batch)


def detect_kind(raw: bytes) -> str | None:
    """``"jpeg"``, ``"png"`` or ``"pdf"`` from the leading bytes; ``None`` for anything else."""
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    return None


def sanitize_original_name(name: str) -> str:
    """The file's own name for display: no folders, no control or direction-changing characters.

    Format characters (Cf) go too: U+202E would show "photo<RLO>gpj.exe" as "photoexe.jpg".
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf"))
    return name.strip()[:ORIGINAL_NAME_MAX]


# ---------------------------------------------------------------- reading


def _read_limited(data: bytes | _Readable, max_bytes: int) -> bytes:
    """The file's bytes, reading at most ``max_bytes + 1``: enough to know it is too large."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data[: max_bytes + 1])
    else:
        declared = getattr(data, "size", None)  # Django's UploadedFile knows its size
        if isinstance(declared, int) and declared > max_bytes:
            raise _too_large(max_bytes)
        seekable = getattr(data, "seekable", None)
        if callable(seekable) and seekable():
            data.seek(0)  # type: ignore[union-attr]  # an UploadedFile may have been read
        buffer = bytearray()
        while len(buffer) <= max_bytes:
            chunk = data.read(min(_READ_CHUNK, max_bytes + 1 - len(buffer)))
            if not chunk:
                break
            buffer += chunk
        raw = bytes(buffer)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    return raw


def _too_large(max_bytes: int) -> DomainError:
    return DomainError(AppealError.ATTACHMENT_TOO_LARGE, details={"max_bytes": max_bytes})


# ---------------------------------------------------------------- images


def _reencode_image(raw: bytes, kind: str) -> bytes:
    """The image's pixels, upright, in a fresh file of the same kind with no metadata at all."""
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            if probe.format not in _PILLOW_FORMATS[kind]:
                raise _Corrupt
            _check_pixels(probe.size)
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            clean, save_options = _without_metadata(_upright(image), kind)
    except Image.DecompressionBombError as exc:
        raise DomainError(
            AppealError.ATTACHMENT_TOO_LARGE, details={"max_pixels": MAX_IMAGE_PIXELS}
        ) from exc
    except DomainError:
        raise
    # Pillow reports damaged input with many exception types (OSError, SyntaxError,
    # ValueError, struct.error, …); whatever a decoder raises, the file cannot be used.
    except Exception as exc:
        raise DomainError(AppealError.ATTACHMENT_CORRUPT, details={"reason": "image"}) from exc

    out = io.BytesIO()
    if kind == "jpeg":
        clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **save_options)
    else:
        clean.save(out, "PNG", optimize=True, **save_options)
    return out.getvalue()


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as it is if that EXIF cannot be read.

    Phones write odd EXIF now and then; the pixels decoded fine, so a photo is not refused
    for its metadata, which is dropped anyway.
    """
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image


class _Corrupt(Exception):
    """The decoder opened the file as something other than its magic bytes claimed."""


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _Corrupt
    if width * height > MAX_IMAGE_PIXELS:
        raise DomainError(
            AppealError.ATTACHMENT_TOO_LARGE, details={"max_pixels": MAX_IMAGE_PIXELS}
        )


def _without_metadata(image: Image.Image, kind: str) -> tuple[Image.Image, dict[str, Any]]:
    """A new image holding only the pixels (and a palette); ``info`` of the source is dropped.

    Copying or converting keeps ``info``, and Pillow's PNG encoder writes ``info["icc_profile"]``
    back out on its own; a blank image with the pixels pasted in carries nothing.
    """
    save_options: dict[str, Any] = {}
    if image.mode not in _KEEP_MODES[kind]:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if kind == "png" and has_alpha else "RGB")
    elif image.mode == "P" and "transparency" in image.info:
        save_options["transparency"] = image.info["transparency"]
    clean = Image.new(image.mode, image.size)
    if image.mode == "P":
        palette = image.getpalette()
        if palette is not None:
            clean.putpalette(palette)
    clean.paste(image)
    return clean, save_options


# ---------------------------------------------------------------- PDF


def _check_pdf(raw: bytes) -> None:
    """Refuse a PDF that is cut short, carries active content, is also another kind of file
    (a ZIP, or HTML a sniffer would render), has thousands of pages or streams that inflate
    beyond the scan's budget; byte-level, no PDF parser."""
    if b"%%EOF" not in raw[-_PDF_EOF_WINDOW:]:
        raise DomainError(AppealError.ATTACHMENT_CORRUPT, details={"reason": "pdf_truncated"})
    # A PDF that is also a ZIP (a JAR, an Office file) or starts like HTML is a polyglot: what
    # it does depends on which program opens it.
    if _HTML_MARKERS.search(raw[:_SNIFF_WINDOW]) or zipfile.is_zipfile(io.BytesIO(raw)):
        raise DomainError(AppealError.ATTACHMENT_TYPE, details={"reason": "pdf_polyglot"})
    names = _pdf_names(raw)
    # Encrypted strings and streams cannot be scanned, so what they hide cannot be vouched for.
    if b"Encrypt" in names:
        raise DomainError(AppealError.ATTACHMENT_TYPE, details={"reason": "pdf_encrypted"})
    names.update(_pdf_names_in_streams(raw))
    for name, reason in _PDF_FORBIDDEN_NAMES.items():
        if name in names:
            raise DomainError(AppealError.ATTACHMENT_TYPE, details={"reason": reason})
    if names[b"Page"] > MAX_PDF_PAGES:
        raise DomainError(
            AppealError.ATTACHMENT_TOO_LARGE,
            details={"reason": "pdf_pages", "max_pages": MAX_PDF_PAGES},
        )


def _pdf_names(data: bytes) -> Counter[bytes]:
    """Each PDF name in ``data`` (``#hh`` escapes decoded) with how often it occurs."""
    return Counter(
        _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        for match in _PDF_NAME.finditer(data)
    )


class _Budget:
    """Bytes the stream scan may still inflate; running out refuses the file."""

    def __init__(self, total: int) -> None:
        self.left = total

    def spend(self, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise DomainError(
                AppealError.ATTACHMENT_TOO_LARGE,
                details={"reason": "pdf_streams", "max_inflated_bytes": _PDF_INFLATE_BUDGET},
            )


def _pdf_names_in_streams(raw: bytes) -> Counter[bytes]:
    """Names inside encoded streams, where object streams keep whole dictionaries.

    Each stream is decoded as Flate, hex or ASCII85, again and again, so a chain of filters
    hides nothing; a stream that decodes as none of them (an image, a font) holds nothing a
    viewer would execute. The inflated bytes count against one budget for the whole file: a
    "zip bomb" stream is refused, never skipped (what follows it would go unscanned). Image
    pixels (most of a scanned document's bytes) are not inflated: a viewer only paints them.
    """
    names: Counter[bytes] = Counter()
    budget = _Budget(_PDF_INFLATE_BUDGET)
    for match in _PDF_STREAM.finditer(raw):
        start = match.end()
        end = raw.find(b"endstream", start)
        if end < 0:
            break
        if _is_image_stream(raw, match.start()):
            continue
        layer = raw[start:end]
        for _depth in range(_PDF_DECODE_DEPTH):
            decoded = _decode_stream(layer, budget)
            if decoded is None:
                break
            names.update(_pdf_names(decoded))
            layer = decoded
    return names


def _is_image_stream(raw: bytes, stream_at: int) -> bool:
    """Whether the dictionary before ``stream_at`` declares an image and nothing a viewer
    would read objects from (an object or cross-reference stream)."""
    opened = raw.rfind(b"obj", max(stream_at - _PDF_EOF_WINDOW * 4, 0), stream_at)
    names = _pdf_names(raw[opened:stream_at]) if opened >= 0 else Counter()
    return names[b"Image"] > 0 and not (names[b"ObjStm"] or names[b"XRef"])


def _decode_stream(data: bytes, budget: _Budget) -> bytes | None:
    """``data`` decoded by the first of Flate, hex and ASCII85 that fits; ``None`` if none."""
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, max(budget.left, 0) + 1)
    except zlib.error:
        pass
    else:
        budget.spend(len(inflated))
        return inflated
    stripped = data.strip()
    try:
        if stripped and _HEX_STREAM.fullmatch(stripped):
            digits = re.sub(rb"[\s>]", b"", stripped)
            return binascii.unhexlify(digits + b"0" * (len(digits) % 2))  # odd: a final 0
        if stripped.endswith(b"~>"):
            return base64.a85decode(stripped, adobe=True)
    except ValueError:  # binascii.Error too: not that encoding after all
        return None
    return None


# ---------------------------------------------------------------- storage


def _path_of(storage_name: str) -> Path:
    """The absolute path of a stored file; a name reaching outside MEDIA_ROOT is a bug."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / storage_name).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"storage name outside MEDIA_ROOT: {storage_name!r}")
    return path


def _write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    path.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
