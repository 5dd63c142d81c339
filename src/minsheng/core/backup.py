"""Backups: one archive with a consistent database snapshot and the attachments, and its restore.

The archive is a gzip'd tar::

    database.sqlite3 | database.pgdump   the snapshot, made by the database's own tool
    attachments/<yyyy>/<mm>/<name>       every stored file under MEDIA_ROOT
    manifest.json                        last: format, vendor, migrations, row counts, sha256s

Why these tools: SQLite's online backup API copies a consistent snapshot page by page while the
application keeps running (WAL readers never block writers); ``pg_dump`` reads a repeatable-read
snapshot, and the row counts of the manifest are taken inside the very same snapshot
(``pg_export_snapshot`` + ``pg_dump --snapshot``), so they describe exactly what was dumped.

The database is snapshotted *before* the files are copied: an attachment's file is written before
its row, so every row of the snapshot finds its file in the archive (a file without a row is a
harmless orphan). Files are never rewritten once stored (random names), so copying them while the
application runs is safe.

The archive is written under a temporary name beside its target and renamed when complete, so a
crash or a full disk never leaves a half archive that looks like a backup.

A restore reads the whole archive into a staging directory first and checks every checksum, the
format and the vendor before it touches anything; it restores only into an empty database (or,
with ``force``, replaces the current one), then verifies the audit chain and the row counts.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

FORMAT = "minsheng-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ATTACHMENTS = "attachments"
DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# The tables whose row counts the manifest records and a restore compares.
COUNTED_MODELS = (
    "org.orgunit",
    "org.user",
    "appeals.appeal",
    "appeals.appealevent",
    "appeals.attachment",
    "core.auditrecord",
    "notify.notification",
    "notify.delivery",
)
ARCHIVE_MODE = 0o600  # citizens' personal data: readable by the service account only
_CHUNK = 1024 * 1024
# What an attachment's path inside the archive may look like (attachments.py names them so).
_ATTACHMENT_NAME = re.compile(
    r"^attachments/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, in Chinese and English."""


