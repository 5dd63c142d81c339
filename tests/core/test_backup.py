"""``minsheng backup`` / ``restore``: an archive restores into an empty database exactly as it was.

The data is made through the services (intake with an attachment, transitions, so there are
events and audit rows), backed up in-process from the test database, and restored by the real
command in a child process into a new, empty database (SQLite: a new file; PostgreSQL: a new
database), whose rows and files are then compared with the original, one by one.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.utils import load_backend

from minsheng.appeals.attachments import store_upload
from minsheng.appeals.models import Appeal, AppealEvent, Attachment
from minsheng.core import backup
from minsheng.core.backup import BackupError, create_backup, restore_backup
from minsheng.core.models import AuditHead, AuditRecord
from tests.appeals.factories import closed, in_progress, submitted
from tests.appeals.test_attachments import jpeg_bytes, png_bytes
from tests.conftest import make_world

# pg_dump and the restoring process read committed data only: no test transaction around it.
pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = (Appeal, AppealEvent, Attachment, AuditRecord, AuditHead)
ALIAS = "restored"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    return root


def _build_data() -> list[Attachment]:
    world = make_world()
    photo = store_upload(data=jpeg_bytes(), original_name="路面.jpg")
    scan = store_upload(data=png_bytes(), original_name="scan.png")
    submitted(world, upload_tokens=[photo.upload_token, scan.upload_token])
    in_progress(world)
    closed(world)
    return list(Attachment.objects.order_by("pk"))


def _rows(model: Any, using: str) -> list[dict[str, Any]]:
    return list(model.objects.using(using).order_by("pk").values())


def _media_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _database_state() -> dict[str, Any]:
    return {model._meta.label: _rows(model, "default") for model in COMPARED}


@pytest.fixture
def empty_target(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A new, empty database and data directory, as the child process's environment."""
    data_dir = tmp_path / "restored"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINSHENG_")}
    env["MINSHENG_DATA_DIR"] = str(data_dir)
    env["MINSHENG_SECRET_KEY"] = "restore-test-key"  # noqa: S105 - a test key
    source = connection.settings_dict
    target = {**source, "TEST": dict(source["TEST"])}
    database_name = ""
    if connection.vendor == "postgresql":
        database_name = f"test_minsheng_restore_{os.getpid()}"
        admin = _pg_admin(source)
        with admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database_name}"')
            admin.execute(f'CREATE DATABASE "{database_name}"')
        target["NAME"] = database_name
        password = f":{source['PASSWORD']}" if source.get("PASSWORD") else ""
        env["MINSHENG_DATABASE_URL"] = (
            f"postgres://{source['USER']}{password}@{source['HOST'] or 'localhost'}:"
            f"{source['PORT'] or 5432}/{database_name}"
        )
    else:
        target["NAME"] = str(data_dir / "minsheng.sqlite3")
    # Registered as a connection, not a configured database: the test runner allows it.
    connections[ALIAS] = load_backend(target["ENGINE"]).DatabaseWrapper(target, ALIAS)
    try:
        yield env, data_dir
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        if database_name:
            with _pg_admin(source) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')


def _pg_admin(settings_dict: dict[str, Any]) -> Any:
    import psycopg

    return psycopg.connect(
        dbname="postgres",
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"] or None,
        password=settings_dict["PASSWORD"] or None,
        autocommit=True,
    )


