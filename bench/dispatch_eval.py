"""Smart dispatch (issue 5): how well, how fast and how big the category classifier is.

    .venv/bin/python bench/dispatch_eval.py --train ../shared/data/messages-train.csv
    .venv/bin/python bench/dispatch_eval.py --train ../shared/data/messages-train.csv --test FILE
    .venv/bin/python bench/dispatch_eval.py --train ../shared/data/messages-train.csv --candidates

Trains the platform's own model (``minsheng.dispatch.classifier``, the code ``minsheng dispatch
train`` runs) on the first file. With ``--test`` it scores the second file; without, 5-fold
stratified cross-validation on the training file (``--folds``, ``--seed`` to shuffle them
otherwise: each fold's model trains on (k − 1)/k of the rows, so more folds come closer to a
model trained on all of them). Then: training time on all rows, prediction
latency per appeal (one text at a time, top-3 with probabilities, p50/p99), the saved model
file's size and the resident memory of a fresh process that loads it. ``--candidates`` also
prints the cross-validated macro-F1 of the alternatives that were considered.

CSV columns: ``label`` and ``text`` (or ``subject`` + ``detail``), as in ../shared/data. The
real messages are never copied into the repository (../shared/data/README.md): the script reads
them where they are and says so clearly when they are missing.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minsheng.dispatch import classifier

DATA_HINT = (
    "The real citizen messages live outside the repository, in ../shared/data "
    "(see its README.md: terms of use, columns). Pass --train with the path to "
    "messages-train.csv."
)


def read_csv(path: Path) -> tuple[list[str], list[str]]:
    if not path.exists():
        print(f"error: {path} does not exist.\n{DATA_HINT}", file=sys.stderr)
        raise SystemExit(2)
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if "label" not in (reader.fieldnames or []):
            print(f"error: {path} has no 'label' column ({reader.fieldnames})", file=sys.stderr)
            raise SystemExit(2)
        for row in reader:
            text = (row.get("text") or "").strip() or (
                (row.get("subject") or "") + (row.get("detail") or "")
            ).strip()
            if row["label"].strip() and text:
                texts.append(text)
                labels.append(row["label"].strip())
    return texts, labels


def per_class_table(names: list[str], scores: dict[str, float], support: dict[str, int]) -> None:
    print("\n| category | F1 | rows |\n|---|---:|---:|")
    for name in names:
        print(f"| {name} | {scores[name]:.3f} | {support.get(name, 0)} |")


def score_test(model: classifier.CategoryModel, texts: list[str], labels: list[str]) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = model.predict(texts)
    names = sorted(set(labels) | set(model.labels))
    f1s = f1_score(labels, predicted, labels=names, average=None, zero_division=0)
    print(f"held-out rows: {len(labels)}")
    print(f"accuracy:  {accuracy_score(labels, predicted):.4f}")
    print(f"macro-F1:  {f1_score(labels, predicted, average='macro', zero_division=0):.4f}")
    support = {n: labels.count(n) for n in names}
    per_class_table(names, dict(zip(names, (float(f) for f in f1s), strict=True)), support)


def latency(model: classifier.CategoryModel, texts: list[str], limit: int) -> dict[str, float]:
    """Wall time and CPU time of one prediction, one text at a time (p50, p99, max).

    The machine is shared: CPU time moves much less with the neighbours' load than wall time.
    """
    sample = texts[:limit]
    for text in sample[:20]:  # warm-up: first calls allocate
        model.top(text)
    wall: list[float] = []
    cpu: list[float] = []
    for text in sample:
        started, started_cpu = time.perf_counter(), time.process_time()
        model.top(text, 3)
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)

    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    return {
        "p50": statistics.median(wall),
        "p99": p(wall, 0.99),
        "max": max(wall),
        "cpu_p50": statistics.median(cpu),
        "cpu_p99": p(cpu, 0.99),
    }


RSS_PROBE = """
import resource, sys, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
before = rss()
from pathlib import Path
from minsheng.dispatch import classifier
import sklearn.calibration, sklearn.feature_extraction.text, sklearn.svm, scipy.sparse, joblib
imported = rss()
started = time.perf_counter()
model, manifest = classifier.load(Path(sys.argv[1]), key=b'bench')
seconds = time.perf_counter() - started
model.top('小区门口道路坑洼积水，行人车辆通行困难')
print(f'{before:.0f} {imported:.0f} {rss():.0f} {seconds:.2f}')
"""


def size_and_memory(model: classifier.CategoryModel) -> None:
    with tempfile.TemporaryDirectory() as directory:
        manifest = classifier.save(model, Path(directory), key=b"bench")
        out = subprocess.run(
            [sys.executable, "-c", RSS_PROBE, directory],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    before, imported, loaded, seconds = (float(x) for x in out)
    print(f"model file: {manifest['bytes'] / 1e6:.1f} MB (joblib, compressed)")
    print(
        f"resident memory of a fresh process: {before:.0f} MB bare, {imported:.0f} MB with "
        f"scikit-learn imported, {loaded:.0f} MB with the model loaded and used "
        f"(model itself: {loaded - imported:.0f} MB; load {seconds:.2f} s)"
    )


# ---------------------------------------------------------------- candidates


class _WordView:
    """jieba word 1–2-grams of the message plus those of its head (x0.5): the word model that
    is averaged with the character model below."""

    def __init__(self) -> None:
        self.words = classifier._word_vectorizer()
        self.head = classifier._word_vectorizer()

    def _texts(self, texts: list[str]) -> tuple[list[str], list[str]]:
        normalised = [classifier.normalize(t) for t in texts]
        heads = [classifier.segment(t[: classifier.HEAD_CHARS]) for t in normalised]
        return [classifier.segment(t) for t in normalised], heads

    def fit_transform(self, texts: list[str]) -> Any:
        from scipy.sparse import hstack

        words, heads = self._texts(texts)
        return hstack([self.words.fit_transform(words), self.head.fit_transform(heads) * 0.5])

    def transform(self, texts: list[str]) -> Any:
        from scipy.sparse import hstack

        words, heads = self._texts(texts)
        return hstack([self.words.transform(words), self.head.transform(heads) * 0.5])


class _Views:
    """Several feature sets of the same texts, one matrix each (for ``_Averaged``)."""

    def __init__(self, *views: Any) -> None:
        self.views = views

    def fit_transform(self, texts: list[str]) -> list[Any]:
        return [view.fit_transform(texts) for view in self.views]

    def transform(self, texts: list[str]) -> list[Any]:
        return [view.transform(texts) for view in self.views]


class _Averaged:
    """One calibrated SVM per view; the prediction is the class of the weighted mean of their
    probabilities."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = weights
        self.models: list[Any] = []

    def fit(self, matrices: list[Any], labels: list[str]) -> _Averaged:
        self.models = [classifier._estimator(calibrated=True).fit(m, labels) for m in matrices]
        return self

    def predict(self, matrices: list[Any]) -> Any:
        import numpy

        mean = sum(
            w * model.predict_proba(m)
            for w, model, m in zip(self.weights, self.models, matrices, strict=True)
        )
        return self.models[0].classes_[numpy.argmax(mean, axis=1)]