@dataclass
class Manifest:
    vendor: str
    created_at: str
    migrations: list[str]
    counts: dict[str, int]
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def as_json(self) -> bytes:
        body = {
            "format": self.format,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "vendor": self.vendor,
            "migrations": self.migrations,
            "counts": self.counts,
            "members": self.members,
        }
        return json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
        except ValueError:
            raise _not_ours("manifest.json is not JSON") from None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise _not_ours("manifest.json does not describe a Minsheng backup")
        if body.get("format_version") != FORMAT_VERSION:
            raise BackupError(
                f"备份格式版本 {body.get('format_version')!r} 不受支持（本程序读取版本 "
                f"{FORMAT_VERSION}）。/ Backup format version {body.get('format_version')!r} "
                f"is not supported (this version reads {FORMAT_VERSION})."
            )
        try:
            return cls(
                vendor=str(body["vendor"]),
                created_at=str(body["created_at"]),
                migrations=[str(name) for name in body["migrations"]],
                counts={str(k): int(v) for k, v in body["counts"].items()},
                members={
                    str(name): {"sha256": str(info["sha256"]), "size": int(info["size"])}
                    for name, info in body["members"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _not_ours("manifest.json lacks required fields") from None


@dataclass
class RestoreReport:
    manifest: Manifest
    counts: dict[str, int]
    audit_records: int
    audit_problems: int
    missing_files: int
    pending_migrations: int


def _not_ours(reason: str) -> BackupError:
    return BackupError(
        f"这不是一个完整的民生备份文件（{reason}）。/ Not a complete Minsheng backup ({reason})."
    )


def _damaged(reason: str) -> BackupError:
    return BackupError(
        f"备份文件已损坏，未作任何更改（{reason}）。/ The backup is damaged; nothing was changed "
        f"({reason})."
    )


# ------------------------------------------------------------------------------------- backup


def create_backup(target: Path | str, *, using: str = DEFAULT_DB_ALIAS) -> tuple[Path, Manifest]:
    """Write one archive of the database and the attachments; return its path and manifest.

    ``target`` is a new file, or an existing directory (the archive is then named after the
    vendor and the time, e.g. ``minsheng-postgresql-20261127T021500Z.tar.gz``). An existing file
    is never overwritten.
    """
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in DATABASE_MEMBER:
        raise BackupError(f"不支持的数据库：{vendor}。/ Unsupported database: {vendor}.")
    now = datetime.now(UTC)
    path = Path(target)
    if path.is_dir():
        path = path / f"minsheng-{vendor}-{now:%Y%m%dT%H%M%SZ}.tar.gz"
    if path.exists():
        raise BackupError(
            f"目标文件已存在，不会覆盖：{path} / The target exists and is not overwritten: {path}"
        )
    if not path.parent.is_dir():
        raise BackupError(
            f"目录不存在：{path.parent} / The directory does not exist: {path.parent}"
        )

    # Staging beside the target: the snapshot may be large, and /tmp is often a small tmpfs.
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".minsheng-backup-") as staging:
        snapshot = Path(staging) / DATABASE_MEMBER[vendor]
        if vendor == "sqlite":
            migrations, counts = _snapshot_sqlite(connection, snapshot)
        else:
            migrations, counts = _snapshot_postgresql(connection, snapshot)
        manifest = Manifest(
            vendor=vendor,
            created_at=now.isoformat(timespec="seconds"),
            migrations=migrations,
            counts=counts,
        )
        _write_archive(path, snapshot, Path(settings.MEDIA_ROOT), manifest)
    return path, manifest


def _snapshot_sqlite(connection: Any, snapshot: Path) -> tuple[list[str], dict[str, int]]:
    """Copy the live database with SQLite's online backup API, then read counts from the copy."""
    source_name = str(connection.settings_dict["NAME"])
    if source_name == ":memory:" or "mode=memory" in source_name:
        raise BackupError("内存数据库无法备份。/ An in-memory database cannot be backed up.")
    if not Path(source_name).is_file():
        raise BackupError(
            f"数据库文件不存在：{source_name} / The database file does not exist: {source_name}"
        )
    source = sqlite3.connect(source_name, timeout=30)
    try:
        destination = sqlite3.connect(snapshot)
        try:
            # One step (pages=-1) copies the whole database under one read snapshot.
            source.backup(destination)
            destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            destination.close()
    finally:
        source.close()
    copy = sqlite3.connect(snapshot)
    try:
        cursor = copy.cursor()
        return _migrations_and_counts(cursor, quote=lambda name: f'"{name}"')
    finally:
        copy.close()


def _snapshot_postgresql(connection: Any, snapshot: Path) -> tuple[list[str], dict[str, int]]:
    """``pg_dump`` the snapshot this transaction holds, and count rows in that same snapshot."""
    pg_dump = find_pg_tool("pg_dump")
    if connection.in_atomic_block:
        raise BackupError("备份不能在事务中运行。/ A backup cannot run inside a transaction.")
    connection.ensure_connection()
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot_id = cursor.fetchone()[0]
        migrations, counts = _migrations_and_counts(cursor, quote=connection.ops.quote_name)
        _run(
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot_id}",
                f"--file={snapshot}",
                "--dbname",
                _conninfo(connection.settings_dict),
            ],
            env=_pg_env(connection.settings_dict),
            what="pg_dump",
        )
    return migrations, counts


def _migrations_and_counts(
    cursor: Any, *, quote: Callable[[str], str]
) -> tuple[list[str], dict[str, int]]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
    counts: dict[str, int] = {}
    for label in COUNTED_MODELS:
        table = apps.get_model(label)._meta.db_table
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - a model's table
        counts[label] = int(cursor.fetchone()[0])
    return migrations, counts


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile while hashing exactly the bytes that go into the archive."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.digest.update(chunk)
        return chunk


def _add_file(archive: tarfile.TarFile, name: str, source: Path, manifest: Manifest) -> bool:
    """Add one file under ``name``; False when it vanished meanwhile (a deleted stale upload)."""
    try:
        handle = source.open("rb")
    except FileNotFoundError:
        return False
    with handle:
        size = os.fstat(handle.fileno()).st_size
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o600
        info.mtime = int(os.fstat(handle.fileno()).st_mtime)
        reader = _HashingReader(handle)
        archive.addfile(info, reader)
    manifest.members[name] = {"sha256": reader.digest.hexdigest(), "size": size}
    return True


