"""The `minsheng` command: audit verification, the serve guards, and the demo's loading path.

No test starts gunicorn: the server is replaced by a stand-in that records its options.
"""

from __future__ import annotations

import sys
import types

import pytest

from minsheng import cli
from minsheng.core import audit
from minsheng.core.models import AuditRecord
from minsheng.org.choices import Role
from minsheng.org.demo import DEMO_ACCOUNTS
from minsheng.org.models import OrgUnit, User
from minsheng.org.services import create_staff, create_unit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    # Argon2 costs ~0.1 s a password and is not under test here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.STATIC_ROOT = tmp_path / "static"
    return tmp_path


class FakeServer:
    """Stands in for the gunicorn application: records what it was given."""

    started: list[dict] = []

    def __init__(self, options):
        self.options = options

    def run(self):
        FakeServer.started.append(self.options)


@pytest.fixture
def fake_server(monkeypatch):
    FakeServer.started = []
    monkeypatch.setattr(cli, "_gunicorn_application", FakeServer)
    return FakeServer


def demo_user(*, active: bool = True) -> User:
    unit = create_unit(name="和安市", code="T-CITY", kind="city")
    user = create_staff(
        username="demo", password="x" * 12, posts=[(unit, Role.DISPATCHER)], is_demo=True
    )
    if not active:
        User.objects.filter(pk=user.pk).update(is_active=False)
    return user


# --- audit verify -----------------------------------------------------------------------------


def _records(n: int) -> list[AuditRecord]:
    return [
        audit.record(actor=None, action="test", target_type="t", target_id=str(i), data={})
        for i in range(n)
    ]


def test_audit_verify_exits_0_on_an_intact_chain(capsys):
    _records(3)

    code = cli.main(["audit", "verify"])

    assert code == 0
    total = AuditRecord.objects.count()
    assert total >= 3
    assert capsys.readouterr().out == f"audit chain OK: {total} records\n"


def test_audit_verify_exits_1_after_a_record_is_tampered_with(capsys):
    records = _records(3)
    AuditRecord.objects.filter(pk=records[1].pk).update(action="tampered")

    code = cli.main(["audit", "verify"])

    assert code == 1
    out = capsys.readouterr().out
    assert out == f"record {records[1].pk}: content does not match its hash\n"


def test_audit_verify_exits_1_when_the_last_record_is_deleted(capsys):
    records = _records(3)
    AuditRecord.objects.filter(pk=records[-1].pk).delete()

    assert cli.main(["audit", "verify"]) == 1
    [problem] = audit.verify_chain()
    assert problem.record_id is None
    assert capsys.readouterr().out == f"chain end: {problem.problem}\n"


# --- serve guards -----------------------------------------------------------------------------


def test_serve_guard_refuses_an_active_demo_account(capsys):
    demo_user()

    with pytest.raises(SystemExit) as refused:
        cli.check_no_demo_accounts(allow=False)

    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "演示账号" in err
    assert "1 active demo account(s)" in err
    assert "--allow-demo-accounts" in err


def test_serve_guard_passes_when_demo_accounts_are_allowed():
    demo_user()

    assert cli.check_no_demo_accounts(allow=True) is None


def test_serve_guard_passes_when_the_environment_allows_demo_accounts(settings):
    demo_user()
    settings.MINSHENG_ALLOW_DEMO_ACCOUNTS = True

    assert cli.check_no_demo_accounts(allow=False) is None


def test_serve_guard_ignores_deactivated_demo_accounts_and_real_staff():
    demo_user(active=False)
    unit = OrgUnit.objects.get(code="T-CITY")
    create_staff(username="real", password="y" * 12, posts=[(unit, Role.DISPATCHER)])

    assert cli.check_no_demo_accounts(allow=False) is None


def test_serve_refuses_to_run_in_debug_mode(settings, capsys):
    settings.DEBUG = True

    with pytest.raises(SystemExit) as refused:
        cli.check_not_debug()

    assert refused.value.code == 2
    assert "MINSHENG_DEBUG" in capsys.readouterr().err


def test_serve_command_exits_2_and_starts_no_server_while_a_demo_account_exists(
    data_dir, fake_server
):
    demo_user()

    assert cli.main(["serve", "--workers", "2"]) == 2

    assert fake_server.started == []
    assert not (data_dir / "static").exists()


def test_serve_command_with_allowed_demo_accounts_collects_static_and_starts_gunicorn(
    data_dir, fake_server, monkeypatch
):
    demo_user()
    monkeypatch.setenv("MINSHENG_THREADS", "3")

    code = cli.main(
        [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "8123",
            "--workers",
            "2",
            "--allow-demo-accounts",
        ]
    )

    assert code == 0
    assert (data_dir / "static" / "admin").is_dir()
    [options] = fake_server.started
    assert options["bind"] == "127.0.0.1:8123"
    assert options["workers"] == 2
    assert options["worker_class"] == "gthread"
    assert options["threads"] == 3
    assert options["wsgi_app"] == "minsheng.wsgi:application"


def test_gunicorn_options_are_the_production_defaults():
    options = cli.gunicorn_options(host="::", port=8000, workers=5, threads=1)

    assert options == {
        "bind": "[::]:8000",
        "workers": 5,
        "worker_class": "sync",
        "threads": 1,
        "keepalive": 5,
        "timeout": 60,
        "graceful_timeout": 30,
        "preload_app": False,
        "accesslog": None,
        "proc_name": "minsheng",
        "wsgi_app": "minsheng.wsgi:application",
        "control_socket_disable": True,
    }