def _minsheng(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "minsheng.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_restore_into_an_empty_database_gives_back_every_row_and_file(
    tmp_path: Path, media_root: Path, empty_target: tuple[dict[str, str], Path]
):
    # given: appeals with attachments, events and audit records, made through the services
    attachments = _build_data()
    assert len(attachments) == 2
    assert AppealEvent.objects.count() > 3
    assert AuditRecord.objects.count() > 3
    env, data_dir = empty_target

    # when: it is backed up, and the archive restored into the empty database
    archive, manifest = create_backup(tmp_path)
    result = _minsheng(env, "restore", str(archive))

    # then: the command verified the audit chain and printed the counts
    assert result.returncode == 0, result.stderr
    audit_count = AuditRecord.objects.count()
    assert f"audit chain OK: {audit_count} records" in result.stdout
    assert f"appeals.appeal       {Appeal.objects.count()}" in result.stdout
    assert manifest.counts["appeals.appeal"] == 3
    assert manifest.counts["core.auditrecord"] == audit_count
    # every appeal, event, attachment, audit record and chain head is identical
    for model in COMPARED:
        assert _rows(model, ALIAS) == _rows(model, "default"), model._meta.label
    # and so is every stored file, byte for byte
    restored_media = _media_files(data_dir / "attachments")
    assert restored_media == _media_files(media_root)
    assert sorted(restored_media) == sorted(a.storage_name for a in attachments)
    # the chain verifies in the restored database on its own, too
    verify = _minsheng(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.strip() == f"audit chain OK: {audit_count} records"

    # when: restored again: refused without --force (the database is no longer empty) ...
    again = _minsheng(env, "restore", str(archive))
    assert again.returncode == 1
    assert "not empty" in again.stderr
    # ... and with --force, everything is replaced by the archive's content once more
    connections[ALIAS].close()
    forced = _minsheng(env, "restore", "--force", str(archive))
    assert forced.returncode == 0, forced.stderr
    assert f"audit chain OK: {audit_count} records" in forced.stdout
    for model in COMPARED:
        assert _rows(model, ALIAS) == _rows(model, "default"), model._meta.label
    assert _media_files(data_dir / "attachments") == _media_files(media_root)


def test_archive_lists_every_member_with_its_checksum(tmp_path: Path, media_root: Path):
    # given: data with two stored files
    attachments = _build_data()

    # when
    archive, manifest = create_backup(tmp_path / "nightly.tar.gz")

    # then: the database snapshot, each file and the manifest, nothing else; private mode
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        body = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    database = backup.DATABASE_MEMBER[connection.vendor]
    files = sorted(f"attachments/{a.storage_name}" for a in attachments)
    assert names == [database, *files, "manifest.json"]
    assert sorted(body["members"]) == sorted([database, *files])
    assert body["format"] == "minsheng-backup"
    assert body["format_version"] == 1
    assert body["vendor"] == connection.vendor
    assert "appeals.0001_initial" in body["migrations"]
    assert body["counts"]["appeals.attachment"] == 2
    assert archive.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_backup_never_overwrites_an_existing_file(tmp_path: Path):
    # given
    make_world()
    target = tmp_path / "kept.tar.gz"
    target.write_bytes(b"an older backup")

    # when / then
    with pytest.raises(BackupError, match="not overwritten"):
        create_backup(target)
    assert target.read_bytes() == b"an older backup"


def test_a_failed_backup_leaves_no_half_archive(tmp_path: Path, monkeypatch):
    # given: data with files, and a failure while the second member is written
    _build_data()
    calls = []
    real_add = backup._add_file

    def failing_add(*args: Any) -> bool:
        calls.append(args[1])
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_add(*args)

    monkeypatch.setattr(backup, "_add_file", failing_add)

    # when
    with pytest.raises(OSError, match="No space left"):
        create_backup(tmp_path / "nightly.tar.gz")

    # then: neither the archive nor a temporary file nor the staging directory is left
    assert list(tmp_path.iterdir()) == [tmp_path / "media"]


# ---------------------------------------------------------------- refusals change nothing


@pytest.fixture
def existing(tmp_path: Path, media_root: Path) -> tuple[Path, dict[str, Any], dict[str, bytes]]:
    """A backed-up installation: the archive, and the database and files as they are now."""
    _build_data()
    archive, _manifest = create_backup(tmp_path / "good.tar.gz")
    return archive, _database_state(), _media_files(media_root)


def _assert_unchanged(state: dict[str, Any], files: dict[str, bytes], media_root: Path) -> None:
    assert _database_state() == state
    assert _media_files(media_root) == files


def _members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive, "r:gz") as tar:
        return [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def _write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_corrupted_archive_is_refused_and_changes_nothing(tmp_path, media_root, existing):
    # given: a byte in the middle of the archive flipped
    archive, state, files = existing
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(raw))

    # when: restored even with --force, which would replace the database
    with pytest.raises(BackupError, match="damaged"):
        restore_backup(damaged, force=True)

    # then
    _assert_unchanged(state, files, media_root)


def test_a_member_that_does_not_match_its_checksum_is_refused(tmp_path, media_root, existing):
    # given: a well-formed archive whose attachment was altered after the manifest was written
    archive, state, files = existing
    members = _members(archive)
    altered = [
        (info, data + b"x" if info.name.startswith("attachments/") else data)
        for info, data in members
    ]
    forged = _write_tar(tmp_path / "forged.tar.gz", altered)

    # when / then
    with pytest.raises(BackupError, match="damaged"):
        restore_backup(forged, force=True)
    _assert_unchanged(state, files, media_root)