def _attachment_files(media_root: Path) -> Iterator[tuple[str, Path]]:
    """Every stored file under MEDIA_ROOT, in a stable order; temporary dot-files are skipped."""
    if not media_root.is_dir():
        return
    for directory, subdirectories, files in os.walk(media_root):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(media_root).as_posix()
            yield f"{ATTACHMENTS}/{relative}", path


def _write_archive(path: Path, snapshot: Path, media_root: Path, manifest: Manifest) -> None:
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    try:
        os.fchmod(descriptor, ARCHIVE_MODE)
        with os.fdopen(descriptor, "wb") as raw:
            with (
                gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as compressed,
                tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
            ):
                _add_file(archive, DATABASE_MEMBER[manifest.vendor], snapshot, manifest)
                for name, source in _attachment_files(media_root):
                    _add_file(archive, name, source, manifest)
                body = manifest.as_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(body)
                info.mode = 0o600
                info.mtime = int(datetime.now(UTC).timestamp())
                archive.addfile(info, io.BytesIO(body))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ------------------------------------------------------------------------------------ restore


def read_archive(path: Path | str, staging: Path) -> Manifest:
    """Unpack ``path`` into ``staging`` and check it whole: a damaged or foreign one raises.

    Only regular files with the names a backup writes are accepted (no links, no absolute or
    ``..`` paths), each exactly once; every member's size and sha256 must match the manifest,
    and the manifest must list no member that is missing.
    """
    archive_path = Path(path)
    if not archive_path.is_file():
        raise BackupError(f"找不到备份文件：{path} / No such backup file: {path}")
    seen: dict[str, dict[str, Any]] = {}
    manifest_raw: bytes | None = None
    try:
        with tarfile.open(archive_path, mode="r:gz") as archive:
            for member in archive:
                name = member.name
                if name in seen or (name == MANIFEST and manifest_raw is not None):
                    raise _not_ours(f"member {name!r} appears twice")
                if not member.isreg() or not _acceptable_name(name):
                    raise _not_ours(f"unexpected member {name!r}")
                source = archive.extractfile(member)
                if source is None:  # pragma: no cover - isreg() members always have data
                    raise _not_ours(f"unreadable member {name!r}")
                if name == MANIFEST:
                    if member.size > 64 * 1024 * 1024:
                        raise _not_ours("manifest.json is too large")
                    manifest_raw = source.read()
                    continue
                seen[name] = _extract(source, staging / name)
            # tarfile stops at the first header it cannot read as if the archive ended there;
            # reading the gzip stream to its end checks its CRC and length, so damage anywhere
            # is reported as damage.
            while archive.fileobj is not None and archive.fileobj.read(_CHUNK):
                pass
    except BackupError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno:
            raise  # a real I/O problem (disk full, permissions), not a damaged archive
        raise _damaged(f"{type(exc).__name__}: {exc}") from None
    if manifest_raw is None:
        raise BackupError(
            "备份文件已损坏或不是民生备份（缺少 manifest.json），未作任何更改。/ The file is "
            "damaged or not a Minsheng backup (no manifest.json); nothing was changed."
        )
    manifest = Manifest.from_json(manifest_raw)
    if manifest.vendor not in DATABASE_MEMBER:
        raise _not_ours(f"unknown vendor {manifest.vendor!r}")
    if DATABASE_MEMBER[manifest.vendor] not in manifest.members:
        raise _not_ours("no database snapshot")
    if set(seen) != set(manifest.members):
        missing = sorted(set(manifest.members) - set(seen))
        extra = sorted(set(seen) - set(manifest.members))
        raise _damaged(f"members missing {missing[:3]} or not listed {extra[:3]}")
    for name, expected in manifest.members.items():
        if seen[name] != expected:
            raise _damaged(f"checksum mismatch in {name}")
    return manifest