def _char_1_4() -> classifier.TextFeatures:
    from sklearn.feature_extraction.text import TfidfVectorizer

    features = classifier.TextFeatures()
    features.chars = TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, 4),
        sublinear_tf=True,
        min_df=2,
        dtype=classifier._float32(),
    )
    return features


def _candidates() -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    def features(**kw: Any) -> Callable[[], Any]:
        return lambda: classifier.TextFeatures(**{"head_weight": 0.0, "word_weight": 0.0, **kw})

    def svm(balanced: bool = True, c: float = 0.5) -> Callable[[], Any]:
        return lambda: LinearSVC(C=c, class_weight="balanced" if balanced else None)

    chosen = features(head_weight=classifier.HEAD_WEIGHT)
    rows = [
        ("char 1-3 + LinearSVC (the reference recipe)", features(), svm(balanced=False)),
        ("char 1-3 + LinearSVC, balanced", features(), svm()),
        (
            "char 1-3 + jieba word 1-2 (x0.5) + LinearSVC, balanced",
            features(word_weight=0.5),
            svm(),
        ),
        ("char 1-3 + ComplementNB", features(), lambda: ComplementNB(alpha=0.3)),
        (
            "char 1-3 + LogisticRegression C=20, balanced",
            features(),
            lambda: LogisticRegression(C=20, max_iter=3000, class_weight="balanced"),
        ),
        (
            "char 1-3 + SGD modified-huber",
            features(),
            lambda: SGDClassifier(loss="modified_huber", alpha=1e-4, random_state=0),
        ),
        ("char 1-3 + head-40 (x0.5) + LinearSVC C=1, balanced", chosen, svm(c=1.0)),
        (
            "same, Platt-calibrated (the platform's model)",
            chosen,
            lambda: classifier._estimator(calibrated=True),
        ),
        (
            "same, calibrated with per-fold ensemble",
            chosen,
            lambda: CalibratedClassifierCV(
                LinearSVC(C=1.0, class_weight="balanced"), cv=3, method="sigmoid"
            ),
        ),
        ("same, C=2", chosen, svm(c=2.0)),
        ("char 1-4 + head-40 (x0.5) + LinearSVC C=1, balanced", _char_1_4, svm(c=1.0)),
        (
            "platform's model (x0.8) + jieba word model (x0.2), probabilities averaged",
            lambda: _Views(chosen(), _WordView()),
            lambda: _Averaged([0.8, 0.2]),
        ),
    ]
    try:
        import jieba  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        print("(jieba not installed: the word-feature candidate is skipped)")
        rows = [r for r in rows if "jieba" not in r[0]]
    return rows


