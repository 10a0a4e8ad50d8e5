"""Minimal stand-in for ``scipy.stats``: ``mannwhitneyu`` and ``gmean``.

This is NOT SciPy. It is shmring's own code, written for this project, in
pure Python 3 standard library (no numpy).

Why it exists: Google Benchmark's comparison tool (Debian 12 package
libbenchmark-tools 1.7.1: /usr/share/benchmark/compare.py, whose
gbench/report.py does ``from scipy.stats import mannwhitneyu, gmean``)
needs SciPy, but on Debian 12 python3-scipy cannot be installed next to
libboost1.81-dev, which shmring builds against:
python3-scipy -> python3-pythran -> libboost-dev -> libboost1.74-dev,
and libboost1.74-dev conflicts with libboost1.81-dev.

perf/tools is put on PYTHONPATH only when running compare.py, e.g.

    PYTHONPATH=perf/tools /usr/bin/python3 /usr/share/benchmark/compare.py \
        benchmarks old.json new.json

(report.py also does ``from numpy import array``: Debian's python3-numpy
has no Boost dependency and installs fine.)

What report.py uses, and so what is implemented:
  * ``mannwhitneyu(x, y, alternative='two-sided').pvalue`` on two 1-D lists
    of timings (the U test rows);
  * ``gmean(times)`` on a list of [real_time, cpu_time] pairs, reducing over
    axis 0, and then ``.any()`` and ``[0]``/``[1]`` on the result (the
    OVERALL_GEOMEAN row).

Semantics follow SciPy 1.10 (scipy/stats/_mannwhitneyu.py of that era):
  * statistic = U1, the U statistic of ``x``: R1 - n1*(n1+1)/2 with average
    ranks for ties;
  * U used for the p-value: U1 for 'greater', U2 = n1*n2 - U1 for 'less',
    max(U1, U2) for 'two-sided' (whose one-sided p-value is then doubled);
  * method 'auto': 'asymptotic' when both samples have more than 8
    elements, or when there is any tie in the pooled data; 'exact'
    otherwise (i.e. when one sample has at most 8 elements and there are
    no ties);
  * 'exact': P(U' >= U) under the null distribution of U (counted exactly,
    no tie correction; a non-integer U is truncated, as SciPy does);
  * 'asymptotic': z = (U - n1*n2/2 - 0.5*use_continuity) / s with the tie
    corrected s = sqrt(n1*n2/12 * ((n+1) - sum(t^3-t)/(n*(n-1)))), p = sf(z);
  * the p-value is clipped to [0, 1].
"""

import math
from fractions import Fraction

__all__ = ["mannwhitneyu", "gmean", "MannwhitneyuResult"]


class MannwhitneyuResult(tuple):
    """(statistic, pvalue), also readable as attributes, like SciPy's."""

    __slots__ = ()

    def __new__(cls, statistic, pvalue):
        return tuple.__new__(cls, (statistic, pvalue))

    @property
    def statistic(self):
        return self[0]

    @property
    def pvalue(self):
        return self[1]

    def __repr__(self):
        return "MannwhitneyuResult(statistic=%r, pvalue=%r)" % (self[0], self[1])


class _Vector(list):
    """A list of floats with the few ndarray methods report.py calls."""

    def any(self):
        return any(self)

    def all(self):
        return all(self)

    def tolist(self):
        return list(self)

    @property
    def shape(self):
        return (len(self),)


def _as_float_list(a):
    if isinstance(a, (int, float)):
        values = [float(a)]
    else:
        values = [float(v) for v in a]
    if any(math.isnan(v) for v in values):
        raise ValueError("`x` and `y` must not contain NaNs.")
    if not values:
        raise ValueError("`x` and `y` must be of nonzero size.")
    return values


