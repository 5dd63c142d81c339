"""Smart dispatch for the platform: the current model, suggestions, training, auto-dispatch.

The model predicts **first-level categories** (分类 level 1): the history has enough examples
per class at that level (a level-2 class often has a handful), and level 1 is what the
dispatch catalogue needs to name a department; the dispatcher can still refine to level 2.
A model label names a ``Category`` by its code, or else by its name (level 1 first): a model
trained from the system's own appeals has the codes as labels; a model trained from a CSV file
has whatever the file says (the board's data: names such as 城乡建设), and a label that names
no active category is shown as text, without a unit.

Nothing here may break intake: with no model, or a damaged one, suggestions are simply empty
and ``model_status`` says why.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from minsheng.appeals import reference
from minsheng.appeals.choices import Status
from minsheng.appeals.models import Appeal, Category
from minsheng.core.errors import DomainError
from minsheng.org.models import OrgUnit

from . import classifier
from .classifier import CategoryModel, ModelError
from .errors import DispatchError

logger = logging.getLogger(__name__)

TOP_K = 3
# Categories with fewer closed appeals than this are left out of training (and named).
MIN_PER_CATEGORY = 3


def model_directory() -> Path:
    return Path(settings.MINSHENG_DISPATCH_MODEL_DIR)


def _model_key() -> bytes:
    """The key that signs model files: derived from the platform's secret key, so a file
    written by another installation (or by hand) is refused."""
    return hashlib.sha256(b"minsheng.dispatch.model:" + settings.SECRET_KEY.encode()).digest()


# ---------------------------------------------------------------- the current model


@dataclass
class _Current:
    stamp: tuple[int, int, int] | None = None
    model: CategoryModel | None = None
    manifest: dict[str, Any] | None = None
    error: ModelError | None = None
    directory: Path | None = None


_current = _Current()
_loading = threading.Lock()


def _manifest_stamp(directory: Path) -> tuple[int, int, int] | None:
    try:
        stat = (directory / classifier.MANIFEST_NAME).stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def current_model() -> _Current:
    """The model of this process: loaded once, loaded again when the manifest changes.

    A ``stat`` per call is all a suggestion costs to notice a newly trained model.
    """
    directory = model_directory()
    stamp = _manifest_stamp(directory)
    state = _current
    if state.directory == directory and state.stamp == stamp and (stamp or state.error):
        return state
    with _loading:
        if _current.directory == directory and _current.stamp == stamp and stamp is not None:
            return _current
        fresh = _Current(stamp=stamp, directory=directory)
        try:
            fresh.model, fresh.manifest = classifier.load(directory, key=_model_key())
        except ModelError as exc:
            fresh.error = exc
            if exc.code != "no_model":
                logger.warning("dispatch model not loaded (%s): %s", exc.code, exc)
        _replace(fresh)
        return fresh


def _replace(state: _Current) -> None:
    global _current
    _current = state


def forget_model() -> None:
    """Drop the cached model and label mapping (tests, or after training in this process)."""
    _replace(_Current())
    _label_cache.clear()


def model_status() -> dict[str, Any]:
    """What staff are told about the model: ready (with its version), missing, or broken."""
    state = current_model()
    if state.model is not None and state.manifest is not None:
        return {
            "state": "ready",
            "version": state.manifest.get("version"),
            "trained_at": state.manifest.get("trained_at"),
            "rows": state.manifest.get("rows"),
            "cv": state.manifest.get("cv"),
        }
    error = state.error or ModelError("no_model", "No dispatch model has been trained yet.")
    code = DispatchError.for_code(error.code)
    return {
        "state": "missing" if error.code == "no_model" else "error",
        "code": code.code,
        "message": str(code.message),
        "detail": str(error),
    }


# ---------------------------------------------------------------- suggestions


@dataclass(frozen=True)
class Suggestion:
    """One likely category: the model's label, its probability, the category row it names
    (or None) and, for the first suggestion only, the catalogue's unit for it and the place."""

    label: str
    confidence: float
    category: Category | None
    unit: OrgUnit | None = None

    @property
    def percent(self) -> int:
        return round(self.confidence * 100)


_LABEL_TTL_SECONDS = 60.0
_label_cache: dict[tuple[str, ...], tuple[float, dict[str, Category]]] = {}


