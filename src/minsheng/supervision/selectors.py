"""Scoped reads of supervision: a user's orders, an appeal's warnings and orders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
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
    if not appeal_permissions.visible_to(user):  # the whole city
        return SupervisionOrder.objects.all()
    in_scope = Exists(appeal_selectors.appeals_for(user).filter(pk=OuterRef("appeal_id")))
    led = unit_ids_under(paths_for(user, [Role.UNIT_LEADER]))
    return SupervisionOrder.objects.filter(Q(unit_id__in=led) | in_scope if led else in_scope)


# A page of orders (each open one carries its answer form), and the rows read per step when
# the scope is checked in Python.
ORDERS_PAGE = 50
SCAN_CHUNK = 2000


def open_orders_page(user: User, *, include_answered: bool = False) -> list[dict[str, Any]]:
    """The most urgent open orders in the user's scope (with answered ones: the newest).

    Open orders are few (a partial index holds them, in answer-deadline order), so they are
    read in that order a chunk at a time and kept if in scope: the led units' ids in Python,
    the rest by one primary-key query per chunk. A single query OR'ing the two made
    PostgreSQL hash every appeal of the user's scope first (316 ms for a township leader at
    2M appeals; docs/scaling.md).
    """
    related = ("appeal", "unit", "issued_by", "responded_by")
    if include_answered:
        # the history, newest first (the addressed unit's index, or the primary key)
        orders = orders_for(user).select_related(*related).order_by("-pk")[:ORDERS_PAGE]
        return [{"order": o, "may_answer": may_answer(user, o)} for o in orders]
    ids = _open_order_ids_in_scope(user)
    by_id = SupervisionOrder.objects.select_related(*related).in_bulk(ids)
    return [{"order": by_id[i], "may_answer": may_answer(user, by_id[i])} for i in ids]


def _open_order_ids_in_scope(user: User) -> list[int]:
    open_orders = SupervisionOrder.objects.filter(responded_at__isnull=True).order_by(
        "response_due_at", "pk"
    )
    everything = not appeal_permissions.visible_to(user)
    led = set(unit_ids_under(paths_for(user, [Role.UNIT_LEADER])))
    scope = appeal_selectors.appeals_for(user)  # built once: its unit ids are read now
    kept: list[int] = []
    after: tuple[Any, int] | None = None
    while len(kept) < ORDERS_PAGE:
        chunk = open_orders
        if after is not None:
            due, pk = after
            chunk = chunk.filter(Q(response_due_at__gt=due) | Q(response_due_at=due, pk__gt=pk))
        rows = list(chunk.values_list("pk", "appeal_id", "unit_id", "response_due_at")[:SCAN_CHUNK])
        if not rows:
            break
        after = (rows[-1][3], rows[-1][0])
        if everything:
            kept += [pk for pk, *_rest in rows]
            continue
        others = {appeal for _pk, appeal, unit, _due in rows if unit not in led}
        visible = set(scope.filter(pk__in=others).values_list("pk", flat=True)) if others else set()
        kept += [pk for pk, appeal, unit, _due in rows if unit in led or appeal in visible]
    return kept[:ORDERS_PAGE]


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
