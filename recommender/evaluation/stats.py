"""Uncertainty of a mean over queries: percentile bootstrap intervals and paired tests."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as _scipy_stats

DEFAULT_RESAMPLES = 1000
_CHUNK = 2_000_000  # indices drawn per chunk, keeps memory flat on large query sets


class Interval(NamedTuple):
    mean: float
    low: float
    high: float


class PairedResult(NamedTuple):
    """Difference a - b of two systems over the same queries."""

    diff: float
    low: float
    high: float
    p_value: float  # Wilcoxon signed-rank, two-sided
    n: int


def _clean(values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[~np.isnan(array)]


def _bootstrap_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = values.size
    per_chunk = max(1, _CHUNK // n)
    means = []
    remaining = n_resamples
    while remaining > 0:
        take = min(per_chunk, remaining)
        means.append(values[rng.integers(0, n, size=(take, n))].mean(axis=1))
        remaining -= take
    return np.concatenate(means)


def bootstrap_ci(values, *, confidence: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0) -> Interval:
    """Mean of ``values`` (NaN ignored) with a percentile bootstrap interval, seeded."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    array = _clean(values)
    if array.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    if np.all(array == array[0]):  # one value, or no spread: the interval is a point
        return Interval(float(array[0]), float(array[0]), float(array[0]))
    means = _bootstrap_means(array, n_resamples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(array.mean()), float(low), float(high))


def paired_test(a, b, *, confidence: float = 0.95, n_resamples: int = DEFAULT_RESAMPLES,
                seed: int = 0) -> PairedResult:
    """Compare two systems query by query: mean difference a - b, its bootstrap interval and
    the two-sided Wilcoxon signed-rank p-value (normal approximation; 1.0 when every difference is zero).

    Queries where either value is NaN are dropped from both.
    """
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.shape != second.shape:
        raise ValueError(f"paired values need equal lengths, got {first.shape} and {second.shape}")
    keep = ~(np.isnan(first) | np.isnan(second))
    diffs = first[keep] - second[keep]
    if diffs.size == 0:
        return PairedResult(math.nan, math.nan, math.nan, math.nan, 0)
    interval = bootstrap_ci(diffs, confidence=confidence, n_resamples=n_resamples, seed=seed)
    if np.all(diffs == 0):
        p_value = 1.0
    else:
        # normal approximation with tie correction: scipy's exact/permutation path costs seconds per
        # call once there are ties, and metric values over queries tie a lot
        p_value = float(_scipy_stats.wilcoxon(diffs, zero_method="zsplit", method="approx").pvalue)
    return PairedResult(interval.mean, interval.low, interval.high, p_value, int(diffs.size))


def significance_mark(p_value: float) -> str:
    """``***`` p<0.001, ``**`` p<0.01, ``*`` p<0.05, ``''`` otherwise."""
    if p_value is None or math.isnan(p_value):
        return ""
    return "***" if p_value < 0.001 else "**" if p_value < 0.01 else "*" if p_value < 0.05 else ""
