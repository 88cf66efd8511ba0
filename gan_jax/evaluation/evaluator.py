"""Evaluator: the metrics of `gan_jax.evaluate` and of `config.evals`, with their protocols.

Metrics (names as in --metrics and config.evals.metrics):
  fid, kid, is, pr (precision/recall), dc (density/coverage), classes   need a feature extractor
  stacked_modes                                   needs a digit classifier; RGB digit stacks
  label_agreement, intra_fid                      need a feature extractor and labelled samples
                                                  (a conditional GAN); intra_fid a labelled
                                                  reference (the mean FID of each class)
  birthday, nn_divergence, memorization, leak     compare pixels with the reference images
                                                  (leak: samples that look rotated, mirrored or
                                                  luma-flipped, the augmentation leak of ADA)
  interpolation, arithmetic                       need the generator (a workdir); arithmetic a
                                                  digit classifier
  modes                                           2-D mixtures only

Everything is loaded and checked when the Evaluator is built (before any training compiles), and
every number comes with a protocol string: sample counts, reference data, feature extractor.
"""

import dataclasses
from collections.abc import Callable, Iterator

import numpy as np

from gan_jax import errors
from gan_jax.data import pipeline as pipeline_lib
from gan_jax.data import sources
from gan_jax.evaluation import diagnostics, latent, leak, toy2d
from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import metrics as metrics_lib

FEATURE_METRICS = ('fid', 'kid', 'is', 'pr', 'dc', 'classes')
PIXEL_METRICS = ('birthday', 'nn_divergence', 'memorization', 'leak')
GENERATOR_METRICS = ('interpolation', 'arithmetic')
POINT_METRICS = ('modes',)
LABELLED_METRICS = ('label_agreement', 'intra_fid')  # Need the labels the samples were made for.
METRICS = (FEATURE_METRICS + ('stacked_modes',) + LABELLED_METRICS + PIXEL_METRICS
           + GENERATOR_METRICS + POINT_METRICS)
NEEDS_FEATURES = FEATURE_METRICS + LABELLED_METRICS + ('stacked_modes', 'arithmetic')
REFERENCE_FEATURE_METRICS = FEATURE_METRICS + ('intra_fid',)
# The fewest (generated samples, reference images) each metric is computed from: IS's 10 splits,
# the k-NN balls of precision/recall (k = 3) and density/coverage (k = 5), the birthday test's
# batches of 400, the 128-image batches of the divergence's two halves. Fewer give an error
# or a meaningless number, so they are refused before anything runs.
MIN_COUNTS = {'fid': (2, 2), 'kid': (4, 4), 'is': (10, 0), 'pr': (4, 4), 'dc': (1, 6),
              'classes': (1, 0), 'stacked_modes': (1, 0), 'label_agreement': (1, 0), 'intra_fid': (2, 2),
              'birthday': (800, 400), 'nn_divergence': (256, 256), 'memorization': (1, 2),
              'interpolation': (0, 0), 'arithmetic': (0, 0), 'modes': (1, 0), 'leak': (1, 4)}
SAMPLE_RANGE_TOLERANCE = 1e-3  # Images must lie in [-1, 1] up to float rounding.


EvaluationError = errors.EvaluationError


def parse_metrics(names: str) -> tuple[str, ...]:
  """'fid,kid' -> ('fid', 'kid'), refusing unknown names."""
  parsed = tuple(n.strip() for n in names.split(',') if n.strip())
  unknown = [n for n in parsed if n not in METRICS]
  if unknown:
    raise EvaluationError(f'Unknown metrics {unknown}; choose from {list(METRICS)}.')
  return parsed


def check_request(metrics: tuple[str, ...], dataset: str, features_path: str,
                  num_samples: int | None = None, what: str = 'num_samples') -> None:
  """The cheap checks (no files read): which metrics fit the data and need features, and (when
  given) whether num_samples generated samples are enough for each (`what` names the setting)."""
  points = sources.is_point_dataset(dataset)
  if num_samples is not None:
    short, needed = _too_few(metrics, num_samples, side=0)
    if short:
      raise EvaluationError(f'{what}={num_samples} is too few samples for {short}; evaluate at '
                            f'least {needed} samples.')
  for name in metrics:
    if points != (name in POINT_METRICS):
      raise EvaluationError(
          f'Metric {name!r} does not apply to dataset {dataset!r}: 2-D mixtures take '
          f'{list(POINT_METRICS)}, image datasets the others.')
    if name in NEEDS_FEATURES and not features_path:
      raise EvaluationError(
          f'Metric {name!r} needs a feature extractor: give a weights file (a classifier from '
          '`python -m gan_jax.evaluate train-classifier`, or converted InceptionV3 weights).')