def categories_for_labels(labels: Iterable[str]) -> dict[str, Category]:
    """The mapping rule: an active category whose code is the label, else whose name is the
    label (the shallowest such category). Cached for a minute, like intake's look-ups."""
    wanted = tuple(sorted(set(labels)))
    now = time.monotonic()
    hit = _label_cache.get(wanted)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = list(
        Category.objects.filter(Q(code__in=wanted) | Q(name__in=wanted), is_active=True)
        .select_related("parent__parent")
        .order_by("level", "code")
    )
    mapping: dict[str, Category] = {}
    for label in wanted:
        by_code = next((c for c in rows if c.code == label), None)
        by_name = next((c for c in rows if c.name == label), None)
        if by_code or by_name:
            mapping[label] = by_code or by_name  # type: ignore[assignment]
    _label_cache.clear()  # one model at a time: keep only its labels
    _label_cache[wanted] = (now + _LABEL_TTL_SECONDS, mapping)
    return mapping


def appeal_text(appeal: Appeal) -> str:
    return f"{appeal.title}{appeal.content}"


def suggest(text: str, *, territory: OrgUnit | None = None, k: int = TOP_K) -> list[Suggestion]:
    """The likeliest categories for a text, most likely first; empty without a usable model."""
    state = current_model()
    if state.model is None or not text.strip():
        return []
    try:
        ranked = state.model.top(text, k)
    except Exception:  # a model that loads but cannot predict must not break a page
        logger.exception("dispatch model failed to predict")
        return []
    categories = categories_for_labels(state.model.labels)
    suggestions = []
    for position, (label, confidence) in enumerate(ranked):
        category = categories.get(label)
        unit = (
            reference.suggest_unit(category=category, territory=territory)
            if position == 0 and category is not None
            else None
        )
        suggestions.append(Suggestion(label, confidence, category, unit))
    return suggestions


def suggest_for_appeal(appeal: Appeal) -> list[Suggestion]:
    return suggest(appeal_text(appeal), territory=appeal.territory)


# ---------------------------------------------------------------- training


@dataclass
class TrainingSet:
    """Texts and their labels, from the system's closed appeals or a CSV file."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    source: str = ""
    skipped: dict[str, int] = field(default_factory=dict)  # label → rows, too rare to learn


def rows_from_appeals() -> TrainingSet:
    """Closed appeals with the category staff finally gave them, at level 1 (by code).

    Closed means the category was checked along the whole lifecycle (dispatch, redispatch,
    review); appeals merged or marked invalid are left out.
    """
    rows = TrainingSet(source="appeals")
    categories = {c.pk: c for c in Category.objects.select_related("parent__parent")}
    queryset = (
        Appeal.objects.filter(status=Status.CLOSED, category__isnull=False)
        .order_by("pk")
        .values_list("title", "content", "category_id")
    )
    for title, content, category_id in queryset.iterator(chunk_size=2000):
        root = categories[category_id].lineage()[-1]
        rows.texts.append(f"{title}{content}")
        rows.labels.append(root.code)
    return rows


def rows_from_csv(path: Path) -> TrainingSet:
    """A CSV file with a ``label`` column and a ``text`` column (or ``subject`` + ``detail``)."""
    rows = TrainingSet(source=str(path))
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or [])
            if "label" not in columns or not ({"text"} <= columns or {"detail"} <= columns):
                raise DomainError(
                    DispatchError.BAD_TRAINING_FILE, {"columns": sorted(columns), "file": str(path)}
                )
            for record in reader:
                label = (record.get("label") or "").strip()
                text = (record.get("text") or "").strip() or (
                    (record.get("subject") or "") + (record.get("detail") or "")
                ).strip()
                if label and text:
                    rows.labels.append(label)
                    rows.texts.append(text)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DomainError(
            DispatchError.BAD_TRAINING_FILE, {"file": str(path), "reason": str(exc)}
        ) from None
    return rows


def _drop_rare(rows: TrainingSet, minimum: int) -> TrainingSet:
    counts = Counter(rows.labels)
    rare = {label: n for label, n in counts.items() if n < minimum}
    if not rare:
        return rows
    kept = [(t, lab) for t, lab in zip(rows.texts, rows.labels, strict=True) if lab not in rare]
    return TrainingSet(
        texts=[t for t, _ in kept],
        labels=[lab for _, lab in kept],
        source=rows.source,
        skipped=dict(sorted(rare.items())),
    )


def _domain_error(exc: ModelError) -> DomainError:
    return DomainError(DispatchError.for_code(exc.code), {**exc.details, "detail": str(exc)})


def train_model(
    *,
    rows: TrainingSet,
    min_rows: int = classifier.MIN_ROWS,
    folds: int = 5,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cross-validate, train on all rows, save a new version; return its manifest.

    Refuses (``DomainError``) too little data or a single category, and keeps the previous
    model in that case.
    """
    say = progress or (lambda _message: None)
    rows = _drop_rare(rows, MIN_PER_CATEGORY)
    if rows.skipped:
        say(f"left out (fewer than {MIN_PER_CATEGORY} rows): {rows.skipped}")
    try:
        classifier.check_training_data(rows.labels, min_rows=min_rows)
        say(f"{len(rows.labels)} rows, {len(set(rows.labels))} categories from {rows.source}")
        started = time.perf_counter()
        scores = classifier.cross_validate(rows.texts, rows.labels, folds=folds, progress=say)
        say("training on all rows")
        model = classifier.fit(rows.texts, rows.labels, check=False)
    except ModelError as exc:
        raise _domain_error(exc) from None
    seconds = round(time.perf_counter() - started, 1)
    manifest = classifier.save(
        model,
        model_directory(),
        key=_model_key(),
        extra={
            "source": rows.source,
            "level": 1 if rows.source == "appeals" else None,
            "skipped": rows.skipped,
            "cv": scores,
            "total_seconds": seconds,
        },
    )
    forget_model()
    return manifest


