"""The category classifier of smart dispatch (智能派单): features, training, prediction, storage.

Plain Python and scikit-learn, no Django: ``bench/dispatch_eval.py`` uses it as it is, and
``services`` wraps it for the platform (where the model lives, which rows it learns from).

The model (chosen by 5-fold cross-validation on real citizen messages, bench/RESULTS.md):
TF-IDF of character 1–3-grams of the message and of its first 40 characters (the subject)
feeding a linear SVM with balanced class weights, calibrated by Platt scaling so its top-k
list carries probabilities a dispatcher can read ("0.92": about 92 in 100 such suggestions
are right). No word segmentation: jieba words measured worse than characters here.

Storage: ``dispatch-<version>.joblib`` next to ``dispatch-manifest.json``. The manifest names the
file, its HMAC-SHA256 under the platform's key, the format version, the scikit-learn version
and the labels; nothing is unpickled unless all of those check out, so a file this platform did
not write is never loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MANIFEST_NAME = "dispatch-manifest.json"
MODEL_PREFIX = "dispatch-"
# Fewer rows than this per model, or fewer than this per category for cross-validation, cannot
# give a meaningful model or score.
MIN_ROWS = 20
MIN_PER_CATEGORY = 2
# Only the start of a very long message is read: the subject and the first paragraphs say
# what it is about, and the bound keeps prediction within its latency budget.
MAX_CHARS = 2000
HEAD_CHARS = 40
HEAD_WEIGHT = 0.5
WORD_WEIGHT = 0.0
SVM_C = 1.0

_SPACE = re.compile(r"\s+")

Progress = Callable[[str], None]


class ModelError(Exception):
    """The model cannot be trained, saved or loaded; ``code`` is stable, ``str()`` explains."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        self.code = code
        self.details = details
        super().__init__(message)


def normalize(text: str) -> str:
    """What the model reads: whitespace removed (as in the training data), bounded length."""
    return _SPACE.sub("", text or "")[:MAX_CHARS]


_jieba: Any = None


def _tokenizer() -> Any:
    """jieba's tokenizer, loaded once (its dictionary takes about a second). jieba is not a
    dependency: only the word-feature variant compared in bench/dispatch_eval.py needs it."""
    global _jieba
    if _jieba is None:
        import jieba  # type: ignore[import-not-found]

        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        _jieba = tokenizer
    return _jieba


def segment(text: str) -> str:
    """jieba words of a normalised text, separated by spaces."""
    return " ".join(_tokenizer().lcut(text))


class TextFeatures:
    """TF-IDF of character 1–3-grams over the message, plus the same over its first
    ``HEAD_CHARS`` characters (weighted ``HEAD_WEIGHT``), side by side.

    Characters carry the signal in Chinese without segmentation errors (robust to typos and
    place names); the head block stresses the subject, which citizens put first. jieba word
    1–2-grams were measured and left out: they lowered the cross-validated macro-F1
    (bench/RESULTS.md), so ``word_weight`` is 0 unless asked for.
    """

    def __init__(
        self, *, head_weight: float = HEAD_WEIGHT, word_weight: float = WORD_WEIGHT
    ) -> None:
        self.head_weight = head_weight
        self.word_weight = word_weight
        self.chars = _char_vectorizer()
        self.head = _char_vectorizer() if head_weight else None
        self.words = _word_vectorizer() if word_weight else None

    def fit_transform(self, texts: Sequence[str]) -> Any:
        return self._combine(texts, fit=True)

    def transform(self, texts: Sequence[str]) -> Any:
        return self._combine(texts, fit=False)

    def _combine(self, texts: Sequence[str], *, fit: bool) -> Any:
        from scipy.sparse import hstack

        def block(vectorizer: Any, data: list[str], weight: float = 1.0) -> Any:
            if fit:
                matrix = vectorizer.fit_transform(data)
                # The n-grams cut by min_df, kept only for inspection: most of the memory.
                vectorizer.stop_words_ = None
            else:
                matrix = vectorizer.transform(data)
            return matrix * weight if weight != 1.0 else matrix

        normalised = [normalize(t) for t in texts]
        blocks = [block(self.chars, normalised)]
        if self.head is not None:
            blocks.append(block(self.head, [t[:HEAD_CHARS] for t in normalised], self.head_weight))
        if self.words is not None:
            blocks.append(block(self.words, [segment(t) for t in normalised], self.word_weight))
        return hstack(blocks).tocsr()


