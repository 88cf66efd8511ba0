"""Sample-quality metrics on features, with their statistics in float64.

  FID  (Heusel et al. 2017): ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) of Gaussians
       fitted to the two feature sets.
  KID  (Binkowski et al. 2018): unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, averaged
       over random subsets, with its standard deviation over the subsets.
  IS   (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), mean and std over splits.
  Precision / recall (Kynkaanniemi et al. 2019): the fraction of generated samples inside the real
       manifold (the union of balls reaching each real sample's k-th nearest real neighbour), and of
       real samples inside the generated manifold; k = 3.
  Density / coverage (Naeem et al. 2020): how many real-sample balls contain a generated sample on
       average (divided by k), and the fraction of real balls that contain one; k = 5.

All functions take host feature arrays [N, D] (any float dtype) and return Python floats.
"""

import numpy as np
import scipy.linalg

_CHUNK = 2048  # Rows per block of the blocked computations below.


class RunningMoments:
  """The mean and unbiased covariance of features that arrive in chunks, in float64: the sums
  of x - s and of (x - s)(x - s)^T, with s the first chunk's mean (shifted sums keep the
  cancellation in the covariance small), so FID never holds the features themselves (2048 x 2048
  doubles, 32 MB, for any number of samples)."""

  def __init__(self, dim: int):
    self.count = 0
    self.shift = None
    self.total = np.zeros(dim)
    self.outer = np.zeros((dim, dim))

  def update(self, features: np.ndarray) -> None:
    for i in range(0, len(features), _CHUNK):
      block = np.asarray(features[i:i + _CHUNK], np.float64)
      if self.shift is None:
        self.shift = block.mean(axis=0)
      block = block - self.shift
      self.count += len(block)
      self.total += block.sum(axis=0)
      self.outer += block.T @ block

  def result(self) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]); ValueError below 2 samples."""
    if self.count < 2:
      raise ValueError(f'moments need at least 2 samples, got {self.count}.')
    centred_mean = self.total / self.count
    covariance = (self.outer - self.count * np.outer(centred_mean, centred_mean)) / (self.count - 1)
    return centred_mean + self.shift, covariance


def moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean [D] and unbiased covariance [D, D] in float64, accumulated over blocks of rows."""
  features = np.asarray(features)
  running = RunningMoments(features.shape[1])
  running.update(features)
  return running.result()


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
  eigenvalues, vectors = scipy.linalg.eigh(matrix)
  return (vectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ vectors.T


def frechet_distance(mean1, cov1, mean2, cov2) -> float:
  """The Frechet distance of N(mean1, cov1) and N(mean2, cov2), in float64.

  Tr((S1 S2)^(1/2)) is computed as Tr((S1^(1/2) S2 S1^(1/2))^(1/2)), whose argument is symmetric
  positive semi-definite, so only symmetric eigendecompositions are needed (no complex parts)."""
  mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
  cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
  root1 = _psd_sqrt(cov1)
  middle = root1 @ cov2 @ root1
  trace_sqrt = np.sqrt(np.clip(scipy.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
  diff = mean1 - mean2
  return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)


def fid(features1: np.ndarray, features2: np.ndarray) -> float:
  return frechet_distance(*moments(features1), *moments(features2))


def kid_subset_size(num1: int, num2: int, subset_size: int = 1000) -> int:
  """The size of KID's subsets: subset_size (1,000, as StyleGAN's metrics), but half the smaller
  set where that set is no larger: subsets of a whole set would all be the same set, and their
  standard deviation ~1e-16 instead of the spread of the estimate."""
  smaller = min(num1, num2)
  return subset_size if smaller > subset_size else smaller // 2


def kid(features1: np.ndarray, features2: np.ndarray, num_subsets: int = 100,
        subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
  """(mean, std) over subsets (of kid_subset_size) of the unbiased MMD^2 estimate with the cubic
  polynomial kernel (Binkowski et al. 2018)."""
  x_all = np.asarray(features1, np.float64)
  y_all = np.asarray(features2, np.float64)
  m = kid_subset_size(len(x_all), len(y_all), subset_size)
  if m < 2:
    raise ValueError(f'KID needs at least 4 samples in each set (subsets of 2 that differ); got '
                     f'{len(x_all)} and {len(y_all)}.')
  d = x_all.shape[1]
  rng = np.random.default_rng(seed)
  estimates = []
  for _ in range(num_subsets):
    x = x_all[rng.choice(len(x_all), m, replace=False)]
    y = y_all[rng.choice(len(y_all), m, replace=False)]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    estimates.append((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) +
                     (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1)) - 2 * k_xy.mean())
  return float(np.mean(estimates)), float(np.std(estimates))


def log_softmax(logits: np.ndarray) -> np.ndarray:
  logits = np.asarray(logits, np.float64)
  shifted = logits - logits.max(axis=1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
  """(mean, std) over `splits` equal parts of exp(E_x KL(p(y|x) || p(y)))."""
  log_p = log_softmax(logits)
  scores = []
  for part in np.array_split(log_p, splits):
    log_marginal = np.log(np.exp(part).mean(axis=0))
    scores.append(np.exp(np.mean(np.sum(np.exp(part) * (part - log_marginal), axis=1))))
  return float(np.mean(scores)), float(np.std(scores))


_BLOCK_BYTES = 1 << 28  # Distance blocks of at most 256 MB (float64).


def _row_blocks(rows: int, columns: int) -> range:
  """Starts of row blocks whose [block, columns] float64 distances fit _BLOCK_BYTES."""
  return range(0, rows, max(1, _BLOCK_BYTES // (8 * max(columns, 1))))


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Euclidean distances [len(a), len(b)] in float64."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * a @ b.T
  return np.sqrt(np.clip(squared, 0, None))


def nearest_neighbour_radii(features: np.ndarray, k: int) -> np.ndarray:
  """Distance from each point to its k-th nearest other point of the same set, computed in row
  blocks (never the whole [N, N] matrix: 50,000 points would need 20 GB)."""
  radii = np.empty(len(features))
  step = _row_blocks(len(features), len(features)).step
  for i in range(0, len(features), step):
    distances = pairwise_distances(features[i:i + step], features)
    radii[i:i + step] = np.partition(distances, k, axis=1)[:, k]  # [:, 0] is the point itself.
  return radii


def _inside_any_ball(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
  """[len(points)] bool: whether each point lies within radii[j] of some centres[j]."""
  inside = np.empty(len(points), bool)
  step = _row_blocks(len(points), len(centres)).step
  for i in range(0, len(points), step):
    inside[i:i + step] = (pairwise_distances(points[i:i + step], centres) <= radii[None]).any(1)
  return inside


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
  """Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN balls: the fraction of
  fake samples inside some real sample's ball, and of real samples inside some fake one's."""
  precision = _inside_any_ball(fake, real, nearest_neighbour_radii(real, k)).mean()
  recall = _inside_any_ball(real, fake, nearest_neighbour_radii(fake, k)).mean()
  return float(precision), float(recall)


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
  """Density and coverage (Naeem et al. 2020) with k-NN balls around the real samples."""
  real_radii = nearest_neighbour_radii(real, k)
  balls_containing, covered = 0, np.empty(len(real), bool)
  step = _row_blocks(len(real), len(fake)).step
  for i in range(0, len(real), step):
    distances = pairwise_distances(real[i:i + step], fake)  # [block, F]
    radii = real_radii[i:i + step, None]
    balls_containing += int((distances < radii).sum())
    covered[i:i + step] = (distances < radii).any(axis=1)
  return float(balls_containing / (k * len(fake))), float(covered.mean())


def class_statistics(logits: np.ndarray, reference_labels: np.ndarray | None = None,
                     min_fraction: float = 0.2) -> dict[str, float]:
  """The classifier's class histogram of samples: classes covered (at least min_fraction of the
  samples a uniform generator would give each class) and KL(generated || reference) of the class
  distributions (reference: the given labels' histogram, else uniform)."""
  num_classes = np.shape(logits)[1]
  predicted = np.asarray(logits).argmax(axis=1)
  counts = np.bincount(predicted, minlength=num_classes).astype(np.float64)
  q = counts / counts.sum()
  if reference_labels is None:
    p = np.full(num_classes, 1.0 / num_classes)
  else:
    p = np.bincount(reference_labels, minlength=num_classes) / len(reference_labels)
  nonzero = q > 0
  return {'classes_covered': float(np.sum(counts >= min_fraction * counts.sum() / num_classes)),
          'num_classes': float(num_classes),
          'class_kl': float(np.sum(q[nonzero] * np.log(q[nonzero] / np.maximum(p[nonzero], 1e-12))))}


def intra_class_fid(real_features, real_labels, fake_features, fake_labels) -> dict[str, float]:
  """Intra-class FID (Miyato & Koyama 2018): the mean over the classes y of the reference of
  FID(real images of class y, samples generated for y), and the worst class's. ValueError when a
  class has fewer than 2 images on either side."""
  real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
  per_class = []
  for y in np.unique(real_labels):
    real, fake = real_features[real_labels == y], fake_features[fake_labels == y]
    if len(real) < 2 or len(fake) < 2:
      raise ValueError(f'intra-class FID needs at least 2 real and 2 generated images of each '
                       f'class; class {y} has {len(real)} real and {len(fake)} generated.')
    per_class.append(fid(real, fake))
  return {'intra_fid': float(np.mean(per_class)), 'intra_fid_worst': float(np.max(per_class))}


def label_agreement(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
  """How often a classifier's prediction on a conditional GAN's sample is the label it was asked
  for: overall, and for the worst label (a class the generator ignores shows up there)."""
  labels = np.asarray(labels)
  correct = np.asarray(logits).argmax(-1) == labels
  per_label = [correct[labels == y].mean() for y in np.unique(labels)]
  return {'label_agreement': float(correct.mean()), 'label_agreement_worst': float(min(per_label))}
