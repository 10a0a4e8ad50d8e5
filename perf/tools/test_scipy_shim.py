"""Self-test for perf/tools/scipy, shmring's stand-in for scipy.stats.

Run:  python3 perf/tools/test_scipy_shim.py      (or python3 -m unittest)

The reference values are computed here independently of the shim:
brute-force enumeration of every arrangement of the pooled sample for the
exact null distribution and exact p-values, a pairwise-comparison U with a
separately written tie-corrected normal approximation, published
critical-value tables, the worked example in SciPy 1.10's mannwhitneyu
documentation, and the p-values expected by Google Benchmark's own
gbench/report.py unit tests (libbenchmark-tools 1.7.1).
"""

import collections
import itertools
import math
import os
import random
import statistics
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scipy  # noqa: E402  (the stand-in next to this file)
import scipy.stats as shim  # noqa: E402

REL = 1e-12


def brute_null_counts(m, n):
    """counts[u] over all C(m+n, m) placements of m x-values among m+n
    distinct ranks; U = number of (x, y) pairs with x above y."""
    counts = [0] * (m * n + 1)
    for pos in itertools.combinations(range(m + n), m):
        # the k-th x (0-based, in rank order) at pooled position p has
        # p - k y-values below it
        counts[sum(p - k for k, p in enumerate(pos))] += 1
    return counts


def pairwise_u(x, y):
    """U of x: pairs with x > y count 1, ties count 1/2."""
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


def brute_exact_p(x, y, alternative):
    """Exact permutation p-value of U1 over every split of the pooled
    (tie-free) data into groups of len(x) and len(y)."""
    pooled = list(x) + list(y)
    n1 = len(x)
    u_obs = pairwise_u(x, y)
    ge = le = total = 0
    for idx in itertools.combinations(range(len(pooled)), n1):
        chosen = set(idx)
        xs = [pooled[i] for i in idx]
        ys = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        u = pairwise_u(xs, ys)
        total += 1
        ge += u >= u_obs
        le += u <= u_obs
    p_greater, p_less = ge / total, le / total
    if alternative == "greater":
        return p_greater
    if alternative == "less":
        return p_less
    return min(1.0, 2.0 * min(p_greater, p_less))


def normal_approx_p(x, y, alternative, continuity=True):
    """Tie-corrected normal approximation, SciPy 1.10 conventions: the
    statistic is U1 for 'greater', U2 for 'less', max(U1, U2) doubled for
    'two-sided'; the continuity correction moves it 0.5 towards the mean."""
    n1, n2 = len(x), len(y)
    n = n1 + n2
    u1 = pairwise_u(x, y)
    u2 = n1 * n2 - u1
    u = {"greater": u1, "less": u2, "two-sided": max(u1, u2)}[alternative]
    ties = collections.Counter(list(x) + list(y)).values()
    sigma = math.sqrt(n1 * n2 / 12.0
                      * (n + 1 - sum(t ** 3 - t for t in ties) / (n * (n - 1))))
    z = (u - n1 * n2 / 2.0 - (0.5 if continuity else 0.0)) / sigma
    p = 1.0 - statistics.NormalDist().cdf(z) if z < 0 else \
        statistics.NormalDist().cdf(-z)
    if alternative == "two-sided":
        p *= 2
    return min(1.0, p)


def tie_free_sample(rng, size):
    return rng.sample(range(1000), size)


class ShimIdentity(unittest.TestCase):
    def test_is_the_stand_in(self):
        here = os.path.dirname(os.path.abspath(__file__))
        self.assertTrue(os.path.abspath(shim.__file__).startswith(here),
                        shim.__file__)


class ExactNullDistribution(unittest.TestCase):
    def test_counts_match_enumeration(self):
        for m in range(1, 8):
            for n in range(1, 8):
                with self.subTest(m=m, n=n):
                    self.assertEqual(shim._u_null_counts(m, n),
                                     brute_null_counts(m, n))

    def test_counts_sum_and_symmetry_large(self):
        for m, n in [(8, 40), (8, 200), (3, 500), (12, 12)]:
            c = shim._u_null_counts(m, n)
            self.assertEqual(sum(c), math.comb(m + n, m))
            self.assertEqual(c, c[::-1])

    def test_published_critical_values(self):
        # Largest U with P(U <= u) <= alpha, from the standard Mann-Whitney
        # critical-value tables (equal group sizes).
        two_sided_05 = {5: 2, 8: 13, 10: 23, 20: 127}
        one_sided_05 = {5: 4, 10: 27}
        for table, alpha in ((two_sided_05, 0.025), (one_sided_05, 0.05)):
            for n, crit in table.items():
                with self.subTest(n=n, alpha=alpha):
                    c = shim._u_null_counts(n, n)
                    total = math.comb(2 * n, n)
                    self.assertLessEqual(sum(c[:crit + 1]) / total, alpha)
                    self.assertGreater(sum(c[:crit + 2]) / total, alpha)