def _acceptable_name(name: str) -> bool:
    if name == MANIFEST or name in DATABASE_MEMBER.values():
        return True
    pure = PurePosixPath(name)
    return (
        not pure.is_absolute()
        and ".." not in pure.parts
        and _ATTACHMENT_NAME.fullmatch(name) is not None
    )


def _extract(source: IO[bytes], destination: Path) -> dict[str, Any]:
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with destination.open("xb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def restore_backup(
    path: Path | str, *, force: bool = False, using: str = DEFAULT_DB_ALIAS
) -> RestoreReport:
    """Restore an archive into the configured database and MEDIA_ROOT, then verify them.

    Refuses, changing nothing, when the archive is damaged or foreign, when it comes from the
    other database vendor or from a newer Minsheng (migrations this code does not know), and
    when the database already has tables or MEDIA_ROOT already holds files — unless ``force``,
    which replaces the database and adds the archive's files to MEDIA_ROOT.
    """
    connection = connections[using]
    media_root = Path(settings.MEDIA_ROOT)
    data_parent = media_root.parent
    data_parent.mkdir(parents=True, exist_ok=True)
    # Staging on the same filesystem as MEDIA_ROOT, so files are moved, not copied again.
    with tempfile.TemporaryDirectory(dir=data_parent, prefix=".minsheng-restore-") as staging_dir:
        staging = Path(staging_dir)
        manifest = read_archive(path, staging)
        _check_compatible(manifest, connection)
        _check_empty_target(connection, media_root, force=force)
        snapshot = staging / DATABASE_MEMBER[manifest.vendor]
        connections.close_all()
        if manifest.vendor == "sqlite":
            _restore_sqlite(snapshot, connection.settings_dict)
        else:
            _restore_postgresql(snapshot, connection, force=force)
        _move_attachments(staging / ATTACHMENTS, media_root)
    connections.close_all()
    return _verify_restored(manifest, connection, media_root)


def _check_compatible(manifest: Manifest, connection: Any) -> None:
    if manifest.vendor != connection.vendor:
        raise BackupError(
            f"备份来自 {manifest.vendor} 数据库，当前配置的是 {connection.vendor}；"
            "只能恢复到同一种数据库。/ The backup is of a "
            f"{manifest.vendor} database but {connection.vendor} is configured; restore into "
            "the same kind of database."
        )
    from django.db.migrations.loader import MigrationLoader

    known = {
        f"{app}.{name}"
        for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    }
    unknown = sorted(set(manifest.migrations) - known)
    # Django's own apps' migrations are on disk too, so anything unknown is from newer code.
    if unknown:
        raise BackupError(
            f"备份来自更新版本的民生（未知迁移 {', '.join(unknown[:3])}），请先升级程序。"
            f"/ The backup comes from a newer Minsheng (unknown migrations "
            f"{', '.join(unknown[:3])}); upgrade first."
        )


def _check_empty_target(connection: Any, media_root: Path, *, force: bool) -> None:
    if force:
        return
    tables = connection.introspection.table_names()
    if tables:
        raise BackupError(
            f"目标数据库不是空的（{len(tables)} 张表），未作任何更改。请恢复到新建的空数据库，"
            "或用 --force 替换其全部内容。/ The target database is not empty "
            f"({len(tables)} tables); nothing was changed. Restore into a new, empty database, "
            "or pass --force to replace everything in it."
        )
    if any(True for _ in _attachment_files(media_root)):
        raise BackupError(
            f"附件目录不是空的：{media_root}，未作任何更改；或用 --force。/ The attachment "
            f"directory is not empty: {media_root}; nothing was changed (or pass --force)."
        )


def _restore_sqlite(snapshot: Path, settings_dict: dict[str, Any]) -> None:
    """Copy the snapshot into the target through the backup API: page for page, all or nothing."""
    source = sqlite3.connect(snapshot)
    try:
        result = source.execute("PRAGMA quick_check").fetchone()
        if result is None or result[0] != "ok":
            raise _damaged(f"SQLite quick_check: {result}")
        target_name = str(settings_dict["NAME"])
        Path(target_name).parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_name, timeout=30)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        source.close()