def test_workers_default_to_cores_plus_one_unless_set(monkeypatch):
    monkeypatch.delenv("MINSHENG_WORKERS", raising=False)
    monkeypatch.setattr(cli, "_cores", lambda: 4)
    assert cli.default_workers() == 5

    monkeypatch.setenv("MINSHENG_WORKERS", "7")
    assert cli.default_workers() == 7


# --- demo -------------------------------------------------------------------------------------


@pytest.fixture
def fake_appeals_demo(monkeypatch):
    """Stands in for minsheng.appeals.demo, which owns the appeals part of the demo data."""
    module = types.ModuleType("minsheng.appeals.demo")
    module.calls = []

    def has_demo_data():
        return bool(module.calls)

    def seed_year(appeals, seed=2026, progress=None):
        module.calls.append((appeals, seed))
        for done in range(1, appeals + 1):
            progress(done, appeals)

    module.has_demo_data = has_demo_data
    module.seed_year = seed_year
    monkeypatch.setitem(sys.modules, "minsheng.appeals.demo", module)
    return module


def _password_from_table(out: str) -> str:
    row = next(line for line in out.splitlines() if line.startswith("dispatcher "))
    return row.split()[1]


def test_demo_loads_once_prints_accounts_and_does_not_serve_with_no_serve(
    data_dir, fake_appeals_demo, fake_server, capsys
):
    code = cli.main(["demo", "--no-serve", "--appeals", "2500", "--port", "8001"])

    assert code == 0
    assert fake_appeals_demo.calls == [(2500, 2026)]
    assert fake_server.started == []
    captured = capsys.readouterr()
    assert "  1000/2500 appeals\n  2000/2500 appeals\n  2500/2500 appeals\n" in captured.err
    assert "Statistics / 统计: 0 days rolled up" in captured.err  # the fake seeded no appeals
    assert "http://127.0.0.1:8001/" in captured.out
    password = _password_from_table(captured.out)
    for username, _role, _code in DEMO_ACCOUNTS:
        assert username in captured.out
        assert User.objects.get(username=username).check_password(password)
    assert "和兴镇" in captured.out

    # A second run loads nothing and shows the same password.
    assert cli.main(["demo", "--no-serve"]) == 0
    assert fake_appeals_demo.calls == [(2500, 2026)]
    assert _password_from_table(capsys.readouterr().out) == password


def test_demo_gives_a_new_password_when_the_stored_one_is_lost(data_dir, fake_appeals_demo, capsys):
    cli.main(["demo", "--no-serve", "--appeals", "0"])
    first = _password_from_table(capsys.readouterr().out)
    (data_dir / cli.DEMO_PASSWORD_FILE).unlink()

    cli.main(["demo", "--no-serve"])

    second = _password_from_table(capsys.readouterr().out)
    assert second != first
    assert User.objects.get(username="auditor").check_password(second)


def test_seed_loads_the_organisation_if_missing_then_the_appeals(
    data_dir, fake_appeals_demo, capsys
):
    assert cli.main(["seed", "--appeals", "5", "--seed", "7"]) == 0
    assert cli.main(["seed", "--appeals", "3"]) == 0

    assert fake_appeals_demo.calls == [(5, 7), (3, 2026)]
    assert OrgUnit.objects.filter(code="330100").count() == 1


def test_demo_serves_with_demo_accounts_allowed(
    data_dir, fake_appeals_demo, fake_server, monkeypatch
):
    # The demo sets this for its server's workers; monkeypatch restores it afterwards.
    monkeypatch.delenv("MINSHENG_ALLOW_DEMO_ACCOUNTS", raising=False)

    assert cli.main(["demo", "--appeals", "0", "--port", "8002"]) == 0

    [options] = fake_server.started
    assert options["bind"] == "127.0.0.1:8002"


def test_progress_prints_every_thousand_and_the_end(capsys):
    progress = cli.progress_printer()
    for done in range(0, 2101, 100):
        progress(done, 2100)

    assert (
        capsys.readouterr().err == "  1000/2100 appeals\n  2000/2100 appeals\n  2100/2100 appeals\n"
    )


def test_format_table_aligns_chinese_text():
    table = cli.format_table(("unit", "role"), [("和兴镇", "handler"), ("city", "auditor")])

    assert table.splitlines() == [
        "unit    role",
        "------  -------",
        "和兴镇  handler",
        "city    auditor",
    ]


def test_the_real_demo_fills_the_dashboards_rollups(data_dir, capsys):
    from minsheng.analytics.models import DailyRollup
    from minsheng.appeals.models import Appeal

    cli._load_demo(appeals=60, seed=7)

    assert Appeal.objects.count() >= 60
    rolled = sum(DailyRollup.objects.values_list("received", flat=True))
    counted = Appeal.objects.exclude(status__in=["invalid", "merged"]).count()
    assert rolled == counted
    assert "days rolled up" in capsys.readouterr().err


def test_worker_refuses_to_start_with_a_bad_supervision_setting(settings, capsys, monkeypatch):
    from minsheng.core import periodic

    settings.MINSHENG_WARNING_SHARE = 1.5
    real_call, started = cli._call, []

    def call(name, *args, **kwargs):
        if name != "check":
            started.append(name)
        return real_call(name, *args, **kwargs) if name == "check" else None

    monkeypatch.setattr(cli, "_call", call)
    monkeypatch.setattr(cli, "_run_worker_pool", lambda *a: started.append("pool"))
    monkeypatch.setattr(periodic, "start", lambda: started.append("periodic"))

    assert cli.main(["worker"]) == 2

    assert "MINSHENG_WARNING_SHARE" in capsys.readouterr().err
    assert started == []  # no scheduler, no worker
