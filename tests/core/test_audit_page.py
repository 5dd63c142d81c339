"""The auditors' audit log page: read-only, filtered, keyset-paginated, personal data masked."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from minsheng.core import audit
from minsheng.core.models import AuditRecord

pytestmark = pytest.mark.django_db

URL = "/console/audit/"


def _ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="record-(\d+)">', response.content.decode())]


@pytest.fixture
def auditor(client, world):
    client.force_login(world["auditor"])
    return client


@pytest.mark.parametrize(
    "name", ["center_admin", "security_admin", "dispatcher", "supervisor", "town_leader"]
)
def test_only_auditors_find_the_page(client, world, name):
    client.force_login(world[name])
    assert client.get(URL).status_code == 404
    assert client.get(URL + "?verify=1").status_code == 404


def test_a_superuser_does_not_find_it_either(client, world):
    from minsheng.org.models import User

    client.force_login(User.objects.create_superuser("root", password=None))
    assert client.get(URL).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    response = client.get(URL)
    assert (response.status_code, response["Location"]) == (
        302,
        "/console/login/?next=/console/audit/",
    )


def test_the_page_is_read_only(auditor):
    count = AuditRecord.objects.count()
    assert auditor.post(URL, {"action": "x"}).status_code == 405
    assert AuditRecord.objects.count() == count


def test_records_newest_first_in_keyset_pages(auditor):
    for i in range(120):
        audit.record(actor=None, action="test.page", target_type="t", target_id=str(i))
    wanted = list(
        AuditRecord.objects.filter(action="test.page").order_by("-id").values_list("pk", flat=True)
    )

    first = auditor.get(URL, {"action": "test.page"})
    assert first.status_code == 200
    assert _ids(first) == wanted[:50]
    next_url = first.context["next_url"]
    assert next_url == f"?action=test.page&before={wanted[49]}"

    second = auditor.get(URL + next_url)
    third = auditor.get(URL + second.context["next_url"])

    assert _ids(second) == wanted[50:100]
    assert _ids(third) == wanted[100:]
    assert third.context["next_url"] == ""
    assert third.context["first_url"] == "?action=test.page"


def test_filters_by_actor_action_target_and_dates(auditor, world):
    audit.record(
        actor=world["dispatcher"],
        action="appeal.dispatch",
        target_type="appeals.appeal",
        target_id="7",
    )
    audit.record(
        actor=world["dispatcher"],
        action="appeal.accept",
        target_type="appeals.appeal",
        target_id="8",
    )
    audit.record(
        actor=world["agent"], action="appeal.dispatch", target_type="appeals.appeal", target_id="7"
    )
    old_time = timezone.now() - timedelta(days=40)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "timezone", SimpleNamespace(now=lambda: old_time))
        old = audit.record(
            actor=world["dispatcher"],
            action="appeal.dispatch",
            target_type="appeals.appeal",
            target_id="7",
        )

    def ids(**query: str) -> set[int]:
        response = auditor.get(URL, query)
        assert response.status_code == 200
        return set(_ids(response))

    def expected(**lookup) -> set[int]:
        return set(AuditRecord.objects.filter(**lookup).values_list("pk", flat=True))

    assert ids(actor="dispatcher") == expected(actor_label="dispatcher")
    assert ids(action="appeal.") == expected(action__startswith="appeal.")
    assert ids(action="appeal.accept") == expected(action="appeal.accept")
    assert ids(action="appeal") == set()  # exact unless it ends with a dot
    assert ids(target_type="appeals.appeal", target_id="7", actor="dispatcher") == expected(
        target_id="7", actor_label="dispatcher"
    )
    day = (old_time.astimezone(audit._LOCAL)).date().isoformat()
    assert ids(date_from=day, date_to=day) == {old.pk}
    assert old.pk not in ids(date_from=(timezone.localdate() - timedelta(days=1)).isoformat())


@pytest.mark.parametrize(
    "query",
    [
        {"before": "abc"},
        {"before": "-5"},
        {"before": "9" * 30},
        {"date_from": "2026-02-30"},
        {"date_from": "2026-05-02", "date_to": "2026-05-01"},
        {"actor": "x" * 151},
    ],
)
def test_bad_filters_are_a_400_not_a_500(auditor, query):
    response = auditor.get(URL, query)
    assert response.status_code == 400
    assert _ids(response) == []


def test_phone_and_id_numbers_stay_masked(auditor, world):
    audit.record(
        actor=world["dispatcher"],
        action="analytics.export_queue",
        target_type="appeals.appeal",
        data={"query": "13812341234 王", "reason": ["身份证 11010519491231002X"]},
    )

    page = auditor.get(URL, {"action": "analytics.export_queue"}).content.decode()

    assert "138****1234" in page
    assert "1101**********002X" in page
    assert "13812341234" not in page
    assert "11010519491231002X" not in page


def test_the_chain_verifies_on_request(auditor, world):
    page = auditor.get(URL)
    assert page.context["verification"] is None

    page = auditor.get(URL, {"verify": "1"})
    assert page.context["verification"]["ok"] is True
    assert 'id="chain-result"' in page.content.decode()


def test_a_broken_chain_is_shown(auditor, world):
    records = [
        audit.record(actor=None, action="test.x", target_type="t", target_id=str(i))
        for i in range(3)
    ]
    AuditRecord.objects.filter(pk=records[1].pk).update(data={"forged": 1})

    verification = auditor.get(URL, {"verify": "1"}).context["verification"]

    assert verification["ok"] is False
    assert [(p.record_id, p.problem) for p in verification["problems"]] == [
        (records[1].pk, "content does not match its hash")
    ]


def test_the_console_links_the_page_for_auditors_only(client, world):
    client.force_login(world["auditor"])
    assert 'href="/console/audit/"' in client.get("/console/notifications/").content.decode()
    client.logout()
    client.force_login(world["center_admin"])
    page = client.get("/console/notifications/").content.decode()
    assert 'href="/console/audit/"' not in page
    assert 'href="/admin/"' in page


def test_the_page_reads_the_same_number_of_queries_for_any_page_size(auditor, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert auditor.get(URL).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for i in range(60):
        audit.record(actor=None, action="test.more", target_type="t", target_id=str(i))
    assert queries() == few
