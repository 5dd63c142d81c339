"""Text similarity shared by 并单 suggestions and hotspots: character 2–3-gram vectors of the
texts being compared (no model file), rows L2-normalised so a dot product is the cosine.

Single characters are left out: in Chinese they make unrelated messages look alike. Term
frequencies are sublinear and not weighted by inverse document frequency: measured on the real
messages (bench/RESULTS.md, "Hotspots"), IDF fitted on the compared texts discounted exactly the
n-grams that messages about one problem share (at cosine ≥ 0.2, 4–20 % of the pairs within a
known topic against 20–55 % without IDF, unrelated pairs about 0.03 % either way). Instead, on
large sets, n-grams in more than 5 % of the texts ("A市", "小区", "请问") are dropped: they join
unrelated messages and make the similarity matrix dense.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .classifier import normalize

# What a text contributes: its start (the subject and the first sentences say what it is about).
MAX_CHARS = 200
COMMON_SHARE = 0.05
COMMON_MIN_DOCS = 30
# The subject's share of the similarity in ``vectorize_with_subjects`` (the body has the rest).
SUBJECT_WEIGHT = 0.5


def vectorize(texts: Sequence[str]) -> Any:
    """A sparse matrix, one L2-normalised row per text (an all-zero row for an empty text).

    Hashed n-grams (2²¹ buckets): no vocabulary to build and sort, which took most of the time
    on thousands of texts; a rare collision only adds a little similarity."""
    import numpy
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.preprocessing import normalize as l2_normalize

    normalised = [normalize(t)[:MAX_CHARS] for t in texts]
    counts = HashingVectorizer(
        analyzer="char",
        ngram_range=(2, 3),
        n_features=2**21,
        alternate_sign=False,
        norm=None,
        dtype=numpy.float32,
    ).transform(normalised)
    counts.data = 1 + numpy.log(counts.data)  # sublinear term frequency
    max_df = max(int(COMMON_SHARE * len(normalised)), COMMON_MIN_DOCS)
    if max_df < len(normalised):
        document_frequency = numpy.bincount(counts.indices, minlength=counts.shape[1])
        common = document_frequency > max_df
        counts.data[common[counts.indices]] = 0
        counts.eliminate_zeros()
    return l2_normalize(counts, copy=False)


def vectorize_with_subjects(
    texts: Sequence[str], subjects: Sequence[str], *, subject_weight: float = SUBJECT_WEIGHT
) -> Any:
    """Rows whose dot product is ``(1 - w) · cos(texts) + w · cos(subjects)``, ``w`` the weight.

    Why the subject separately: citizens who write about one problem tell it in their own words
    (the texts of one real dispute written by different people reach cosine 0.02–0.16, the
    threshold is 0.25), but their one-line subjects name the same place or body and the same
    problem (0.2–0.8). A row without a subject (an empty title) is its text alone.
    """
    import math

    from scipy.sparse import hstack
    from sklearn.preprocessing import normalize as l2_normalize

    combined = hstack(
        [
            vectorize(texts) * math.sqrt(1 - subject_weight),
            vectorize(subjects) * math.sqrt(subject_weight),
        ]
    ).tocsr()
    return l2_normalize(combined, copy=False)