def _char_vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, dtype=_float32()
    )


def _word_vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        token_pattern=r"[^ ]+",  # noqa: S106 - a regular expression, not a password
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=2,
        dtype=_float32(),
    )


def _float32() -> Any:
    import numpy

    return numpy.float32


def _estimator(calibrated: bool = True) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    # Balanced class weights: the small categories (交通运输 has a third of 城乡建设's rows)
    # gained two points of F1 in cross-validation.
    svm = LinearSVC(C=SVM_C, class_weight="balanced")
    if not calibrated:
        return svm
    # Platt scaling fitted on 3-fold out-of-fold margins; the SVM itself is trained on all
    # rows (ensemble=False), so the ranking stays the plain SVM's.
    return CalibratedClassifierCV(svm, cv=3, method="sigmoid", ensemble=False)


@dataclass
class CategoryModel:
    """A trained classifier: ``top(text)`` gives the likeliest labels with probabilities."""

    features: TextFeatures
    estimator: Any
    labels: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    def top(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` likeliest labels, most likely first, with calibrated probabilities."""
        if not normalize(text):
            return []
        probabilities = self.estimator.predict_proba(self.features.transform([text]))[0]
        order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])[:k]
        classes = self.estimator.classes_
        return [(str(classes[i]), round(float(probabilities[i]), 4)) for i in order]

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(label) for label in self.estimator.predict(self.features.transform(texts))]


def check_training_data(labels: Sequence[str], *, min_rows: int = MIN_ROWS) -> None:
    """Refuse data no useful model can come from, with a message saying what is missing."""
    counts = Counter(labels)
    if len(labels) < min_rows:
        raise ModelError(
            "too_little_data",
            f"Only {len(labels)} labelled appeals; at least {min_rows} are needed to train.",
            rows=len(labels),
            min_rows=min_rows,
        )
    if len(counts) < 2:
        raise ModelError(
            "single_category",
            "All training appeals have the same category; a classifier needs at least two.",
            categories=sorted(counts),
        )
    rare = sorted(label for label, n in counts.items() if n < MIN_PER_CATEGORY)
    if rare:
        raise ModelError(
            "category_too_rare",
            f"Categories with fewer than {MIN_PER_CATEGORY} appeals: {', '.join(rare)}. "
            "Drop them or add examples.",
            categories=rare,
        )


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    progress: Progress | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Stratified k-fold scores (accuracy, macro-F1, per-class F1) of the calibrated model."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    check_training_data(labels)
    smallest = min(Counter(labels).values())
    folds = max(2, min(folds, smallest))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted: list[str] = []
    truth: list[str] = []
    for number, (train_idx, test_idx) in enumerate(splitter.split(list(texts), list(labels)), 1):
        if progress:
            progress(f"cross-validation fold {number}/{folds}")
        model = fit([texts[i] for i in train_idx], [labels[i] for i in train_idx], check=False)
        predicted += model.predict([texts[i] for i in test_idx])
        truth += [labels[i] for i in test_idx]
    names = sorted(set(labels))
    per_class = f1_score(truth, predicted, labels=names, average=None, zero_division=0)
    return {
        "folds": folds,
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        "per_class_f1": {
            name: round(float(f), 4) for name, f in zip(names, per_class, strict=True)
        },
    }


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    check: bool = True,
    min_rows: int = MIN_ROWS,
) -> CategoryModel:
    """Train on all rows (no scores: see ``cross_validate``)."""
    if check:
        check_training_data(labels, min_rows=min_rows)
    started = time.perf_counter()
    features = TextFeatures()
    matrix = features.fit_transform(texts)
    counts = Counter(labels)
    # Calibration splits each class again; very small classes fall back to the plain SVM
    # with a softmax of its margins (ordering still right, probabilities rougher).
    estimator = _estimator(calibrated=min(counts.values()) >= 3)
    estimator.fit(matrix, list(labels))
    if not hasattr(estimator, "predict_proba"):
        estimator = _SoftmaxMargins(estimator)
    return CategoryModel(
        features=features,
        estimator=estimator,
        labels=sorted(counts),
        info={
            "rows": len(labels),
            "per_category": dict(sorted(counts.items())),
            "train_seconds": round(time.perf_counter() - started, 2),
        },
    )


class _SoftmaxMargins:
    """An SVM's margins turned into scores that sum to 1, for classes too small to calibrate."""

    def __init__(self, svm: Any) -> None:
        self.svm = svm
        self.classes_ = svm.classes_

    def predict(self, matrix: Any) -> Any:
        return self.svm.predict(matrix)

    def predict_proba(self, matrix: Any) -> Any:
        import numpy

        margins = numpy.atleast_2d(self.svm.decision_function(matrix))
        if margins.shape[1] == 1:  # two classes: one margin
            margins = numpy.hstack([-margins, margins])
        exp = numpy.exp(margins - margins.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- storage


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def _signature(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def save(
    model: CategoryModel, directory: Path, *, key: bytes, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write the model file, then the manifest that vouches for it; return the manifest.

    The manifest is replaced atomically last: a reader sees the old model or the new one,
    never a half-written file. Older model files are removed once the new manifest is in place.
    """
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    trained_at = datetime.now(tz=UTC)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    payload = buffer.getvalue()
    version = f"{trained_at:%Y%m%dT%H%M%S}-{hashlib.sha256(payload).hexdigest()[:8]}"
    filename = f"{MODEL_PREFIX}{version}.joblib"
    (directory / filename).write_bytes(payload)
    manifest = {
        "format": FORMAT_VERSION,
        "version": version,
        "file": filename,
        "hmac_sha256": _signature(key, payload),
        "bytes": len(payload),
        "sklearn": _sklearn_version(),
        "labels": model.labels,
        "trained_at": trained_at.isoformat(),
        "rows": model.info.get("rows"),
        "per_category": model.info.get("per_category"),
        "train_seconds": model.info.get("train_seconds"),
        **(extra or {}),
    }
    temporary = directory / f".{MANIFEST_NAME}.tmp"
    temporary.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    temporary.replace(directory / MANIFEST_NAME)
    for old in directory.glob(f"{MODEL_PREFIX}*.joblib"):
        if old.name != filename:
            old.unlink(missing_ok=True)
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_NAME
    if not path.exists():
        raise ModelError("no_model", "No dispatch model has been trained yet.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError("corrupt_model", f"The model manifest cannot be read: {exc}") from None
    if not isinstance(manifest, dict):
        raise ModelError("corrupt_model", "The model manifest is not a JSON object.")
    return manifest


def load(directory: Path, *, key: bytes) -> tuple[CategoryModel, dict[str, Any]]:
    """The model the manifest vouches for, after checking format, versions and signature."""
    import joblib

    manifest = read_manifest(directory)
    if manifest.get("format") != FORMAT_VERSION:
        raise ModelError(
            "incompatible_model",
            f"The model file has format {manifest.get('format')!r}; this version reads "
            f"format {FORMAT_VERSION}. Train the model again.",
        )
    if manifest.get("sklearn") != _sklearn_version():
        raise ModelError(
            "incompatible_model",
            f"The model was trained with scikit-learn {manifest.get('sklearn')}; this "
            f"installation has {_sklearn_version()}. Train the model again.",
        )
    filename = str(manifest.get("file", ""))
    if not re.fullmatch(rf"{MODEL_PREFIX}[\w.-]+\.joblib", filename):
        raise ModelError("corrupt_model", "The model manifest names no valid model file.")
    try:
        payload = (directory / filename).read_bytes()
    except OSError as exc:
        raise ModelError("corrupt_model", f"The model file cannot be read: {exc}") from None
    expected = str(manifest.get("hmac_sha256", ""))
    if not hmac.compare_digest(_signature(key, payload), expected):
        raise ModelError(
            "untrusted_model",
            "The model file does not match its manifest's signature (changed, damaged, or "
            "written by another installation); it was not loaded. Train the model again.",
        )
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as exc:  # a signed file that still fails: a bug or a broken install
        raise ModelError("corrupt_model", f"The model file cannot be loaded: {exc}") from None
    if not isinstance(model, CategoryModel):
        raise ModelError("corrupt_model", "The model file holds no category model.")
    return model, manifest