class ExactPValues(unittest.TestCase):
    def test_against_enumeration(self):
        rng = random.Random(20240501)
        sizes = [(1, 1), (1, 5), (2, 3), (3, 3), (4, 4), (5, 2), (3, 8),
                 (8, 3), (6, 6), (7, 5), (5, 7), (7, 7)]
        for n1, n2 in sizes:
            for _ in range(4):
                pooled = tie_free_sample(rng, n1 + n2)
                x, y = pooled[:n1], pooled[n1:]
                for alt in ("two-sided", "less", "greater"):
                    want = brute_exact_p(x, y, alt)
                    for method in ("exact", "auto"):  # auto: small, no ties
                        with self.subTest(x=x, y=y, alt=alt, method=method):
                            res = shim.mannwhitneyu(x, y, alternative=alt,
                                                    method=method)
                            self.assertEqual(res.statistic, pairwise_u(x, y))
                            self.assertAlmostEqual(res.pvalue, want,
                                                   delta=REL)

    def test_extremes(self):
        x, y = [1, 2, 3, 4], [5, 6, 7, 8, 9]
        total = math.comb(9, 4)
        self.assertEqual(shim.mannwhitneyu(x, y).pvalue, 2 / total)
        self.assertEqual(shim.mannwhitneyu(x, y, alternative="less").pvalue,
                         1 / total)
        self.assertEqual(
            shim.mannwhitneyu(x, y, alternative="greater").pvalue, 1.0)
        # statistic at the centre: two-sided p is clipped to 1
        self.assertEqual(shim.mannwhitneyu([1, 4], [2, 3]).pvalue, 1.0)


class AsymptoticPValues(unittest.TestCase):
    def check(self, x, y, method, continuity=True):
        for alt in ("two-sided", "less", "greater"):
            with self.subTest(x=x, y=y, alt=alt, method=method,
                              continuity=continuity):
                res = shim.mannwhitneyu(x, y, use_continuity=continuity,
                                        alternative=alt, method=method)
                self.assertEqual(res.statistic, pairwise_u(x, y))
                want = normal_approx_p(x, y, alt, continuity)
                self.assertLessEqual(abs(res.pvalue - want),
                                     REL * max(1.0, abs(want)))

    def test_ties_small_samples_auto_is_asymptotic(self):
        cases = [([1, 2, 2, 3], [2, 3, 4]),
                 ([5, 5, 5], [5, 6, 7]),
                 ([1.5, 2.5, 2.5, 2.5, 9], [2.5, 3, 3, 10, 11, 12]),
                 ([8, 8], [7, 4.54, 800])]
        for x, y in cases:
            self.check(x, y, "auto")
            self.check(x, y, "asymptotic", continuity=False)

    def test_large_samples_auto_is_asymptotic(self):
        rng = random.Random(7)
        for n1, n2 in [(9, 9), (12, 20), (30, 25), (200, 150)]:
            pooled = tie_free_sample(rng, n1 + n2)
            x, y = pooled[:n1], pooled[n1:]
            self.check(x, y, "auto")
            self.check(x, y, "asymptotic", continuity=False)

    def test_large_samples_with_ties(self):
        rng = random.Random(11)
        x = [rng.randint(0, 15) for _ in range(40)]
        y = [rng.randint(3, 18) for _ in range(35)]
        self.check(x, y, "auto")

    def test_method_choice(self):
        rng = random.Random(3)
        # one sample of 8 or fewer, no ties: exact, even if the other is big
        pooled = tie_free_sample(rng, 8 + 30)
        x, y = pooled[:8], pooled[8:]
        self.assertEqual(shim.mannwhitneyu(x, y),
                         shim.mannwhitneyu(x, y, method="exact"))
        self.assertNotEqual(shim.mannwhitneyu(x, y).pvalue,
                            shim.mannwhitneyu(x, y, method="asymptotic").pvalue)
        # both larger than 8: asymptotic
        pooled = tie_free_sample(rng, 18)
        x, y = pooled[:9], pooled[9:]
        self.assertEqual(shim.mannwhitneyu(x, y),
                         shim.mannwhitneyu(x, y, method="asymptotic"))
        self.assertNotEqual(shim.mannwhitneyu(x, y).pvalue,
                            shim.mannwhitneyu(x, y, method="exact").pvalue)
        # small but tied: asymptotic
        x, y = [1, 2, 3], [3, 4, 5]
        self.assertEqual(shim.mannwhitneyu(x, y),
                         shim.mannwhitneyu(x, y, method="asymptotic"))

    def test_all_equal(self):
        self.assertEqual(shim.mannwhitneyu([3, 3, 3], [3, 3]).pvalue, 1.0)
        self.assertTrue(math.isnan(shim.mannwhitneyu(
            [3, 3, 3], [3, 3], use_continuity=False).pvalue))


