"""The staff console: home counts, queue, detail with actions, reveal, bulk dispatch, intake."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from minsheng.appeals import selectors, services
from minsheng.appeals.models import Appeal, AppealEvent, ExtensionRequest
from minsheng.core.models import AuditRecord
from tests.appeals.factories import closed, dispatched, in_progress, reload, replied, submitted
from tests.conftest import fresh

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def detail_url(appeal: Appeal) -> str:
    return f"/console/appeals/{appeal.pk}/"


def action_url(appeal: Appeal, name: str) -> str:
    return f"/console/appeals/{appeal.pk}/action/{name}/"


def rendered_actions(response) -> list[str]:
    return re.findall(r'data-action="([a-z_]+)"', response.content.decode())


def queue_codes(response) -> list[str]:
    return [row["tracking_code"] for row in response.context["rows"]]


def snapshot(appeal: Appeal) -> tuple:
    fresh_row = Appeal.objects.get(pk=appeal.pk)
    return (
        fresh_row.status,
        fresh_row.version,
        fresh_row.lead_unit_id,
        AppealEvent.objects.filter(appeal=appeal).count(),
    )


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    "url", ["/console/", "/console/appeals/", "/console/appeals/1/", "/console/intake/"]
)
def test_console_pages_need_a_login(world, url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/?next=")


def test_navigation_is_role_aware(world):
    page = client_for(world["agent"]).get("/console/").content.decode()
    assert 'href="/console/intake/"' in page
    assert 'action="/console/logout/"' in page
    assert 'href="/admin/"' not in page
    auditor_page = client_for(world["auditor"]).get("/console/").content.decode()
    assert 'href="/console/intake/"' not in auditor_page


def test_logout_is_a_post(world):
    client = client_for(world["agent"])
    response = client.post("/console/logout/")
    assert response.status_code == 302
    assert client.get("/console/").status_code == 302


# ---------------------------------------------------------------- home


def seed_home(world) -> None:
    submitted(world)  # received
    dispatched(world)  # dispatched to the town
    dispatched(world)
    in_progress(world)
    late = in_progress(world)
    Appeal.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    soon = in_progress(world)
    Appeal.objects.filter(pk=soon.pk).update(due_at=timezone.now() + timedelta(hours=5))
    returned = dispatched(world)
    services.return_appeal(appeal=returned, actor=world["town_handler"], reason="不归我们管")
    replied(world)
    closed(world)
    rated = closed(world)
    services.rate_appeal(appeal=rated, actor=world["agent"], rating="satisfied")
    dispatched(world, territory=world.other_village)  # other_town's village → dispatched to town


def tiles(response) -> dict[str, int]:
    return {tile["key"]: tile["count"] for tile in response.context["tiles"]}


def test_home_counts_for_a_dispatcher(world):
    seed_home(world)
    with CaptureQueriesContext(connection) as queries:
        response = client_for(world["dispatcher"]).get("/console/")
    assert response.status_code == 200
    assert tiles(response) == {
        "to_dispatch": 1,
        "in_progress": 3,
        "due_24h": 1,
        "overdue": 1,
        "returned": 1,
        "replied": 1,
        "unrated": 1,
    }
    # The appeal figures are two queries whatever the number of tiles: the open ones among the
    # open appeals (an index-only scan on PostgreSQL) and the callback worklist (the header's
    # bell counts notifications on its own).
    aggregates = [
        q
        for q in queries.captured_queries
        if "COUNT" in q["sql"].upper() and "appeals_appeal" in q["sql"]
    ]
    assert len(aggregates) == 2
    assert "/console/appeals/?overdue=1" in response.content.decode()


def test_unrated_worklist_holds_the_callback_window_only(world, settings):
    settings.MINSHENG_CALLBACK_DAYS = 7
    recent, old = closed(world), closed(world)
    Appeal.objects.filter(pk=old.pk).update(closed_at=timezone.now() - timedelta(days=8))
    client = client_for(world["dispatcher"])
    # then: the tile counts, and its queue shows, the one closed within 7 days
    assert tiles(client.get("/console/"))["unrated"] == 1
    assert queue_codes(client.get("/console/appeals/?unrated=1")) == [recent.tracking_code]
    # and the old one may still be rated (the window is the worklist's, not the citizen's)
    services.rate_appeal(appeal=old, actor=world["agent"], rating="satisfied")
    settings.MINSHENG_CALLBACK_DAYS = 9
    assert tiles(client.get("/console/"))["unrated"] == 1


def test_home_counts_for_a_town_handler(world):
    seed_home(world)
    response = client_for(world["town_handler"]).get("/console/")
    # Every dispatched appeal went to the town; the returned one is still the town's lead.
    assert tiles(response) == {"to_accept": 3, "in_progress": 3, "due_24h": 1, "overdue": 1}
    assert client_for(world["other_handler"]).get("/console/").context["tiles"][0]["count"] == 0


# ---------------------------------------------------------------- queue


def test_queue_filters(world):
    received = submitted(world)
    noisy = dispatched(world, category=world.noise, content="广场舞噪音太大")
    late = in_progress(world)
    Appeal.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=2))
    done = closed(world)
    client = client_for(world["dispatcher"])
    assert queue_codes(client.get("/console/appeals/?status=received")) == [received.tracking_code]
    noise_parent = world.noise.parent_id
    assert queue_codes(client.get(f"/console/appeals/?category={noise_parent}")) == [
        noisy.tracking_code
    ]
    assert queue_codes(client.get("/console/appeals/?q=广场舞")) == [noisy.tracking_code]
    assert queue_codes(client.get(f"/console/appeals/?q={done.tracking_code.lower()}")) == [
        done.tracking_code
    ]
    response = client.get("/console/appeals/?overdue=1")
    assert queue_codes(response) == [late.tracking_code]
    assert 'class="badge overdue"' in response.content.decode()
    assert queue_codes(client.get("/console/appeals/?unrated=1")) == [done.tracking_code]
    today = timezone.localdate().isoformat()
    assert len(queue_codes(client.get(f"/console/appeals/?received_to={today}"))) == 4
    assert queue_codes(client.get("/console/appeals/?received_from=2999-01-01")) == []
    # An invalid value is reported and ignored, not a 500.
    response = client.get("/console/appeals/?status=bogus")
    assert response.status_code == 200
    assert len(queue_codes(response)) == 4


def test_queue_agrees_with_the_api_selector(world):
    for _ in range(3):
        dispatched(world)
    submitted(world)
    user = fresh(world["town_handler"])
    filters = selectors.QueueFilter(status=["dispatched"], unit=world.town.pk)
    expected = [a.tracking_code for a in selectors.queue(user, filters).items]
    got = client_for(world["town_handler"]).get(
        f"/console/appeals/?status=dispatched&unit={world.town.pk}"
    )
    assert queue_codes(got) == expected
    assert len(expected) == 3


def test_queue_masks_phones_and_pages_by_keyset(world):
    appeals = [submitted(world) for _ in range(53)]
    client = client_for(world["dispatcher"])
    first = client.get("/console/appeals/")
    page = first.content.decode()
    assert appeals[-1].citizen_phone not in page
    assert appeals[-1].citizen_phone[:3] + "****" + appeals[-1].citizen_phone[-4:] in page
    assert len(first.context["rows"]) == 50
    next_url = first.context["next_url"]
    assert next_url and "cursor=" in next_url
    second = client.get(next_url)
    assert queue_codes(second) == [a.tracking_code for a in reversed(appeals[:3])]
    assert second.context["next_url"] is None


def queue_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/console/appeals/").status_code == 200
    return len(queries.captured_queries)


def test_queue_runs_a_constant_number_of_queries(world, django_assert_max_num_queries):
    client = client_for(world["town_handler"])
    for _ in range(5):
        in_progress(world)
    few = queue_queries(client)
    for _ in range(25):
        in_progress(world)
    many = queue_queries(client)
    assert few == many
    # 10: the scope reads the unit's co-handled appeal ids and those the handler took in first
    # (one indexed query each) so that the queue's own query is an OR of index conditions
    # (permissions._co_handled, permissions._taken_in)
    with django_assert_max_num_queries(10):
        client.get("/console/appeals/?status=in_progress")


def test_bulk_dispatch(world):
    road = [submitted(world) for _ in range(3)]
    noise = submitted(world, category=world.noise)
    client = client_for(world["dispatcher"])
    page = client.get("/console/appeals/").content.decode()
    assert 'action="/console/appeals/bulk-dispatch/"' in page
    response = client.post(
        "/console/appeals/bulk-dispatch/",
        {"ids": [a.pk for a in road], "unit": "", "next": "/console/appeals/?status=received"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/appeals/?status=received"
    for appeal in road:
        appeal = reload(appeal)
        assert (appeal.status, appeal.lead_unit_id) == ("dispatched", world.town.pk)
    assert reload(noise).status == "received"
    shown = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert len(shown) == 3 and all("dispatched to" in m for m in shown)


def test_bulk_dispatch_reports_each_failure_and_skips_unseen(world):
    ok = submitted(world)
    already = dispatched(world)
    client = client_for(world["town_dispatcher"])
    far = submitted(world, territory=world.other_village)  # outside the town dispatcher's scope
    client.post("/console/appeals/bulk-dispatch/", {"ids": [ok.pk, already.pk, far.pk]})
    shown = [str(m) for m in client.get("/console/").context["messages"]]
    assert len(shown) == 3
    assert reload(ok).status == "dispatched"
    assert reload(far).status == "received"
    assert any(already.tracking_code in m and "not dispatched" in m for m in shown)
    assert any(f"#{far.pk}" in m for m in shown)


def test_bulk_controls_only_for_dispatchers(world):
    submitted(world)
    page = client_for(world["town_handler"]).get("/console/appeals/").content.decode()
    assert "bulk-dispatch" not in page


# ---------------------------------------------------------------- detail


def test_detail_shows_masked_contact_and_timeline(world):
    appeal = in_progress(world)
    response = client_for(world["dispatcher"]).get(detail_url(appeal))
    page = response.content.decode()
    assert response.status_code == 200
    assert appeal.citizen_phone not in page
    assert "王**" in page and "王小明" not in page
    assert [e["action"] for e in response.context["events"]] == ["submit", "dispatch", "accept"]
    assert "Reveal name and phone" in page
    assert "left" in page  # completion deadline with time left


def test_reveal_is_audited_and_shows_the_number(world):
    appeal = in_progress(world)
    client = client_for(world["dispatcher"])
    before = AuditRecord.objects.filter(action="appeal.reveal_contact").count()
    response = client.post(f"/console/appeals/{appeal.pk}/reveal/", {"purpose": "回访"})
    assert response.status_code == 200
    assert appeal.citizen_phone in response.content.decode()
    assert "王小明" in response.content.decode()
    assert response["Cache-Control"] == "private, no-store"
    records = AuditRecord.objects.filter(action="appeal.reveal_contact")
    assert records.count() == before + 1
    assert records.latest("pk").actor_id == world["dispatcher"].pk
    # The next plain view is masked again.
    assert appeal.citizen_phone not in client.get(detail_url(appeal)).content.decode()


def test_reveal_refused_for_an_auditor(world):
    appeal = in_progress(world)
    client = client_for(world["auditor"])
    assert "Reveal name and phone" not in client.get(detail_url(appeal)).content.decode()
    response = client.post(f"/console/appeals/{appeal.pk}/reveal/")
    assert response.status_code == 403
    assert appeal.citizen_phone not in response.content.decode()
    assert not AuditRecord.objects.filter(action="appeal.reveal_contact").exists()


def test_out_of_scope_handler_gets_404_and_nothing_changes(world):
    appeal = dispatched(world)
    before = snapshot(appeal)
    client = client_for(world["other_handler"])
    assert client.get(detail_url(appeal)).status_code == 404
    assert client.post(action_url(appeal, "accept")).status_code == 404
    assert client.post(f"/console/appeals/{appeal.pk}/reveal/").status_code == 404
    assert snapshot(appeal) == before
    assert client.post(action_url(appeal, "no_such_action")).status_code == 404


def test_town_handler_sees_exactly_the_allowed_actions(world):
    appeal = dispatched(world)
    response = client_for(world["town_handler"]).get(detail_url(appeal))
    assert rendered_actions(response) == ["accept", "return", "transfer"]
    transfer = next(a["form"] for a in response.context["action_forms"] if a["name"] == "transfer")
    assert [c[0] for c in transfer.fields["unit"].choices] == ["", str(world.village.pk)]
    dispatcher_view = client_for(world["dispatcher"]).get(detail_url(appeal))
    assert rendered_actions(dispatcher_view) == ["redispatch", "merge", "supplement"]


def test_accept_through_the_console(world):
    appeal = dispatched(world)
    client = client_for(world["town_handler"])
    response = client.post(action_url(appeal, "accept"))
    assert response.status_code == 302 and response["Location"] == detail_url(appeal)
    assert reload(appeal).status == "in_progress"
    follow = client.get(detail_url(appeal))
    assert any(appeal.tracking_code in str(m) for m in follow.context["messages"])


def test_return_needs_a_reason(world):
    appeal = dispatched(world)
    before = snapshot(appeal)
    client = client_for(world["town_handler"])
    response = client.post(action_url(appeal, "return"), {"reason": "   "})
    assert response.status_code == 422
    form = next(a["form"] for a in response.context["action_forms"] if a["name"] == "return")
    assert form.errors["reason"] == ["A reason is required for this action."]
    assert 'id="id_return_reason_error"' in response.content.decode()
    assert snapshot(appeal) == before
    response = client.post(action_url(appeal, "return"), {"reason": "属于环保局职责"})
    assert response.status_code == 302
    appeal = reload(appeal)
    assert (appeal.status, appeal.return_count) == ("returned", 1)


def test_refused_transition_comes_back_with_409(world):
    appeal = in_progress(world)
    before = snapshot(appeal)
    response = client_for(world["town_handler"]).post(action_url(appeal, "accept"))
    assert response.status_code == 409
    assert "not possible in the appeal&#x27;s current state" in response.content.decode()
    assert snapshot(appeal) == before


def test_reply_and_approve_reply(world):
    appeal = in_progress(world)
    client_for(world["town_handler"]).post(action_url(appeal, "reply"), {"reply": "已修复。"})
    assert reload(appeal).status == "replied"
    assert reload(appeal).reply == "已修复。"
    response = client_for(world["supervisor"]).post(action_url(appeal, "approve_reply"), {})
    assert response.status_code == 302
    appeal = reload(appeal)
    assert (appeal.status, appeal.closed_on_time) == ("closed", True)


def test_extension_request_and_approval(world):
    appeal = in_progress(world)
    due = appeal.due_at
    client = client_for(world["town_handler"])
    bad = client.post(
        action_url(appeal, "request_extension"),
        {"amount": "0", "time_unit": "working_days", "reason": "需要协调"},
    )
    assert bad.status_code == 422
    assert not ExtensionRequest.objects.exists()
    response = client.post(
        action_url(appeal, "request_extension"),
        {"amount": "3", "time_unit": "working_days", "reason": "需要协调施工队"},
    )
    assert response.status_code == 302
    request = ExtensionRequest.objects.get()
    assert (request.amount, request.unit, request.state) == (3, "working_days", "pending")
    assert "request_extension" not in rendered_actions(client.get(detail_url(appeal)))
    supervisor = client_for(world["supervisor"])
    assert "approve_extension" in rendered_actions(supervisor.get(detail_url(appeal)))
    supervisor.post(action_url(appeal, "approve_extension"), {"note": ""})
    assert reload(appeal).due_at > due


def test_dispatch_through_the_console(world):
    appeal = submitted(world)
    client = client_for(world["dispatcher"])
    assert "dispatch" in rendered_actions(client.get(detail_url(appeal)))
    response = client.post(action_url(appeal, "dispatch"), {"unit": str(world.dept.pk)})
    assert response.status_code == 302
    appeal = reload(appeal)
    assert (appeal.status, appeal.lead_unit_id) == ("dispatched", world.dept.pk)
    assert appeal.due_at is not None


def test_dispatch_to_the_root_is_refused_next_to_the_unit(world):
    appeal = submitted(world)
    before = snapshot(appeal)
    response = client_for(world["dispatcher"]).post(
        action_url(appeal, "dispatch"), {"unit": str(world.city.pk)}
    )
    assert response.status_code == 422
    form = next(a["form"] for a in response.context["action_forms"] if a["name"] == "dispatch")
    assert "unit" in form.errors  # the root is not among the choices at all
    assert snapshot(appeal) == before


def test_callback_rating_and_merge(world):
    done = closed(world)
    agent = client_for(world["agent"])
    assert "rate" in rendered_actions(agent.get(detail_url(done)))
    agent.post(action_url(done, "rate"), {"rating": "satisfied", "solved": "yes", "comment": ""})
    done = reload(done)
    assert (done.rating, done.solved) == ("satisfied", True)
    target = dispatched(world)
    duplicate = submitted(world)
    dispatcher = client_for(world["dispatcher"])
    missing = dispatcher.post(action_url(duplicate, "merge"), {"into": "NOSUCHCODE"})
    assert missing.status_code == 422
    assert reload(duplicate).status == "received"
    dispatcher.post(action_url(duplicate, "merge"), {"into": target.tracking_code.lower()})
    duplicate = reload(duplicate)
    assert (duplicate.status, duplicate.merged_into_id) == ("merged", target.pk)


def test_get_on_an_action_is_not_allowed(world):
    appeal = dispatched(world)
    response = client_for(world["town_handler"]).get(action_url(appeal, "accept"))
    assert response.status_code == 405
    assert reload(appeal).status == "dispatched"


# ---------------------------------------------------------------- intake


def intake_body(world, **overrides) -> dict:
    body = {
        "key": "form-key-1",
        "phone": "13800001111",
        "name": "赵六",
        "channel": "hotline",
        "appeal_type": "complaint",
        "urgency": "normal",
        "category": str(world.road.pk),
        "territory": str(world.village.pk),
        "address": "东村村口",
        "content": "村口路灯坏了一个月。",
        "reply": "",
        "intent": "register",
    }
    body.update(overrides)
    return body


def test_intake_page_offers_grouped_pickers_and_a_key(world):
    response = client_for(world["agent"]).get("/console/intake/")
    page = response.content.decode()
    assert response.status_code == 200
    assert '<optgroup label="城乡建设">' in page
    assert '<optgroup label="和兴镇">' in page
    assert re.search(r'name="key" value="[\w-]{16,}"', page)
    assert "Register and close directly" in page
    assert client_for(world["auditor"]).get("/console/intake/").status_code == 403


def test_intake_registers_and_shows_the_detail(world):
    client = client_for(world["agent"])
    response = client.post("/console/intake/", intake_body(world))
    appeal = Appeal.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(appeal)
    assert (appeal.channel, appeal.citizen_phone, appeal.intake_by_id) == (
        "hotline",
        "13800001111",
        world["agent"].pk,
    )
    assert appeal.territory_id == world.village.pk


def test_intake_suggests_the_catalogue_unit_without_saving(world):
    response = client_for(world["agent"]).post(
        "/console/intake/", intake_body(world, intent="suggest")
    )
    assert response.status_code == 200
    assert response.context["suggestion"]["unit"] == world.town
    assert not Appeal.objects.exists()


def test_intake_shows_the_callers_history(world):
    earlier = closed(world, phone="13800002222")
    submitted(world, phone="13900003333")
    response = client_for(world["agent"]).get("/console/intake/?phone=138-0000-2222")
    assert [row["tracking_code"] for row in response.context["history"]] == [earlier.tracking_code]
    assert earlier.tracking_code in response.content.decode()
    assert response.context["form"]["phone"].value() == "138-0000-2222"


def test_intake_with_errors_keeps_everything_and_saves_nothing(world):
    response = client_for(world["agent"]).post(
        "/console/intake/", intake_body(world, phone="12", content="路灯坏了")
    )
    assert response.status_code == 422
    assert response.context["form"].errors["phone"] == ["This is not a valid phone number."]
    assert "路灯坏了" in response.content.decode()
    assert not Appeal.objects.exists()


def test_intake_direct_close(world):
    client = client_for(world["agent"])
    empty = client.post(
        "/console/intake/", intake_body(world, appeal_type="consultation", intent="close")
    )
    assert empty.status_code == 422
    assert "reply" in empty.context["form"].errors
    assert not Appeal.objects.exists()  # the submission went with the refused close
    response = client.post(
        "/console/intake/",
        intake_body(
            world,
            key="form-key-2",
            appeal_type="consultation",
            intent="close",
            reply="周一至周五办理。",
        ),
    )
    appeal = Appeal.objects.get()
    assert response.status_code == 302
    assert (appeal.status, appeal.reply) == ("closed", "周一至周五办理。")


def test_intake_double_post_creates_one_appeal(world):
    client = client_for(world["agent"])
    first = client.post("/console/intake/", intake_body(world))
    second = client.post("/console/intake/", intake_body(world))
    assert Appeal.objects.count() == 1
    assert first["Location"] == second["Location"] == detail_url(Appeal.objects.get())
    shown = [str(m) for m in client.get("/console/").context["messages"]]
    assert any("already sent" in m for m in shown)


def test_an_action_outside_the_role_is_403_and_changes_nothing(world):
    appeal = replied(world)
    before = snapshot(appeal)
    # The town handler sees its own reply but may not approve it.
    response = client_for(world["town_handler"]).post(action_url(appeal, "approve_reply"))
    assert response.status_code == 403
    assert "Your role may not take this action" in response.content.decode()
    assert snapshot(appeal) == before


def test_deadline_worklists_are_the_same_read_by_their_ids_or_by_their_condition(
    world, monkeypatch
):
    late = [in_progress(world) for _ in range(3)]
    in_progress(world)  # not late
    Appeal.objects.filter(pk__in=[a.pk for a in late]).update(
        due_at=timezone.now() - timedelta(hours=2)
    )
    client = client_for(world["dispatcher"])
    by_ids = queue_codes(client.get("/console/appeals/?overdue=1"))
    monkeypatch.setattr(selectors, "WORKLIST_IDS_INLINE", 0)  # more than this: the condition
    by_condition = queue_codes(client.get("/console/appeals/?overdue=1"))
    assert by_ids == by_condition == [a.tracking_code for a in reversed(late)]