def _too_few(metrics, count: int, side: int) -> tuple[str, int]:
  """('fid (at least 2), pr (at least 4)', 4) for the metrics that need more than `count`
  generated samples (side 0) or reference images (side 1); ('', 0) when none does."""
  short = {m: MIN_COUNTS[m][side] for m in metrics if count < MIN_COUNTS[m][side]}
  return ', '.join(f'{m} (at least {n})' for m, n in short.items()), max(short.values(), default=0)


def check_samples(samples: np.ndarray, points: bool, from_file: bool = False) -> None:
  """Generated samples as the metrics take them: images float [N, H, W, C] (C 1 or 3) in
  [-1, 1], or 2-D points [N, 2]; every value finite. EvaluationError says what was found.
  from_file: samples a user saved, also refused when no value is negative (images in [0, 1]: a
  generator's tanh output over many samples always reaches below 0)."""
  samples = np.asarray(samples)
  shape = '[N, 2] points' if points else '[N, H, W, C] images with C 1 or 3'
  if points != (samples.ndim == 2) or (points and samples.shape[1] != 2) or (
      not points and (samples.ndim != 4 or samples.shape[-1] not in (1, 3))):
    raise EvaluationError(f'samples have shape {samples.shape}; the metrics take {shape}'
                          + ('' if points or samples.ndim != 3 else
                             ' (add the channel axis: samples[..., None])') + '.')
  if len(samples) == 0:
    raise EvaluationError('there are no samples to evaluate.')
  if not np.issubdtype(samples.dtype, np.floating):
    raise EvaluationError(f'samples have dtype {samples.dtype}; they must be floats'
                          + ('' if points else ' in [-1, 1] (from uint8 pixels: x / 127.5 - 1)')
                          + '.')
  finite = np.isfinite(samples).reshape(len(samples), -1).all(axis=1)
  if not finite.all():
    raise EvaluationError(f'{np.sum(~finite)} of {len(samples)} samples hold NaN or inf (e.g. '
                          f'sample {int(np.argmin(finite))}); a diverged generator makes them. '
                          'Evaluate an earlier checkpoint or drop them.')
  if points:
    return
  low, high = float(samples.min()), float(samples.max())
  if low < -1 - SAMPLE_RANGE_TOLERANCE or high > 1 + SAMPLE_RANGE_TOLERANCE:
    hint = ('they look like pixels in [0, 255]: use x / 127.5 - 1' if high > 2 else
            'rescale them to [-1, 1]')
    raise EvaluationError(f'samples hold values in [{low:.4g}, {high:.4g}]; images must be in '
                          f'[-1, 1] ({hint}).')
  if from_file and low >= 0 and high > 0.5:
    raise EvaluationError(f'samples hold values in [{low:.4g}, {high:.4g}]: they look like '
                          'images in [0, 1], which the metrics would read as grey-on-grey; '
                          'images must be in [-1, 1] (use 2 * x - 1).')


def check_labels(labels: np.ndarray, num_samples: int, extractor) -> None:
  """The labels a conditional GAN's samples were generated for: integers [N] that the feature
  network's classifier can predict (0..K-1)."""
  labels = np.asarray(labels)
  if labels.shape != (num_samples,) or not np.issubdtype(labels.dtype, np.integer):
    raise EvaluationError(f'labels have shape {labels.shape} and dtype {labels.dtype}; they must '
                          f'be integers of shape [{num_samples}], one per sample.')
  bad = (labels < 0) | (labels >= extractor.num_classes)
  if bad.any():
    raise EvaluationError(f'{int(bad.sum())} labels lie outside 0..{extractor.num_classes - 1}, '
                          f'the classes of {extractor.name} (found {labels.min()}..'
                          f'{labels.max()}); label_agreement compares them with its predictions.')