def _average_ranks(values):
    """1-based ranks, ties get the average of the ranks they span.

    Returns (ranks, tie_counts) where tie_counts lists the size of every
    group of equal values (1 for an untied value)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_counts = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        # positions i..j (0-based) share ranks i+1..j+1
        avg = (i + 1 + j + 1) / 2.0
        for k in range(i, j + 1):
            ranks[order[k]] = avg
        tie_counts.append(j - i + 1)
        i = j + 1
    return ranks, tie_counts


def _u_null_counts(m, n):
    """counts[k] = number of the C(m+n, m) equally likely arrangements of
    two samples of sizes m and n (no ties) whose U statistic equals k,
    for k = 0 .. m*n.

    These are the coefficients of the Gaussian binomial coefficient
    [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), computed with
    exact integers: multiply by (1 - q^(n+i)), then divide by (1 - q^i)
    (a strided running sum). Cost O(min(m,n) * m*n)."""
    m, n = min(m, n), max(m, n)
    size = m * n + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, m + 1):
        shift = n + i
        # multiply by (1 - q^shift); terms past degree m*n are always 0 in
        # the final polynomial and in every partial product's useful part
        for k in range(size - 1, shift - 1, -1):
            poly[k] -= poly[k - shift]
        # divide by (1 - q^i): b[k] = a[k] + b[k-i]
        for k in range(i, size):
            poly[k] += poly[k - i]
    return poly


def _exact_sf(u, n1, n2):
    """P(U >= u) under the null hypothesis, U of a sample of size n1
    against one of size n2, no ties."""
    counts = _u_null_counts(n1, n2)
    total = math.comb(n1 + n2, n1)
    u = int(u)  # SciPy 1.10 truncates: U.astype(int)
    if u <= 0:
        return 1.0
    if u > n1 * n2:
        return 0.0
    return float(Fraction(sum(counts[u:]), total))


def _norm_sf(z):
    """Survival function of the standard normal distribution."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def mannwhitneyu(x, y, use_continuity=True, alternative="two-sided",
                 axis=0, method="auto", *, nan_policy="propagate",
                 keepdims=False):
    """Mann-Whitney U rank test on two independent 1-D samples.

    Returns MannwhitneyuResult(statistic=U1 of x, pvalue). ``axis``,
    ``nan_policy`` and ``keepdims`` are accepted for signature
    compatibility; only 1-D samples are supported (NaNs are rejected)."""
    if axis not in (0, -1):
        raise ValueError("this scipy.stats stand-in supports 1-D samples only")
    if use_continuity not in (True, False):
        raise ValueError("`use_continuity` must be one of {True, False}.")
    alternative = str(alternative).lower()
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError("`alternative` must be one of "
                         "{'two-sided', 'less', 'greater'}.")
    method = str(method).lower()
    if method not in ("auto", "exact", "asymptotic"):
        raise ValueError("`method` must be one of "
                         "{'auto', 'exact', 'asymptotic'}.")

    xs = _as_float_list(x)
    ys = _as_float_list(y)
    n1, n2 = len(xs), len(ys)
    n = n1 + n2

    ranks, tie_counts = _average_ranks(xs + ys)
    has_ties = any(t > 1 for t in tie_counts)

    r1 = math.fsum(ranks[:n1])
    u1 = r1 - n1 * (n1 + 1) / 2.0
    u2 = n1 * n2 - u1

    if alternative == "greater":
        u, factor = u1, 1
    elif alternative == "less":
        u, factor = u2, 1
    else:
        u, factor = max(u1, u2), 2

    if method == "auto":
        if n1 > 8 and n2 > 8:
            method = "asymptotic"
        elif has_ties:
            method = "asymptotic"
        else:
            method = "exact"

    if method == "exact":
        p = _exact_sf(u, n1, n2)
    else:
        mu = n1 * n2 / 2.0
        tie_term = sum(t ** 3 - t for t in tie_counts)
        var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
        numerator = u - mu
        if use_continuity:
            numerator -= 0.5
        if var > 0:
            z = numerator / math.sqrt(var)
        elif numerator > 0:
            z = math.inf
        elif numerator < 0:
            z = -math.inf
        else:
            z = math.nan
        p = _norm_sf(z)
    p *= factor
    if not math.isnan(p):
        p = min(max(p, 0.0), 1.0)
    return MannwhitneyuResult(u1, p)