def _restore_postgresql(snapshot: Path, connection: Any, *, force: bool) -> None:
    pg_restore = find_pg_tool("pg_restore")
    env = _pg_env(connection.settings_dict)
    conninfo = _conninfo(connection.settings_dict)
    # Is it a dump pg_restore can read at all? (Cheap: reads the table of contents.)
    _run([pg_restore, "--list", str(snapshot)], env=env, what="pg_restore --list")
    if force:
        # Replace everything: the dump recreates the schema exactly, and nothing stale (a table
        # of a newer migration, say) survives to confuse the next ``migrate``.
        try:
            with connection.cursor() as cursor:
                cursor.execute("DROP SCHEMA public CASCADE")
                cursor.execute("CREATE SCHEMA public")
        except DatabaseError as exc:
            raise BackupError(
                f"无法清空目标数据库（需要数据库所有者权限）：{exc} / Could not empty the target "
                f"database (the database owner may): {exc}"
            ) from None
        finally:
            connection.close()
    _run(
        [
            pg_restore,
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            conninfo,
            str(snapshot),
        ],
        env=env,
        what="pg_restore",
    )


def _move_attachments(staged: Path, media_root: Path) -> None:
    if not staged.is_dir():
        return
    for directory, _subdirectories, files in os.walk(staged):
        for name in files:
            source = Path(directory) / name
            destination = media_root / source.relative_to(staged)
            destination.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            os.chmod(source, 0o640)
            os.replace(source, destination)


def _verify_restored(manifest: Manifest, connection: Any, media_root: Path) -> RestoreReport:
    from django.db.migrations.executor import MigrationExecutor

    from minsheng.appeals.models import Attachment
    from minsheng.core.audit import verify_chain
    from minsheng.core.models import AuditRecord

    counts = {
        label: apps.get_model(label)._default_manager.using(connection.alias).count()
        for label in COUNTED_MODELS
    }
    problems = sum(1 for _ in verify_chain())
    missing = sum(
        1
        for name in Attachment.objects.using(connection.alias)
        .values_list("storage_name", flat=True)
        .iterator()
        if not (media_root / name).is_file()
    )
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    return RestoreReport(
        manifest=manifest,
        counts=counts,
        audit_records=AuditRecord.objects.using(connection.alias).count(),
        audit_problems=problems,
        missing_files=missing,
        pending_migrations=pending,
    )


# ------------------------------------------------------------------------ PostgreSQL tools


def find_pg_tool(name: str) -> str:
    """The newest ``pg_dump``/``pg_restore`` on PATH or under /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")

    def version(candidate: str) -> tuple[int, ...]:
        part = Path(candidate).parent.parent.name
        return tuple(int(p) for p in part.split(".") if p.isdigit())

    for candidate in sorted(candidates, key=version, reverse=True):
        if os.access(candidate, os.X_OK):
            return candidate
    raise BackupError(
        f"找不到 {name}：请安装 PostgreSQL 客户端（Debian：apt-get install postgresql-client）。"
        f"/ {name} not found: install the PostgreSQL client programs (Debian: apt-get install "
        "postgresql-client)."
    )


def _conninfo(settings_dict: dict[str, Any]) -> str:
    """A libpq connection string without the password (that goes in PGPASSWORD)."""
    parts = {
        "dbname": settings_dict.get("NAME") or "",
        "host": settings_dict.get("HOST") or "",
        "port": str(settings_dict.get("PORT") or ""),
        "user": settings_dict.get("USER") or "",
    }
    options = settings_dict.get("OPTIONS") or {}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "service", "passfile"):
        if options.get(key):
            parts[key] = str(options[key])

    def quote(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{key}={quote(value)}" for key, value in parts.items() if value)


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return env


def _run(command: list[str], *, env: dict[str, str], what: str) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - our own arguments, no shell
            command, env=env, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise BackupError(f"{what} 无法运行：{exc} / {what} could not run: {exc}") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise BackupError(f"{what} 失败 / {what} failed ({result.returncode}): {detail}")