def test_a_truncated_archive_is_refused(tmp_path, media_root, existing):
    archive, state, files = existing
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(BackupError, match="damaged"):
        restore_backup(truncated, force=True)
    _assert_unchanged(state, files, media_root)


@pytest.mark.parametrize(
    "content",
    [b"not an archive at all", gzip.compress(b"gzip, but no tar inside" * 100)],
    ids=["random bytes", "gzip without tar"],
)
def test_a_foreign_file_is_refused(tmp_path, media_root, existing, content):
    _archive, state, files = existing
    foreign = tmp_path / "foreign.tar.gz"
    foreign.write_bytes(content)

    with pytest.raises(BackupError):
        restore_backup(foreign, force=True)
    _assert_unchanged(state, files, media_root)


def test_a_tar_of_something_else_is_refused(tmp_path, media_root, existing):
    _archive, state, files = existing
    other = _write_tar(tmp_path / "other.tar.gz", [(tarfile.TarInfo("README"), b"hello")])

    with pytest.raises(BackupError, match="Not a complete Minsheng backup"):
        restore_backup(other, force=True)
    _assert_unchanged(state, files, media_root)


def test_a_member_reaching_outside_is_refused(tmp_path, media_root, existing):
    # given: a member whose path climbs out of the staging directory
    archive, state, files = existing
    evil = [(tarfile.TarInfo("attachments/../../escaped.txt"), b"owned"), *_members(archive)]
    crafted = _write_tar(tmp_path / "crafted.tar.gz", evil)

    with pytest.raises(BackupError, match="unexpected member"):
        restore_backup(crafted, force=True)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (media_root.parent / "escaped.txt").exists()
    _assert_unchanged(state, files, media_root)


def test_an_archive_of_the_other_database_vendor_is_refused(tmp_path, media_root, existing):
    # given: a consistent archive whose manifest says it is of the other vendor
    archive, state, files = existing
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    members = []
    for info, data in _members(archive):
        if info.name == "manifest.json":
            body = json.loads(data)
            body["vendor"] = other
            snapshot = body["members"].pop(backup.DATABASE_MEMBER[connection.vendor])
            body["members"][backup.DATABASE_MEMBER[other]] = snapshot
            data = json.dumps(body).encode()
        elif info.name == backup.DATABASE_MEMBER[connection.vendor]:
            info = tarfile.TarInfo(backup.DATABASE_MEMBER[other])
        members.append((info, data))
    crafted = _write_tar(tmp_path / "other-vendor.tar.gz", members)

    with pytest.raises(BackupError, match="restore into the same kind of database"):
        restore_backup(crafted, force=True)
    _assert_unchanged(state, files, media_root)


def test_restore_into_a_database_that_is_not_empty_is_refused(media_root, existing):
    # given: the installation itself, with its tables and rows
    archive, state, files = existing

    # when: restored without --force
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(archive)

    # then
    _assert_unchanged(state, files, media_root)


def test_the_command_reports_a_refusal_with_exit_code_1(tmp_path, existing, capsys):
    from minsheng import cli

    missing = tmp_path / "nope.tar.gz"
    assert cli.main(["restore", str(missing)]) == 1
    assert "No such backup file" in capsys.readouterr().err


def test_an_archive_from_a_newer_release_is_refused(tmp_path, media_root, existing):
    # given: an archive whose database has a migration this code does not know
    archive, state, files = existing
    members = []
    for info, data in _members(archive):
        if info.name == "manifest.json":
            body = json.loads(data)
            body["migrations"].append("appeals.9999_from_the_future")
            data = json.dumps(body).encode()
        members.append((info, data))
    newer = _write_tar(tmp_path / "newer.tar.gz", members)

    with pytest.raises(BackupError, match="newer Minsheng"):
        restore_backup(newer, force=True)
    _assert_unchanged(state, files, media_root)


def test_the_backup_command_writes_a_dated_archive_into_a_directory(tmp_path, capsys):
    from minsheng import cli

    _build_data()
    target = tmp_path / "backups"
    target.mkdir()

    assert cli.main(["backup", str(target)]) == 0

    [archive] = list(target.iterdir())
    assert archive.name.startswith(f"minsheng-{connection.vendor}-")
    assert archive.name.endswith("Z.tar.gz")
    out = capsys.readouterr().out
    assert f"backup written / 备份已写入: {archive}" in out
    assert f"vendor: {connection.vendor}; attachments: 2" in out
    assert "appeals.appeal       3" in out