class PublishedExamples(unittest.TestCase):
    def test_scipy_1_10_docs_example(self):
        # scipy.stats.mannwhitneyu docstring, after Shier (2004)
        males = [19, 22, 16, 29, 24]
        females = [20, 11, 17, 12]
        u1, p = shim.mannwhitneyu(males, females, method="exact")
        self.assertEqual(u1, 17.0)
        self.assertAlmostEqual(p, 0.1111111111111111, delta=1e-15)
        p = shim.mannwhitneyu(males, females, method="asymptotic").pvalue
        self.assertAlmostEqual(p, 0.11134688653314041, delta=1e-15)
        p = shim.mannwhitneyu(males, females, use_continuity=False,
                              method="asymptotic").pvalue
        self.assertAlmostEqual(p, 0.0864107329737, delta=1e-13)
        res = shim.mannwhitneyu(females, males, alternative="less",
                                method="exact")
        self.assertEqual(res.statistic, 3.0)
        self.assertAlmostEqual(res.pvalue, 0.05555555555555555, delta=1e-15)

    def test_google_benchmark_report_py_expectations(self):
        # gbench/report.py unit tests on Inputs/test3_run{0,1}.json expect
        # these p-values for the series report.py passes to mannwhitneyu.
        cases = [([9, 8], [10, 7], 1.0),
                 ([90, 86], [89, 72], 0.6666666666666666),
                 ([8, 8], [7, 4.54, 800], 0.7670968684102772),
                 ([80, 77], [75, 66.6, 1], 0.2)]
        for x, y, want in cases:
            with self.subTest(x=x, y=y):
                got = shim.mannwhitneyu(x, y, alternative="two-sided").pvalue
                self.assertAlmostEqual(got, want, delta=1e-14)


class ResultAndValidation(unittest.TestCase):
    def test_result_shape(self):
        res = shim.mannwhitneyu([1, 5, 9], [2, 3])
        u, p = res
        self.assertEqual((u, p), (res.statistic, res.pvalue))
        self.assertEqual(res.statistic + shim.mannwhitneyu([2, 3], [1, 5, 9])
                         .statistic, 6)

    def test_less_greater_mirror(self):
        x, y = [1.2, 3.4, 0.5, 7.7, 2.2], [4.4, 5.5, 6.6, 3.3]
        for method in ("exact", "asymptotic"):
            self.assertAlmostEqual(
                shim.mannwhitneyu(x, y, alternative="less",
                                  method=method).pvalue,
                shim.mannwhitneyu(y, x, alternative="greater",
                                  method=method).pvalue, delta=1e-15)

    def test_bad_input(self):
        with self.assertRaises(ValueError):
            shim.mannwhitneyu([], [1, 2])
        with self.assertRaises(ValueError):
            shim.mannwhitneyu([float("nan"), 1], [1, 2])
        with self.assertRaises(ValueError):
            shim.mannwhitneyu([1], [2], alternative="bigger")
        with self.assertRaises(ValueError):
            shim.mannwhitneyu([1], [2], method="permutation")


class GeometricMean(unittest.TestCase):
    def test_1d(self):
        rng = random.Random(5)
        for size in (1, 2, 7, 8, 9, 127, 128, 129, 1000):
            data = [rng.uniform(1e-9, 1e3) for _ in range(size)]
            got = shim.gmean(data)
            self.assertIsInstance(got, float)
            self.assertLessEqual(abs(got - statistics.geometric_mean(data)),
                                 1e-12 * got)
        self.assertAlmostEqual(shim.gmean([1, 2, 4]), 2.0, delta=1e-15)
        self.assertEqual(shim.gmean([0, 3]), 0.0)
        self.assertTrue(math.isnan(shim.gmean([-1, 3])))

    def test_weights(self):
        data, w = [2.0, 8.0, 5.0], [1.0, 3.0, 0.5]
        want = math.exp(sum(wi * math.log(v) for v, wi in zip(data, w))
                        / sum(w))
        self.assertAlmostEqual(shim.gmean(data, weights=w), want, delta=1e-13)

    def test_2d_as_report_py_uses_it(self):
        # report.calculate_geomean: gmean([[real, cpu], ...]) over axis 0,
        # then .any() and [0], [1] on the result
        times = [[1e-6, 2e-6], [4e-6, 8e-6], [2e-6, 4e-6]]
        got = shim.gmean(times)
        self.assertTrue(got.any())
        self.assertEqual(len(got), 2)
        self.assertAlmostEqual(got[0], statistics.geometric_mean(
            [1e-6, 4e-6, 2e-6]), delta=1e-18)
        self.assertAlmostEqual(got[1], statistics.geometric_mean(
            [2e-6, 8e-6, 4e-6]), delta=1e-18)
        rows = shim.gmean(times, axis=1)
        self.assertEqual(len(rows), 3)
        self.assertAlmostEqual(rows[1], math.sqrt(32e-12), delta=1e-18)
        self.assertAlmostEqual(shim.gmean(times, axis=None),
                               statistics.geometric_mean(
                                   [v for r in times for v in r]),
                               delta=1e-18)
        self.assertFalse(shim.gmean([[0.0, 0.0], [1.0, 2.0]]).any())


if __name__ == "__main__":
    unittest.main()
