"""The metrics against closed forms, unbiasedness and published sanity values."""

import numpy as np
import pytest
import scipy.linalg

from gan_jax.evaluation import metrics


def _gaussian_set(rng, n, mean, cov):
  return rng.multivariate_normal(mean, cov, size=n)


def _closed_form(mean1, cov1, mean2, cov2):
  """The textbook formula with scipy's general matrix square root."""
  root = scipy.linalg.sqrtm(cov1 @ cov2).real
  return float(np.sum((mean1 - mean2)**2) + np.trace(cov1 + cov2 - 2 * root))


def test_fid_of_a_set_with_itself_is_zero():
  x = np.random.default_rng(0).standard_normal((3000, 64)).astype(np.float32)
  assert abs(metrics.fid(x, x)) < 1e-8


def test_fid_of_gaussian_sample_sets_matches_the_closed_form():
  rng = np.random.default_rng(1)
  d = 16
  a, b = rng.standard_normal((2, d, d))
  cov1, cov2 = a @ a.T / d + 0.1 * np.eye(d), b @ b.T / d + 0.1 * np.eye(d)  # Non-commuting.
  x = _gaussian_set(rng, 5000, np.zeros(d), cov1)
  y = _gaussian_set(rng, 4000, np.full(d, 0.3), cov2)
  expected = _closed_form(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
  assert metrics.fid(x, y) == pytest.approx(expected, rel=1e-6)
  # The population value for diagonal covariances: |m1 - m2|^2 + sum (sqrt(a) - sqrt(b))^2.
  var1, var2 = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
  exact = d * 0.3**2 + np.sum((np.sqrt(var1) - np.sqrt(var2))**2)
  assert metrics.frechet_distance(np.zeros(d), np.diag(var1), np.full(d, 0.3),
                                  np.diag(var2)) == pytest.approx(exact, rel=1e-12)


def test_moments_stream_in_blocks_equal_numpy():
  x = np.random.default_rng(2).standard_normal((5000, 8)).astype(np.float32)
  mean, cov = metrics.moments(x)
  np.testing.assert_allclose(mean, x.astype(np.float64).mean(0), rtol=1e-12, atol=1e-14)
  np.testing.assert_allclose(cov, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10)


def test_kid_is_unbiased_and_detects_a_shift():
  rng = np.random.default_rng(3)
  estimates = []
  for _ in range(20):
    x = rng.standard_normal((400, 32))
    estimates.append(metrics.kid(x[:200], x[200:], num_subsets=10, subset_size=200)[0])
  # Same distribution: the mean of the estimates is within 3 standard errors of 0 (a biased
  # estimator that keeps the diagonal terms would be ~2 E k(x, x) / m = 0.08 here).
  assert abs(np.mean(estimates)) < 3 * np.std(estimates) / np.sqrt(len(estimates))
  shifted = metrics.kid(rng.standard_normal((400, 32)), rng.standard_normal((400, 32)) + 0.5,
                        num_subsets=10, subset_size=200)
  assert shifted[0] > 10 * np.std(estimates) and shifted[1] > 0


def test_kid_subsets_are_smaller_than_a_set_no_larger_than_the_subset_size():
  """With 300 features and subsets of 1,000, every subset would be the whole set (std ~1e-16)."""
  rng = np.random.default_rng(4)
  x, y = rng.standard_normal((300, 16)), rng.standard_normal((500, 16)) + 0.3
  assert metrics.kid_subset_size(300, 500) == 150 and metrics.kid_subset_size(5000, 2000) == 1000
  mean, std = metrics.kid(x, y)
  assert std > 0.05 * mean > 0
  with pytest.raises(ValueError, match='got 3 and 500'):
    metrics.kid(x[:3], y)


def test_inception_score_bounds():
  assert metrics.inception_score(np.zeros((1000, 10)))[0] == pytest.approx(1.0)
  confident = np.full((1000, 10), -50.0)
  confident[np.arange(1000), np.arange(1000) % 10] = 50.0
  assert metrics.inception_score(confident)[0] == pytest.approx(10.0, rel=1e-6)


def test_precision_recall_density_coverage_sanity_values():
  """Two sets of 1,000 points of N(0, I) in 1,000-d: Naeem et al. 2020 report (P, R, D, C) =
  (0.48, 0.47, 1.06, 0.97) for this case."""
  values = []
  for seed in range(3):
    rng = np.random.default_rng(seed)
    real, fake = rng.standard_normal((2, 1000, 1000))
    values.append(metrics.precision_recall(real, fake, k=3) + metrics.density_coverage(real, fake))
  precision, recall, density, coverage = np.mean(values, axis=0)
  assert precision == pytest.approx(0.48, abs=0.05)
  assert recall == pytest.approx(0.47, abs=0.05)
  assert density == pytest.approx(1.06, abs=0.15)
  assert coverage == pytest.approx(0.97, abs=0.03)


def test_precision_recall_see_a_collapse():
  rng = np.random.default_rng(4)
  real = rng.standard_normal((1000, 8))
  collapsed = real[:20] + 0.01 * rng.standard_normal((20, 8))  # Few real points, slightly moved.
  collapsed = np.repeat(collapsed, 50, axis=0)
  precision, recall = metrics.precision_recall(real, collapsed)
  density, coverage = metrics.density_coverage(real, collapsed)
  assert precision > 0.9 and recall < 0.1 and coverage < 0.1
  assert metrics.precision_recall(real, rng.standard_normal((1000, 8)) + 10) == (0.0, 0.0)


def test_class_statistics():
  uniform = np.eye(10)[np.arange(1000) % 10] * 20
  stats = metrics.class_statistics(uniform)
  assert stats['classes_covered'] == 10 and stats['class_kl'] == pytest.approx(0.0, abs=1e-12)
  collapsed = np.eye(10)[np.zeros(1000, int)] * 20
  stats = metrics.class_statistics(collapsed, reference_labels=np.arange(1000) % 10)
  assert stats['classes_covered'] == 1 and stats['class_kl'] == pytest.approx(np.log(10))
