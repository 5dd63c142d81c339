"""Scoped reads of appeals: queues with filters and keyset paging, detail, caller history."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    Func,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.utils import timezone

from minsheng.core.errors import DomainError
from minsheng.org.models import OrgUnit, User
from minsheng.org.selectors import unit_ids_under

from . import permissions, services
from .choices import Status
from .errors import AppealError
from .models import Appeal, AppealEvent, Category


def appeals_for(user: User) -> QuerySet[Appeal]:
    """Every staff read starts here (DESIGN.md invariant 3)."""
    return Appeal.objects.filter(permissions.visible_to(user))


# Statuses whose completion clock is running (suspended: stopped; replied: under review).
RUNNING = (Status.DISPATCHED, Status.IN_PROGRESS, Status.RETURNED)


def attention_filters(now: datetime) -> dict[str, Q]:
    """What needs someone's attention, by name: the console's home counts and queue shortcuts."""
    running = Q(status__in=RUNNING)
    return {
        "to_dispatch": Q(status=Status.RECEIVED),
        "to_accept": Q(status=Status.DISPATCHED),
        "in_progress": Q(status=Status.IN_PROGRESS),
        "due_24h": running & Q(due_at__gte=now, due_at__lt=now + timedelta(hours=24)),
        "overdue": running & Q(due_at__lt=now),
        "returned": Q(status=Status.RETURNED),
        "replied": Q(status=Status.REPLIED),
        "unrated": Q(
            status=Status.CLOSED,
            rating="",
            closed_at__gte=now - timedelta(days=settings.MINSHENG_CALLBACK_DAYS),
        ),
    }


@dataclass
class QueueFilter:
    status: list[str] = field(default_factory=list)
    unit: int | None = None  # lead unit, including its subtree
    channel: list[str] = field(default_factory=list)
    appeal_type: list[str] = field(default_factory=list)
    category: int | None = None  # including subcategories
    received_from: datetime | None = None
    received_to: datetime | None = None
    text: str = ""
    due_24h: bool = False  # running, completion deadline within the next 24 hours
    overdue: bool = False  # running, past its completion deadline
    unrated: bool = False  # closed within the callback window, not yet rated
    place: int | None = None  # territory (township, village), including its subtree
    counted: bool = False  # only appeals the statistics count: neither invalid nor merged
    sort: str = "newest"  # one of SORTS


# Queue orders. Each is a total order (the id breaks ties), so keyset paging never skips or
# repeats a row: "due" puts the soonest completion deadline first and appeals without one last.
SORTS = ("newest", "oldest", "due")


def _cursor_encode(pk: int, due: datetime | None = None, *, sort: str = "newest") -> str:
    body: dict[str, object] = {"id": pk}
    if sort == "due":
        body["due"] = due.isoformat() if due else None
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def _cursor_decode(cursor: str, *, sort: str = "newest") -> tuple[int, datetime | None]:
    """The last row of the previous page: its id, and its deadline when sorting by deadline."""
    bad = DomainError(AppealError.NOT_FOUND, {"field": "cursor"})
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = body["id"]
        due_text = body.get("due") if sort == "due" else None
        if sort == "due" and "due" not in body:
            raise KeyError("due")
        due = datetime.fromisoformat(due_text) if due_text is not None else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise bad from exc
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad
    if due is not None and due.tzinfo is None:
        raise bad
    return value, due


def _after(sort: str, pk: int, due: datetime | None) -> Q:
    """Rows after (pk, due) in the given order."""
    if sort == "oldest":
        return Q(pk__gt=pk)
    if sort == "due":
        if due is None:  # already among the appeals without a deadline, which come last
            return Q(due_at__isnull=True, pk__gt=pk)
        return Q(due_at__gt=due) | Q(due_at=due, pk__gt=pk) | Q(due_at__isnull=True)
    return Q(pk__lt=pk)


_ORDER = {
    "newest": ("-pk",),
    "oldest": ("pk",),
    "due": (F("due_at").asc(nulls_last=True), "pk"),
}


@dataclass
class Page:
    items: list[Appeal]
    next_cursor: str | None


def queue_queryset(user: User, filters: QueueFilter) -> QuerySet[Appeal]:
    """The queue's appeals (the user's scope and the filters), unordered: the console's pages
    and the xlsx export read the same set."""
    qs = appeals_for(user)
    attention = attention_filters(timezone.now())
    for name in ("due_24h", "overdue", "unrated"):
        if getattr(filters, name):
            qs = qs.filter(_worklist(attention[name]))
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.channel:
        qs = qs.filter(channel__in=filters.channel)
    if filters.appeal_type:
        qs = qs.filter(appeal_type__in=filters.appeal_type)
    if filters.unit is not None:
        unit = OrgUnit.objects.filter(pk=filters.unit).first()
        qs = qs.filter(lead_unit_id__in=unit_ids_under([unit.path])) if unit else qs.none()
    if filters.place is not None:
        place = OrgUnit.objects.filter(pk=filters.place).first()
        qs = qs.filter(territory_id__in=unit_ids_under([place.path])) if place else qs.none()
    if filters.counted:
        qs = qs.exclude(status__in=(Status.INVALID, Status.MERGED))
    if filters.category is not None:
        category = Category.objects.filter(pk=filters.category).first()
        if category is None:
            qs = qs.none()
        else:
            ids = [category.pk]
            frontier = [category.pk]
            while frontier:  # taxonomy is 2–3 levels: at most two more small queries
                frontier = list(
                    Category.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
                )
                ids += frontier
            qs = qs.filter(category_id__in=ids)
    if filters.received_from:
        qs = qs.filter(created_at__gte=filters.received_from)
    if filters.received_to:
        qs = qs.filter(created_at__lt=filters.received_to)
    if filters.text:
        qs = qs.filter(_text_match(filters.text.strip(), within=qs))
    return qs


# The deadline worklists are short (a city's overdue appeals are hundreds or thousands, not
# millions). PostgreSQL cannot see that: it takes "running" and "due before now" as independent
# and, most appeals' deadlines being past, expects ~5 % of the table; newest first it then
# walked the id index through 335,000 rows for a page (10M appeals, 64 ms). Their ids are read
# first, by the deadline index, and named in the queue's query; above this many, the condition.
WORKLIST_IDS_INLINE = 20_000


def _worklist(condition: Q) -> Q:
    ids = list(
        Appeal.objects.filter(condition).values_list("pk", flat=True)[: WORKLIST_IDS_INLINE + 1]
    )
    return condition if len(ids) > WORKLIST_IDS_INLINE else Q(pk__in=ids)


def _sort(filters: QueueFilter) -> str:
    return filters.sort if filters.sort in SORTS else "newest"


# A search ANDs the bitmap of the scope's indexes with the bigram index's. Each must stay exact
# (a bit per row): past ``work_mem`` PostgreSQL keeps one bit per page instead and rechecks the
# text of every row on those pages (a township leader, 10M appeals: 1,068 ms at the default
# 4 MB, 79 ms at 16 MB). Set for the search's own transaction only.
SEARCH_WORK_MEM = "64MB"


def queue(user: User, filters: QueueFilter, *, cursor: str | None = None, limit: int = 50) -> Page:
    """In ``filters.sort`` order (newest first by default), keyset-paged: stable under inserts,
    no OFFSET scans."""
    sort = _sort(filters)
    qs = queue_queryset(user, filters)
    if cursor:
        qs = qs.filter(_after(sort, *_cursor_decode(cursor, sort=sort)))
    page = qs.select_related("category", "territory", "lead_unit").order_by(*_ORDER[sort])
    if filters.text and connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor_:
            cursor_.execute(f"SET LOCAL work_mem = '{SEARCH_WORK_MEM}'")
            rows = list(page[: limit + 1])
    else:
        rows = list(page[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = _cursor_encode(last.pk, last.due_at, sort=sort)
    return Page(items=rows[:limit], next_cursor=next_cursor)


def queue_values(
    user: User, filters: QueueFilter, fields: Sequence[str], *, chunk: int = 2000
) -> Iterator[tuple[Any, ...]]:
    """The whole queue in its order as tuples of ``fields``, ``chunk`` rows per query.

    For exports of any size: the same set and order as ``queue``, keyset-paged, without model
    instances (building four per row was half the time of a large export).
    """
    sort = _sort(filters)
    ordered = queue_queryset(user, filters).order_by(*_ORDER[sort])
    after: Q | None = None
    while True:
        qs = ordered.filter(after) if after is not None else ordered
        rows = list(qs.values_list("pk", "due_at", *fields)[:chunk])
        for row in rows:
            yield row[2:]
        if len(rows) < chunk:
            return
        after = _after(sort, rows[-1][0], rows[-1][1])


_TRACKING_CODE = re.compile(f"[{services.TRACKING_ALPHABET}]{{{services.TRACKING_LENGTH}}}")


def _text_match(text: str, within: QuerySet[Appeal] | None = None) -> Q:
    """The queue's search box: a tracking code, or words in the content, title or address.

    A code is looked up by its unique index alone; reading every appeal's text for it took
    0.1 s at 100,000 appeals. Text without letter case (Chinese, digits) is compared as it is:
    ``UPPER()`` of every content, which ``icontains`` costs, was two thirds of a search.
    On PostgreSQL the bigram index narrows the rows first (``_bigram_match``): a rare word
    read every appeal in scope, seconds at a million. SQLite keeps the LIKE alone.
    ``within``: the rest of the queue's filters (the user's scope first), for the guard
    between the two ways (``_walk_is_cheaper``).
    """
    code = services.normalize_tracking_code(text)
    if _TRACKING_CODE.fullmatch(code):
        return Q(tracking_code=code)
    lookup = "contains" if text.upper() == text.lower() else "icontains"
    words = (
        Q(**{f"content__{lookup}": text})
        | Q(**{f"title__{lookup}": text})
        | Q(**{f"address__{lookup}": text})
    )
    by_code = Q(tracking_code=code)
    if (
        not text
        or connection.vendor != "postgresql"
        or _walk_is_cheaper(words, Appeal.objects.all() if within is None else within)
    ):
        return words | by_code
    # (grams AND words) OR code, written as two top-level conditions: PostgreSQL then answers
    # the first with the GIN index (or the code's index) and does not evaluate it again per row,
    # and walking the id index it tests the cheaper LIKE first. Nested inside one OR, the
    # vector was rebuilt for every candidate row.
    return (Q(_bigram_match(text)) | by_code) & (words | by_code)


# The guard between the two ways to a page of search results. Walking the id index newest
# first reads about PAGE * RECENT_APPEALS / here rows (``here``: the queue's rows among the
# newest RECENT_APPEALS appeals that hold the text); the bigram index, its bitmap ANDed with the
# scope's, fetches the queue's appeals that hold the text, about here * newest_id /
# RECENT_APPEALS rows (the city's: every match), each a random heap fetch:
# INDEX_ROW_COST times a row of the walk (1M appeals: 5.6 µs against 0.5–1.1 µs, the walk's
# cost depending on the scope's test). As the table grows the index's share grows with it and
# the walk's does not: the guard then prefers the walk for ever rarer words.
RECENT_APPEALS = 20_000
PAGE = 51
INDEX_ROW_COST = 5


def _walk_is_cheaper(words: Q, within: QuerySet[Appeal]) -> bool:
    """Whether walking the id index finds a page of ``words`` sooner than the bigram index.

    One bounded query over the newest RECENT_APPEALS appeals: how many hold the text, how many
    of those are in the queue (``within``: scope and filters, checked for those rows only),
    and the newest id (the table's size). PostgreSQL cannot tell by itself: it estimates a
    word's bigrams as independent (their frequencies multiplied, then multiplied again by the
    LIKE's), so a common phrase looked rare to it; it read every match through the index and
    sorted them (a phrase in 3.6 % of the appeals: 3,599 rows at 100,000 appeals, 36,000 at a
    million, 750,000 it would be at 21 million, where the walk still reads ~1,500).
    """
    if within.query.is_empty():
        return False
    newest = Appeal.objects.order_by("-pk").values("pk")[RECENT_APPEALS - 1 : RECENT_APPEALS]
    in_queue = Exists(within.filter(pk=OuterRef("pk")))
    seen = Appeal.objects.filter(pk__gte=Subquery(newest)).aggregate(
        anywhere=Count("pk", filter=words),
        here=Count("pk", filter=words & Q(in_queue)),
        top=Max("pk"),
    )
    if not seen["here"]:
        return False  # a walk might read every appeal
    walk = PAGE * RECENT_APPEALS / seen["here"]
    # The scope is an OR of index conditions (permissions.visible_to), which PostgreSQL ANDs
    # with the bigram index: the heap rows fetched are those in the queue, not every match.
    index = seen["here"] * seen["top"] / RECENT_APPEALS * INDEX_ROW_COST
    return walk <= index


def _bigram_match(text: str) -> Func:
    """``appeal_search_vector(title, content, address) @@ appeal_search_query(text)``.

    A necessary condition for the LIKE, answered by the ``appeal_search`` GIN index (migration
    0008 defines both functions): the rows holding every character bigram of the text. The
    expression must read as the index's does, or PostgreSQL cannot use the index.
    """
    vector = Func(
        F("title"),
        F("content"),
        F("address"),
        function="appeal_search_vector",
        output_field=TextField(),
    )
    query = Func(Value(text), function="appeal_search_query", output_field=TextField())
    return Func(
        vector, query, template="%(expressions)s", arg_joiner=" @@ ", output_field=BooleanField()
    )


def appeal_detail(user: User, appeal_id: int) -> Appeal:
    """One appeal with its timeline, assignments, extensions and attachments; 404 if unseen."""
    appeal = (
        appeals_for(user)
        .select_related("category", "territory", "lead_unit", "merged_into")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=AppealEvent.objects.select_related("actor", "unit").order_by("at", "pk"),
            ),
            "assignments__unit",
            "extensions",
            "attachments",
        )
        .filter(pk=appeal_id)
        .first()
    )
    if appeal is None:
        raise DomainError(AppealError.NOT_FOUND)
    return appeal


def caller_history(user: User, phone: str, limit: int = 20) -> list[Appeal]:
    """A caller's earlier appeals (hotline intake), within what the agent may see."""
    return list(
        appeals_for(user)
        .filter(citizen_phone=phone)
        .select_related("category", "territory", "lead_unit")
        .order_by("-pk")[:limit]
    )


def by_tracking(tracking_code: str, phone: str) -> Appeal:
    """A citizen's own appeal: both the code and the phone must match (no enumeration)."""
    appeal = (
        Appeal.objects.select_related("category", "territory", "lead_unit")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=AppealEvent.objects.filter(is_public=True)
                .select_related("unit")
                .order_by("at", "pk"),
                to_attr="public_events",
            )
        )
        .filter(tracking_code=tracking_code, citizen_phone=phone)
        .first()
    )
    if appeal is None:
        raise DomainError(AppealError.TRACKING_NOT_FOUND)
    return appeal