# ---------------------------------------------------------------- auto-dispatch


def queue_auto_dispatch(appeal: Appeal) -> None:
    """After an intake commits, queue the auto-dispatch task (only when the setting is on).

    An intake hook (``appeals.hooks``, registered in ``apps.py``): with the setting off (the
    default) it returns at once, so the submission path costs nothing; the demo's bulk replay
    is skipped.
    """
    if settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE is None or reference.is_memoized():
        return
    appeal_id = appeal.pk

    def enqueue() -> None:
        from .tasks import auto_dispatch_appeal

        auto_dispatch_appeal.enqueue(appeal_id)

    transaction.on_commit(enqueue)


def auto_dispatch(appeal_id: int) -> str:
    """Dispatch a waiting appeal to the catalogue's unit for the model's top category when the
    model is at least ``MINSHENG_AUTO_DISPATCH_CONFIDENCE`` sure; otherwise leave it to the
    dispatcher. Returns what happened (for the task's result and the tests).

    A category chosen at intake wins: the appeal is dispatched only if the model's top category
    is that category's first-level ancestor (they agree), and keeps the finer category.
    """
    threshold = settings.MINSHENG_AUTO_DISPATCH_CONFIDENCE
    if threshold is None:
        return "off"
    appeal = (
        Appeal.objects.select_related("territory", "category__parent__parent")
        .filter(pk=appeal_id)
        .first()
    )
    if appeal is None:
        return "gone"
    if appeal.status != Status.RECEIVED:
        return "not_waiting"
    suggestions = suggest_for_appeal(appeal)
    if not suggestions:
        return "no_model"
    top = suggestions[0]
    if top.confidence < threshold:
        return "below_threshold"
    if top.category is None:
        return "unmapped_label"
    if appeal.category is not None and appeal.category.lineage()[-1].pk != top.category.pk:
        return "disagrees_with_intake"
    category = appeal.category or top.category
    unit = reference.suggest_unit(category=category, territory=appeal.territory)
    if unit is None:
        return "no_catalogue_entry"
    state = current_model()
    try:
        from minsheng.appeals.services import dispatch_appeal

        dispatch_appeal(
            appeal=appeal.pk,
            actor=None,
            unit=unit,
            category=None if appeal.category is not None else top.category,
            data={
                "automatic": True,
                "confidence": top.confidence,
                "suggested_category": top.label,
                "model_version": (state.manifest or {}).get("version"),
                "threshold": threshold,
            },
        )
    except DomainError as exc:  # dispatched meanwhile, unit gone…: the dispatcher decides
        logger.info("auto-dispatch of appeal %s refused: %s", appeal_id, exc.code)
        return f"refused:{exc.code}"
    return "dispatched"