def candidates(texts: list[str], labels: list[str], folds: int) -> None:
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, labels))
    print(
        f"\n| candidate ({folds}-fold CV) | macro-F1 | accuracy | seconds |\n|---|---:|---:|---:|"
    )
    for name, make_features, make_estimator in _candidates():
        started = time.perf_counter()
        predicted: list[str] = []
        truth: list[str] = []
        for train_idx, test_idx in splits:
            feats = make_features()
            estimator = make_estimator()
            estimator.fit(
                feats.fit_transform([texts[i] for i in train_idx]), [labels[i] for i in train_idx]
            )
            predicted += list(estimator.predict(feats.transform([texts[i] for i in test_idx])))
            truth += [labels[i] for i in test_idx]
        print(
            f"| {name} | {f1_score(truth, predicted, average='macro'):.4f} | "
            f"{accuracy_score(truth, predicted):.4f} | {time.perf_counter() - started:.0f} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="labelled CSV to train on")
    parser.add_argument("--test", type=Path, help="labelled CSV to score (default: k-fold CV)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="how the folds are shuffled")
    parser.add_argument("--latency-rows", type=int, default=1000, help="texts timed one by one")
    parser.add_argument("--candidates", action="store_true", help="also compare alternatives")
    args = parser.parse_args(argv)

    texts, labels = read_csv(args.train)
    print(f"training rows: {len(labels)} from {args.train} ({len(set(labels))} categories)")
    if args.test is not None:
        test_texts, test_labels = read_csv(args.test)
    else:
        started = time.perf_counter()
        scores = classifier.cross_validate(texts, labels, folds=args.folds, seed=args.seed)
        print(f"{scores['folds']}-fold cross-validation ({time.perf_counter() - started:.0f} s):")
        print(f"accuracy:  {scores['accuracy']:.4f}")
        print(f"macro-F1:  {scores['macro_f1']:.4f}")
        support = {n: labels.count(n) for n in scores["per_class_f1"]}
        per_class_table(sorted(scores["per_class_f1"]), scores["per_class_f1"], support)

    started = time.perf_counter()
    model = classifier.fit(texts, labels)
    print(f"\ntraining on all {len(labels)} rows: {time.perf_counter() - started:.1f} s")
    if args.test is not None:
        score_test(model, test_texts, test_labels)
        timed = test_texts
    else:
        timed = texts
    t = latency(model, timed, args.latency_rows)
    print(
        f"prediction per appeal (top-3 with probabilities, {min(len(timed), args.latency_rows)} "
        f"texts one at a time): p50 {t['p50']:.2f} ms, p99 {t['p99']:.2f} ms, "
        f"max {t['max']:.2f} ms; CPU time p50 {t['cpu_p50']:.2f} ms, p99 {t['cpu_p99']:.2f} ms"
    )
    size_and_memory(model)
    if args.candidates:
        candidates(texts, labels, args.folds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
