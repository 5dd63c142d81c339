"""并单 suggestions: the open appeals probably about the same problem as an appeal (or as the text
and place typed at intake).

Candidates are the user's visible, open appeals of the same township (or street) received within
``MINSHENG_DUPLICATE_DAYS`` (default 30), newest first, at most ``MAX_CANDIDATES``: one bounded
query, served by the partial index of open appeals on ``(territory, created_at)``
(``appeal_merge_candidates``: one short range per village of the township). Each is scored
by the cosine of the character 2–3-gram vectors of the candidates and the text
(``similarity.vectorize``, no model file), times 1 in the same village or community and
``NEIGHBOUR_WEIGHT`` elsewhere in the township; ``MIN_SCORE`` was set on the real messages
(bench/RESULTS.md, "Hotspots"). Without a place there is no suggestion: a repeated problem is a
problem of one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from minsheng.appeals.models import MERGE_CANDIDATES, Appeal
from minsheng.appeals.selectors import appeals_for
from minsheng.core import clock
from minsheng.org.choices import UnitKind
from minsheng.org.models import OrgUnit, User

from .similarity import vectorize

DEFAULT_DAYS = 30
MAX_CANDIDATES = 300
MIN_SCORE = 0.25
NEIGHBOUR_WEIGHT = 0.8
LIMIT = 5
# Places below a township or street: a duplicate may sit in a neighbouring one.
_LEAF_KINDS = frozenset({UnitKind.VILLAGE, UnitKind.COMMUNITY})


@dataclass(frozen=True)
class Related:
    appeal: Appeal
    score: float  # 0–1: similarity × place weight
    similarity: float
    same_place: bool

    @property
    def percent(self) -> int:
        return round(self.score * 100)


def window_days() -> int:
    return int(getattr(settings, "MINSHENG_DUPLICATE_DAYS", DEFAULT_DAYS))


def area_of(territory: OrgUnit) -> OrgUnit:
    """The township (or street) a village belongs to; any other place is its own area."""
    if territory.kind in _LEAF_KINDS and territory.parent_id is not None:
        return territory.parent  # type: ignore[return-value]
    return territory


def text_of(appeal: Appeal) -> str:
    return f"{appeal.title}。{appeal.content}" if appeal.title else appeal.content


def related(
    user: User,
    *,
    text: str,
    territory: OrgUnit | None,
    exclude: int | None = None,
    now: datetime | None = None,
    limit: int = LIMIT,
) -> list[Related]:
    """The likeliest duplicates the user may see, best first (none without text or place)."""
    if territory is None or not text.strip():
        return []
    now = now or clock.now()
    area = area_of(territory)
    candidates = (
        appeals_for(user)
        .filter(
            MERGE_CANDIDATES,  # the partial index's own condition (appeals.models)
            territory__in=OrgUnit.objects.filter(path__startswith=area.path).values("pk"),
            created_at__gte=now - timedelta(days=window_days()),
            created_at__lte=now,
        )
        .exclude(pk=exclude)
        .select_related("territory")
        .order_by("-id")[:MAX_CANDIDATES]
    )
    found = list(candidates)
    if not found:
        return []
    matrix = vectorize([text, *(text_of(a) for a in found)])
    similarities = (matrix[1:] @ matrix[0].T).toarray().ravel()
    scored = []
    for appeal, similarity in zip(found, similarities, strict=True):
        same = appeal.territory_id == territory.pk
        score = float(similarity) * (1.0 if same else NEIGHBOUR_WEIGHT)
        if score >= MIN_SCORE:
            scored.append(Related(appeal, round(score, 3), round(float(similarity), 3), same))
    scored.sort(key=lambda r: (-r.score, -r.appeal.pk))
    return scored[:limit]