def reference_images(dataset: str, split: str, data_dir: str, image_size: int, num: int,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
  """Up to `num` images of a dataset (seeded choice), fitted to image_size like the training
  pipeline does, in [-1, 1]; and their labels when the dataset has them."""
  source = sources.load_source(dataset, split, data_dir)
  indices = np.sort(np.random.default_rng(seed).choice(len(source), min(num, len(source)),
                                                       replace=False))
  records = source.__getitems__(indices.tolist())
  images = np.stack([pipeline_lib.fit_to_size(r['image'], image_size) for r in records])
  labels = np.array([r['label'] for r in records]) if 'label' in records[0] else None
  return images.astype(np.float32) / 127.5 - 1.0, labels


@dataclasses.dataclass
class Result:
  values: dict[str, float]
  protocols: dict[str, str]  # metric name -> how it was measured
  images: dict[str, np.ndarray]  # name -> [N, H, W, C] in [-1, 1], to save as grids


class Evaluator:
  """Computes the requested metrics of a generator or a sample set against one reference."""

  def __init__(self, metrics: tuple[str, ...], dataset: str, features_path: str = '',
               dataset_split: str = 'train', data_dir: str = '', image_size: int = 32,
               num_reference: int = 10_000, seed: int = 0):
    check_request(metrics, dataset, features_path)
    self.metrics = metrics
    self.dataset = dataset
    self.seed = seed
    try:
      self.extractor = features_lib.load_extractor(features_path) if features_path else None
    except (ValueError, FileNotFoundError) as e:
      raise EvaluationError(f'the feature network {features_path!r} cannot be used: {e}') from None
    self.reference = self.reference_labels = self.reference_features = None
    self.reference_name = f'{dataset} ({dataset_split})'
    if sources.is_point_dataset(dataset):
      return
    if any(m in REFERENCE_FEATURE_METRICS + PIXEL_METRICS for m in metrics):
      self.reference, self.reference_labels = reference_images(
          dataset, dataset_split, data_dir, image_size, num_reference, seed)
      self.reference_name = f'{len(self.reference)} images of {dataset} ({dataset_split})'
      short, _ = _too_few(metrics, len(self.reference), side=1)
      if short:
        raise EvaluationError(
            f'The reference has {len(self.reference)} images ({dataset!r} holds them all, or '
            f'num_reference={num_reference} caps them), too few for {short}.')
    if self.extractor and any(m in REFERENCE_FEATURE_METRICS for m in metrics):
      self.reference_features = self.extractor(
          features_lib.in_batches(self.reference, self.extractor.batch_size))

  def evaluate(self, samples: np.ndarray, generator: Callable | None = None,
               latent_dim: int = 0, labels: np.ndarray | None = None) -> Result:
    """samples: [N, H, W, C] in [-1, 1] (or [N, 2] points). generator: z [M, Z] -> images, for
    interpolation and arithmetic. labels: the labels a conditional GAN was asked for."""
    check_samples(samples, sources.is_point_dataset(self.dataset))
    labelled = [m for m in self.metrics if m in LABELLED_METRICS]
    if labels is not None and self.extractor is not None and labelled:
      check_labels(labels, len(samples), self.extractor)
    values, protocols, images = {}, {}, {}
    n = len(samples)
    short, _ = _too_few(self.metrics, n, side=0)
    if short:
      raise EvaluationError(f'{n} samples are too few for {short}.')
    generated = f'{n} generated'
    if 'modes' in self.metrics:
      values.update(toy2d.mode_statistics(samples, self.dataset))
      protocols['modes'] = (f'{generated} points; high quality within 3 std of the nearest mode; '
                            'a mode is covered by >= 0.2 N / modes high-quality samples (PacGAN); '
                            'reverse KL of the high-quality samples over the modes vs uniform')
    if labelled and labels is None:
      raise EvaluationError(f'{labelled[0]} needs the labels the samples were generated for: '
                            'evaluate a conditional GAN (config.conditioning) or a samples file '
                            'with a "labels" array.')
    wanted = [m for m in self.metrics if m in FEATURE_METRICS]
    if wanted or labelled:
      fake_features, fake_logits = self.extractor(
          features_lib.in_batches(samples, self.extractor.batch_size))
    if 'intra_fid' in self.metrics:
      values.update(self._intra_fid(fake_features, labels))
      protocols['intra_fid'] = (f'{generated} with the labels asked for vs {self.reference_name}, '
                                f'class by class; features: {self.extractor.name}; mean and worst')
    if 'label_agreement' in self.metrics:
      values.update(metrics_lib.label_agreement(fake_logits, labels))
      protocols['label_agreement'] = (f'{generated} with the labels asked for; fraction whose '
                                      f'class predicted by {self.extractor.name} is that label; '
                                      'worst = the lowest per-label fraction')
    if wanted:
      real_features, _ = self.reference_features
      against = f'{generated} vs {self.reference_name}; features: {self.extractor.name}'
      for name in wanted:
        values.update(self._feature_metric(name, real_features, fake_features, fake_logits))
        protocols[name] = against
      if 'kid' in wanted:
        size = metrics_lib.kid_subset_size(len(real_features), len(fake_features))
        protocols['kid'] = f'{against}; 100 subsets of {size}'
      if 'is' in wanted:
        protocols['is'] = f'{generated}, 10 splits; logits: {self.extractor.name}'
      if 'classes' in wanted:
        protocols['classes'] = (f'{generated}; classes predicted by {self.extractor.name}; covered '
                                '= >= 0.2 N / classes samples; KL(generated || reference labels)')
    if 'stacked_modes' in self.metrics:
      values.update(diagnostics.stacked_mnist_modes(samples, self.extractor))
      protocols['stacked_modes'] = (f'{generated} RGB samples, each channel labelled by '
                                    f'{self.extractor.name}; 1,000 modes; KL(generated || uniform)')
    if 'birthday' in self.metrics:
      stats, images['birthday_pairs'] = diagnostics.birthday_paradox(samples, self.reference)
      values.update(stats)
      protocols['birthday'] = (f'{generated} in batches of 400, pixel L2; duplicate = closer than '
                               'half the closest pair in any batch of 400 of '
                               f'{self.reference_name}')
    if 'nn_divergence' in self.metrics:
      values.update(diagnostics.neural_net_divergence(self.reference, samples, seed=self.seed))
      half = min(len(self.reference), n) // 2
      protocols['nn_divergence'] = (f'a fresh CNN discriminator, 1,000 Adam steps on {half} real '
                                    f'+ {half} generated, scored on {half} + {half} others; '
                                    f'real: {self.reference_name}')
    if 'memorization' in self.metrics:
      stats, images['nearest_training'] = diagnostics.nearest_training_images(
          samples[:2000], self.reference)
      values.update(stats)
      protocols['memorization'] = (f'{min(n, 2000)} generated, pixel L2 to the nearest of '
                                   f'{self.reference_name}; real baseline: 1,000 of them to '
                                   'their nearest other image; medians')
    if 'leak' in self.metrics:
      values.update(leak.augmentation_leak(samples, self.reference, seed=self.seed))
      protocols['leak'] = (f'{generated}: fraction whose nearest of {self.reference_name} in pixel '
                           'L2 is closest after undoing a 90-degree rotation / mirror (geometric) '
                           'or a luma flip (negated); real: 1,000 of them against the others')
    if 'interpolation' in self.metrics:
      images.update(self._interpolations(generator, latent_dim))
      protocols['interpolation'] = '8 random pairs of z, 10 steps, lerp and slerp'
    if 'arithmetic' in self.metrics:
      stats, images['arithmetic'] = self._arithmetic(generator, latent_dim)
      values.update(stats)
      protocols['arithmetic'] = ('thin digit + (thick - thin) for each class, 10 exemplars a term '
                                 f'among 4,000 samples; classes from {self.extractor.name}; ink = '
                                 'mean brightness')
    return Result(values, protocols, images)

  def _feature_metric(self, name, real_features, fake_features, fake_logits) -> dict[str, float]:
    if name == 'fid':
      return {'fid': metrics_lib.fid(real_features, fake_features)}
    if name == 'kid':
      mean, std = metrics_lib.kid(real_features, fake_features, seed=self.seed)
      return {'kid': mean, 'kid_std': std}
    if name == 'is':
      mean, std = metrics_lib.inception_score(fake_logits)
      return {'is': mean, 'is_std': std}
    if name == 'pr':
      precision, recall = metrics_lib.precision_recall(real_features, fake_features, k=3)
      return {'precision': precision, 'recall': recall}
    if name == 'dc':
      density, coverage = metrics_lib.density_coverage(real_features, fake_features, k=5)
      return {'density': density, 'coverage': coverage}
    return metrics_lib.class_statistics(fake_logits, self.reference_labels)

  def _intra_fid(self, fake_features, labels) -> dict[str, float]:
    if self.reference_labels is None:
      raise EvaluationError(f'intra_fid needs a labelled reference; {self.reference_name} has no '
                            'labels.')
    try:
      return metrics_lib.intra_class_fid(self.reference_features[0], self.reference_labels,
                                         fake_features, labels)
    except ValueError as e:
      raise EvaluationError(str(e)) from None

  def _require(self, generator, what):
    if generator is None:
      raise EvaluationError(f'{what} needs the generator: evaluate a workdir, not a sample file.')

  def _interpolations(self, generator, latent_dim) -> dict[str, np.ndarray]:
    self._require(generator, 'interpolation')
    rng = np.random.default_rng(self.seed)
    z0, z1 = rng.standard_normal((2, 8, latent_dim)).astype(np.float32)
    return {f'interpolation_{method}': np.asarray(generator(
        latent.interpolation_latents(z0, z1, 10, method))) for method in latent.INTERPOLATIONS}

  def _arithmetic(self, generator, latent_dim):
    self._require(generator, 'arithmetic')
    z = np.random.default_rng(self.seed).standard_normal((4000, latent_dim)).astype(np.float32)
    images = np.concatenate(list(batched(generator, z)))
    return latent.stroke_arithmetic(generator, z, images, self.extractor)


def batched(generator: Callable, z: np.ndarray, batch_size: int = 500) -> Iterator[np.ndarray]:
  for i in range(0, len(z), batch_size):
    yield np.asarray(generator(z[i:i + batch_size]))
