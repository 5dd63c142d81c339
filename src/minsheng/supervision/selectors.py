"""Scoped reads of supervision: a user's orders, an appeal's warnings and orders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.forms import Form

from minsheng.appeals import permissions as appeal_permissions
from minsheng.appeals import selectors as appeal_selectors
from minsheng.appeals import workflow
from minsheng.appeals.choices import Action
from minsheng.appeals.models import Appeal
from minsheng.org.choices import Role
from minsheng.org.models import User
from minsheng.org.selectors import paths_for, unit_ids_under

from .choices import Level
from .forms import OrderForm, RemindForm
from .models import DeadlineWarning, Escalation, SupervisionOrder
from .permissions import may_answer


def orders_for(user: User) -> QuerySet[SupervisionOrder]:
    """Orders addressed to units the user leads (their subtree), and orders on appeals the
    user may see (the center's staff): a per-row test on the order (its unit among the led
    units' ids) or on its appeal (``EXISTS`` on the appeal's primary key in scope)."""
    if appeal_permissions.sees_whole_city(user):
        return SupervisionOrder.objects.all()
    in_scope = Exists(appeal_selectors.appeals_for(user).filter(pk=OuterRef("appeal_id")))
    led = unit_ids_under(paths_for(user, [Role.UNIT_LEADER]))
    return SupervisionOrder.objects.filter(Q(unit_id__in=led) | in_scope if led else in_scope)


# A page of orders.
ORDERS_PAGE = 50


def _page_sources(user: User) -> list[tuple[QuerySet[SupervisionOrder], bool]]:
    """Where the orders page's rows come from: the orders addressed to the units the user
    leads (theirs to answer), and for the center's staff the orders on appeals their center
    posts cover (the whole city: every order); each with whether it is the led units'.

    Each source is read on its own, its page taken by index and the pages merged: one query
    OR'ing them made PostgreSQL hash every appeal of a township leader's scope first (316 ms
    at 2M appeals), and reading open orders in deadline order to test each against the scope
    read most of them for a leader of few units (docs/scaling.md "Supervision orders page").
    A leader's other ways into an appeal (co-handling, intake) show its orders on the
    appeal's page, not here.
    """
    center = appeal_permissions.center_scope(user)
    if appeal_permissions.covers_city(center):
        return [(SupervisionOrder.objects.all(), False)]
    sources = []
    led = unit_ids_under(paths_for(user, [Role.UNIT_LEADER]))
    if led:
        sources.append((SupervisionOrder.objects.filter(unit_id__in=led), True))
    if center is not None:
        covered = Appeal.objects.filter(center, pk=OuterRef("appeal_id"))
        sources.append((SupervisionOrder.objects.filter(Exists(covered)), False))
    return sources


# The led units' open orders are sorted by an expression, not the column: ordered by the
# column, PostgreSQL walked ``order_open_due`` through the city's open orders (62,000 at 10M
# appeals, 25 ms) to find a township's 500 there; this way it reads those 500 from
# ``order_open_unit`` and sorts them.
_DUE_UNINDEXED = Coalesce("response_due_at", "issued_at")


def open_orders_page(user: User, *, include_answered: bool = False) -> list[dict[str, Any]]:
    """The page's most urgent open orders (with answered ones: the newest first)."""
    rows: set[tuple[Any, ...]] = set()
    for source, by_unit in _page_sources(user):
        if include_answered:
            page = source.order_by("-pk").values_list("pk")
        else:
            due = _DUE_UNINDEXED if by_unit else F("response_due_at")
            page = (
                source.filter(responded_at__isnull=True)
                .order_by(due, "pk")
                .values_list("pk", "response_due_at")
            )
        rows.update(page[:ORDERS_PAGE])
    if include_answered:
        ranked = sorted(rows, key=lambda row: -row[0])
    else:
        ranked = sorted(rows, key=lambda row: (row[1], row[0]))
    ids = [row[0] for row in ranked[:ORDERS_PAGE]]
    related = ("appeal", "unit", "issued_by", "responded_by")
    by_id = SupervisionOrder.objects.select_related(*related).in_bulk(ids)
    return [{"order": by_id[i], "may_answer": may_answer(user, by_id[i])} for i in ids]


def may_remind(user: User, appeal: Appeal) -> bool:
    return workflow.can_start(Action.REMIND, appeal.status) and appeal_permissions.can_act(
        user, Action.REMIND, appeal
    )


def may_supervise(user: User, appeal: Appeal) -> bool:
    return workflow.can_start(Action.SUPERVISE, appeal.status) and appeal_permissions.can_act(
        user, Action.SUPERVISE, appeal
    )


def detail_panel(
    user: User, appeal: Appeal, bound: dict[str, Form] | None = None
) -> dict[str, Any]:
    """What the appeal's detail page shows of supervision (the caller has checked scope)."""
    bound = bound or {}
    return {
        "warnings": list(
            DeadlineWarning.objects.filter(appeal=appeal, cleared_at__isnull=True).order_by(
                "raised_at", "pk"
            )
        ),
        "orders": [
            {"order": order, "may_answer": may_answer(user, order)}
            for order in SupervisionOrder.objects.filter(appeal=appeal)
            .select_related("unit", "issued_by", "responded_by")
            .order_by("issued_at", "pk")
        ],
        "escalation": Escalation.objects.filter(appeal=appeal).first(),
        "remind_form": (bound.get("remind") or RemindForm(auto_id="id_remind_%s"))
        if may_remind(user, appeal)
        else None,
        "order_form": (bound.get("supervise") or OrderForm(auto_id="id_supervise_%s"))
        if may_supervise(user, appeal)
        else None,
    }


def yellow_warned(appeal_ids: Iterable[int]) -> set[int]:
    """Those of the appeals with a yellow warning not yet cleared (the queue's marker)."""
    return set(
        DeadlineWarning.objects.filter(
            appeal_id__in=list(appeal_ids), level=Level.YELLOW, cleared_at__isnull=True
        ).values_list("appeal_id", flat=True)
    )


def sees_supervision(user: User) -> bool:
    """Whether the console's navigation shows the supervision orders page."""
    from minsheng.org.selectors import roles_of

    return bool(roles_of(user) & {Role.UNIT_LEADER, *appeal_permissions.CENTER_VIEW_ROLES})
