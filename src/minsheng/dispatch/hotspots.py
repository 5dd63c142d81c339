"""热点: clusters of recent appeals about the same problem, by text and place.

Algorithm (chosen on the 4,326 real messages of ``bench/hotspots.py``, bench/RESULTS.md):
character 2–3-gram vectors of each appeal's start (``similarity.vectorize``; n-grams in more than
5 % of the texts dropped) and, given subjects (the appeals' titles), of the subject, each half of
the similarity (``similarity.vectorize_with_subjects``); the graph of the pairs at or above
``THRESHOLD`` (pairs in two different townships need ``CROSS_PLACE_THRESHOLD``), and its connected
components of at least ``MIN_SIZE``; the rest is noise. At 0.3 the real data's known topics
split, at 0.2 the largest component chains loosely related messages; 0.25 kept them whole.

Why the subject counts apart: texts alone joined only near-copies of one message. Different
people's accounts of one dispute share few n-grams (a school's students' complaints about forced
internships: cosine 0.02–0.16 between authors), so a dispute raised by several people split
into groups of 2–3 copies; their subjects name the same school and problem (0.2–0.8). With
subjects, at 0.27 that dispute splits again; at 0.25 its 10 messages are one cluster.
Agglomerative clustering would need the dense n × n distance matrix; the graph stays sparse.
The representative title is the member closest to the cluster's centroid.

Cost: hashing the n-grams and the sparse product X·Xᵀ; the product grows with the number of
pairs that share an uncommon n-gram, so quadratically in n with a small constant. The subject
block adds 13 % to X's non-zeros and 2 % to the pairs (measured, best of 3 on this shared 2-core
machine, texts alone / with subjects: 1,000 messages 0.5 / 0.4 s, 3,000 1.4 / 1.7 s, 4,326
2.6 / 3.0 s). ``MAX_APPEALS`` bounds it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from minsheng.appeals.choices import Status
from minsheng.appeals.models import Appeal
from minsheng.appeals.selectors import appeals_for
from minsheng.org.models import OrgUnit, User

from .duplicates import area_of, text_of
from .similarity import vectorize, vectorize_with_subjects

THRESHOLD = 0.25
CROSS_PLACE_THRESHOLD = 0.5
MIN_SIZE = 3
MAX_APPEALS = 6000


@dataclass
class Cluster:
    members: list[int]  # indices into the texts, in order
    ranked: list[int]  # the same, closest to the cluster's centroid first

    @property
    def representative(self) -> int:
        return self.ranked[0]


def cluster(
    texts: Sequence[str],
    places: Sequence[Hashable | None] | None = None,
    *,
    subjects: Sequence[str] | None = None,
    threshold: float = THRESHOLD,
    cross_place_threshold: float = CROSS_PLACE_THRESHOLD,
    min_size: int = MIN_SIZE,
) -> list[Cluster]:
    """Groups of at least ``min_size`` similar texts, largest first; the rest is noise.

    ``subjects`` (one per text, "" for none) take half of the similarity: see the module's
    docstring. Without them, texts alone are compared."""
    import numpy
    from scipy.sparse.csgraph import connected_components

    if len(texts) < max(min_size, 1):
        return []
    matrix = vectorize(texts) if subjects is None else vectorize_with_subjects(texts, subjects)
    graph = (matrix @ matrix.T).tocoo()
    keep = (graph.data >= threshold) & (graph.row != graph.col)
    if places is not None:
        rows, cols = graph.row, graph.col
        place = numpy.array([hash(p) if p is not None else 0 for p in places])
        known = numpy.array([p is not None for p in places])
        apart = known[rows] & known[cols] & (place[rows] != place[cols])
        keep &= ~apart | (graph.data >= cross_place_threshold)
    from scipy.sparse import coo_matrix, csr_matrix

    edges = coo_matrix(
        (numpy.ones(int(keep.sum())), (graph.row[keep], graph.col[keep])),
        shape=graph.shape,
    )
    _, labels = connected_components(edges, directed=False)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    clusters = []
    for members in groups.values():
        if len(members) < min_size:
            continue
        block = matrix[members]
        # Only the columns the members use: the full width is 2²¹–2²², and a centroid (or a
        # sparse product) that wide for each of a few hundred clusters took seconds.
        used, columns = numpy.unique(block.indices, return_inverse=True)
        compact = csr_matrix((block.data, columns, block.indptr), shape=(len(members), len(used)))
        closeness = compact @ numpy.asarray(compact.sum(axis=0)).ravel()
        order = numpy.argsort(-closeness, kind="stable")
        clusters.append(Cluster(members, [members[int(i)] for i in order]))
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


@dataclass
class Hotspot:
    key: int  # the smallest appeal id of the period's members: stable for a link
    title: str
    appeals: list[Appeal]  # this period's, newest first
    previous: int  # how many in the previous period of the same length
    places: list[tuple[str, int]] = field(default_factory=list)  # most frequent first

    @property
    def count(self) -> int:
        return len(self.appeals)

    @property
    def trend(self) -> int:
        return self.count - self.previous


def title_of(appeal: Appeal) -> str:
    return (appeal.title or appeal.content)[:40]


def hotspots(
    user: User,
    *,
    start: datetime,
    end: datetime,
    territory: OrgUnit | None = None,
    min_size: int = MIN_SIZE,
) -> list[Hotspot]:
    """Hotspots among the appeals the user sees received in [start, end), in ``territory``'s
    subtree; clustered together with the previous period so each has a trend."""
    before = start - (end - start)
    query = (
        appeals_for(user)
        .filter(created_at__gte=before, created_at__lt=end)
        .exclude(status=Status.INVALID)
        .select_related("territory__parent")
        .order_by("-id")
    )
    if territory is not None:
        query = query.filter(territory__path__startswith=territory.path)
    found: list[Appeal] = list(query[:MAX_APPEALS])
    places: list[Any] = [area_of(a.territory).pk if a.territory else None for a in found]
    result = []
    texts = [text_of(a) for a in found]
    for group in cluster(texts, places, subjects=[a.title for a in found], min_size=1):
        members = [found[i] for i in group.members]
        current = [a for a in members if a.created_at >= start]
        if len(current) < min_size:
            continue
        # The title: this period's member closest to the centroid.
        representative = next(found[i] for i in group.ranked if found[i].created_at >= start)
        counts = Counter(a.territory.name for a in current if a.territory is not None)
        result.append(
            Hotspot(
                key=min(a.pk for a in current),
                title=title_of(representative),
                appeals=sorted(current, key=lambda a: -a.pk),
                previous=len(members) - len(current),
                places=counts.most_common(3),
            )
        )
    result.sort(key=lambda h: (-h.count, -h.trend, h.key))
    return result
