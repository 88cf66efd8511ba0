"""What the evaluator can compute and what each needs: metric names, the fewest samples each takes,
and the checks of a request, of samples and of labels that run before any work.

Metrics (names as in --metrics and config.evals.metrics):
  fid, kid, is, pr (precision/recall), dc (density/coverage), classes   need a feature extractor
  stacked_modes                                   needs a digit classifier; RGB digit stacks
  label_agreement, intra_fid, cas                 need a feature extractor (cas: a digit
                                                  classifier) and labelled samples (a conditional
                                                  GAN); intra_fid and cas a labelled reference
  birthday, nn_divergence, memorization, leak     compare pixels with the reference images
                                                  (leak: samples that look rotated, mirrored or
                                                  luma-flipped, the augmentation leak of ADA)
  interpolation, arithmetic                       need the generator (a workdir); arithmetic a
                                                  digit classifier
  modes                                           2-D mixtures only
and the named protocols of protocols.py (fid50k_full, kid50k_full, pr50k3_full, is50k, fid10k,
...), which fix their own counts, reference, network (InceptionV3) and preprocessing.
"""

import numpy as np

from gan_jax import errors
from gan_jax.data import sources
from gan_jax.evaluation import protocols as protocols_lib

FEATURE_METRICS = ('fid', 'kid', 'is', 'pr', 'dc', 'classes')
PIXEL_METRICS = ('birthday', 'nn_divergence', 'memorization', 'leak')
GENERATOR_METRICS = ('interpolation', 'arithmetic')
POINT_METRICS = ('modes',)
# Need the labels the samples were made for.
LABELLED_METRICS = ('label_agreement', 'intra_fid', 'cas')
METRICS = (FEATURE_METRICS + ('stacked_modes',) + LABELLED_METRICS + PIXEL_METRICS
           + GENERATOR_METRICS + POINT_METRICS)
NEEDS_FEATURES = FEATURE_METRICS + ('label_agreement', 'intra_fid', 'stacked_modes', 'arithmetic')
REFERENCE_FEATURE_METRICS = FEATURE_METRICS + ('intra_fid',)
PROTOCOLS = tuple(protocols_lib.PROTOCOLS)
# The fewest (generated samples, reference images) each metric is computed from: IS's 10 splits,
# the k-NN balls of precision/recall (k = 3) and density/coverage (k = 5), the birthday test's
# batches of 400, the 128-image batches of the divergence's two halves. Fewer give an error
# or a meaningless number, so they are refused before anything runs.
MIN_COUNTS = {'fid': (2, 2), 'kid': (4, 4), 'is': (10, 0), 'pr': (4, 4), 'dc': (1, 6),
              'classes': (1, 0), 'stacked_modes': (1, 0), 'label_agreement': (1, 0),
              'intra_fid': (2, 2), 'cas': (10, 20),
              'birthday': (800, 400), 'nn_divergence': (256, 256), 'memorization': (1, 2),
              'interpolation': (0, 0), 'arithmetic': (0, 0), 'modes': (1, 0), 'leak': (1, 4)}
SAMPLE_RANGE_TOLERANCE = 1e-3  # Images must lie in [-1, 1] up to float rounding.


EvaluationError = errors.EvaluationError


def selected_protocols(metrics) -> list[protocols_lib.Protocol]:
  return [protocols_lib.PROTOCOLS[m] for m in metrics if m in PROTOCOLS]


def parse_metrics(names: str) -> tuple[str, ...]:
  """'fid,kid' -> ('fid', 'kid'), refusing unknown names."""
  parsed = tuple(n.strip() for n in names.split(',') if n.strip())
  unknown = [n for n in parsed if n not in METRICS + PROTOCOLS]
  if unknown:
    raise EvaluationError(f'Unknown metrics {unknown}; choose from {list(METRICS)} or the '
                          f'protocols {list(PROTOCOLS)}.')
  return parsed


def check_request(metrics: tuple[str, ...], dataset: str, features_path: str,
                  num_samples: int | None = None, what: str = 'num_samples') -> None:
  """The cheap checks (no files read): which metrics fit the data and need features, and (when
  given) whether num_samples generated samples are enough for each (`what` names the setting)."""
  points = sources.is_point_dataset(dataset)
  if num_samples is not None:
    short, needed = too_few(metrics, num_samples, side=0)
    if short:
      raise EvaluationError(f'{what}={num_samples} is too few samples for {short}; evaluate at '
                            f'least {needed} samples.')
  for name in metrics:
    if points != (name in POINT_METRICS):
      raise EvaluationError(
          f'Metric {name!r} does not apply to dataset {dataset!r}: 2-D mixtures take '
          f'{list(POINT_METRICS)}, image datasets the others.')
    if name in PROTOCOLS and not features_path:
      raise EvaluationError(
          f'Protocol {name!r} is defined on InceptionV3: give its converted FID weights '
          '(`python -m gan_jax.evaluation.inception`).')
    if name in NEEDS_FEATURES and not features_path:
      raise EvaluationError(
          f'Metric {name!r} needs a feature extractor: give a weights file (a classifier from '
          '`python -m gan_jax.evaluate train-classifier`, or converted InceptionV3 weights).')


def too_few(metrics, count: int, side: int) -> tuple[str, int]:
  """('fid (at least 2), pr (at least 4)', 4) for the metrics that need more than `count`
  generated samples (side 0) or reference images (side 1); ('', 0) when none does."""
  short = {m: MIN_COUNTS[m][side] for m in metrics
           if m in MIN_COUNTS and count < MIN_COUNTS[m][side]}
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
  network's classifier can predict (0..K-1); without a feature network, non-negative."""
  labels = np.asarray(labels)
  if labels.shape != (num_samples,) or not np.issubdtype(labels.dtype, np.integer):
    raise EvaluationError(f'labels have shape {labels.shape} and dtype {labels.dtype}; they must '
                          f'be integers of shape [{num_samples}], one per sample.')
  if extractor is None:
    if labels.min() < 0:
      raise EvaluationError(f'labels hold negative values ({labels.min()}); classes are 0..K-1.')
    return
  bad = (labels < 0) | (labels >= extractor.num_classes)
  if bad.any():
    raise EvaluationError(f'{int(bad.sum())} labels lie outside 0..{extractor.num_classes - 1}, '
                          f'the classes of {extractor.name} (found {labels.min()}..'
                          f'{labels.max()}); label_agreement compares them with its predictions.')