def _pairwise_sum(values):
    """Sum in the order numpy uses for a contiguous 1-D float64 reduction
    (pairwise summation with 8 partial sums and blocks of 128), so results
    agree with SciPy's exp(mean(log(a))) to the last bit where the
    logarithms do."""
    n = len(values)
    if n < 8:
        res = 0.0
        for v in values:
            res += v
        return res
    if n <= 128:
        r = list(values[:8])
        i = 8
        stop = n - (n % 8)
        while i < stop:
            for j in range(8):
                r[j] += values[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += values[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_sum(values[:n2]) + _pairwise_sum(values[n2:])


def _sequential_sum(values):
    """Sum in the order numpy uses when reducing a 2-D array over axis 0."""
    res = 0.0
    for v in values:
        res += v
    return res


def _log(v):
    if math.isnan(v) or v < 0:
        return math.nan
    if v == 0:
        return -math.inf
    if math.isinf(v):
        return math.inf
    return math.log(v)


def _gmean_1d(values, weights=None, summation=_pairwise_sum):
    """exp(average(log(values), weights)), as numpy.average computes it."""
    logs = [_log(float(v)) for v in values]
    if not logs:
        return math.nan
    if weights is None:
        mean = summation(logs) / len(logs)
    else:
        weights = [float(w) for w in weights]
        if len(weights) != len(logs):
            raise ValueError("`weights` must have the same length as `a`")
        products = [w * l if not (w == 0 and math.isinf(l)) else math.nan
                    for w, l in zip(weights, logs)]
        mean = summation(products) / summation(weights)
    if math.isnan(mean):
        return math.nan
    if mean == -math.inf:
        return 0.0
    if mean == math.inf:
        return math.inf
    return math.exp(mean)


def _is_sequence(a):
    return not isinstance(a, (str, bytes)) and hasattr(a, "__len__") \
        and hasattr(a, "__getitem__")


def gmean(a, axis=0, dtype=None, weights=None, *, nan_policy="propagate",
          keepdims=False):
    """Weighted geometric mean, exp(sum(w*log(a)) / sum(w)).

    ``a`` is a number, a 1-D sequence, or a 2-D sequence of equal-length
    rows. For 1-D input (or axis=None) a float is returned; for 2-D input
    a list-like of floats (with ``.any()``, as report.py calls it) reduced
    over ``axis`` (0: one value per column, 1 or -1: one value per row)."""
    if not _is_sequence(a):
        return _gmean_1d([a])
    rows = list(a)
    is_2d = bool(rows) and all(_is_sequence(r) for r in rows)
    if not is_2d:
        if axis not in (0, -1, None):
            raise ValueError("axis %r is out of bounds for a 1-D input" % (axis,))
        return _gmean_1d(rows, weights)
    rows = [list(r) for r in rows]
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise ValueError("rows of `a` must all have the same length")
    if axis is None:
        flat_w = None
        if weights is not None:
            flat_w = [w for wr in weights for w in wr]
        return _gmean_1d([v for r in rows for v in r], flat_w)
    if axis == 0 or axis == -2:
        cols = [[r[j] for r in rows] for j in range(width)]
        wcols = None if weights is None else \
            [[wr[j] for wr in weights] for j in range(width)]
        return _Vector(_gmean_1d(c, None if wcols is None else wcols[j],
                                 _sequential_sum)
                       for j, c in enumerate(cols))
    if axis == 1 or axis == -1:
        return _Vector(_gmean_1d(r, None if weights is None else weights[i])
                       for i, r in enumerate(rows))
    raise ValueError("axis %r is out of bounds for a 2-D input" % (axis,))
