"""Evaluator: the metrics of `gan_jax.evaluate` and of `config.evals`, with their protocols.

The metric and protocol names, and what each needs, are in checks.py. Everything is loaded and
checked when the Evaluator is built (before any training compiles), and every number comes with a
protocol line: sample counts, reference data, feature network, preprocessing. Samples arrive as
an array or as a stream of chunks (streaming.py), of which only what the metrics need is kept.
"""

import dataclasses
from collections.abc import Callable, Iterable

import numpy as np

from gan_jax.data import sources
from gan_jax.evaluation import cas as cas_lib
from gan_jax.evaluation import checks
from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import metrics as metrics_lib
from gan_jax.evaluation import pixel_metrics
from gan_jax.evaluation import protocols as protocols_lib
from gan_jax.evaluation import reference_stats as stats_lib
from gan_jax.evaluation import streaming

EvaluationError = checks.EvaluationError
# Plain metrics that need the generated features themselves (FID only their moments), and those
# that need the logits or the images.
_KEEP_FEATURES = ('kid', 'pr', 'dc', 'intra_fid')
_KEEP_LOGITS = ('is', 'classes', 'label_agreement')
_KEEP_IMAGES = checks.PIXEL_METRICS + ('stacked_modes', 'modes', 'cas')


def _checked(chunks, points: bool):
  """The chunks, each refused (check_samples) before its features are computed."""
  for chunk in chunks:
    checks.check_samples(chunk[0], points)
    yield chunk
    del chunk  # Not held while the next chunk is made.


@dataclasses.dataclass
class Result:
  values: dict[str, float]
  protocols: dict[str, str]  # metric name -> how it was measured
  images: dict[str, np.ndarray]  # name -> [N, H, W, C] in [-1, 1], to save as grids


class Evaluator:
  """Computes the requested metrics and protocols of a generator or a sample set against one
  reference. num_samples: how many samples the plain metrics use (None: all given); the
  protocols use their own counts. preprocessing: a resize.py mode ('' for the protocols' own,
  or pytorch-fid's for plain InceptionV3 metrics). reference_stats: a statistics file (gan_jax's,
  pytorch-fid's, TTUR's, clean-fid's) to compare the protocols with instead of the cached ones."""

  def __init__(self, metrics: tuple[str, ...], dataset: str, features_path: str = '',
               dataset_split: str = 'train', data_dir: str = '', image_size: int = 32,
               num_reference: int = 10_000, seed: int = 0, num_samples: int | None = None,
               preprocessing: str = '', reference_stats: str = '',
               log: Callable[[str], None] | None = None):
    checks.check_request(metrics, dataset, features_path)
    self.protocols = checks.selected_protocols(metrics)
    self.metrics = tuple(m for m in metrics if m not in checks.PROTOCOLS)
    self.dataset, self.seed, self.num_samples, self.log = dataset, seed, num_samples, log
    mode = preprocessing or (self.protocols[0].preprocessing if self.protocols else '')
    kind = features_lib.weights_kind(features_path) if features_path else None
    if self.protocols and kind != protocols_lib.INCEPTION:
      raise EvaluationError(f'{self.protocols[0].name} is defined on InceptionV3 features; '
                            f'{features_path!r} holds a {kind or "different"} network (its '
                            'metrics are the plain fid, kid, ...).')
    try:
      self.extractor = (features_lib.load_extractor(features_path, mode) if features_path
                        else None)
    except (ValueError, FileNotFoundError) as e:
      raise EvaluationError(f'the feature network {features_path!r} cannot be used: {e}') from None
    self.reference = self.reference_labels = self.reference_features = None
    self.reference_moments = None
    self.reference_name = f'{dataset} ({dataset_split})'
    self.protocol_reference = self._protocol_reference(
        features_path, dataset, dataset_split, data_dir, image_size, reference_stats)
    if sources.is_point_dataset(dataset):
      return
    # The reference images are held only for the pixel metrics; features come chunk by chunk.
    wants_images = any(m in checks.PIXEL_METRICS + ('cas',) for m in self.metrics)
    wants_features = bool(self.extractor) and any(m in checks.REFERENCE_FEATURE_METRICS
                                                  for m in self.metrics)
    if wants_images or wants_features:
      source = sources.load_source(dataset, dataset_split, data_dir)
      indices = stats_lib.reference_indices(len(source), num_reference, seed)
      short, _ = checks.too_few(self.metrics, len(indices), side=1)
      if short:
        raise EvaluationError(
            f'The reference has {len(indices)} images ({dataset!r} holds them all, or '
            f'num_reference={num_reference} caps them), too few for {short}.')
      count = len(indices) if wants_features else 0
      collected = streaming.collect(
          stats_lib.reference_chunks(source, indices, image_size), len(indices),
          self.extractor if wants_features else None, keep_features=count, keep_logits=count,
          keep_images=len(indices) if wants_images else 0)
      self.reference, self.reference_labels = collected.images, collected.labels
      self.reference_features = (collected.features, collected.logits) if wants_features else None
      if wants_features and 'fid' in self.metrics:  # Once, not at every evaluation.
        self.reference_moments = metrics_lib.moments(collected.features)
      self.reference_name = f'{len(indices)} images of {dataset} ({dataset_split})'

  def _protocol_reference(self, features_path, dataset, split, data_dir, image_size,
                          stats_path) -> dict[str, stats_lib.ReferenceStats]:
    if not self.protocols:
      return {}
    using = [p for p in self.protocols if p.uses_reference]
    if stats_path:
      stats = stats_lib.load(stats_path)
      lacking = [p.name for p in using if p.metric in stats_lib.NEEDS_FEATURES
                 and stats.features is None]
      if lacking:
        raise EvaluationError(f'{lacking} need the reference features, which {stats_path!r} '
                              'lacks (it holds moments only); it serves the FID protocols.')
      return {p.name: stats for p in using}
    return stats_lib.load_or_compute(using, dataset, split, data_dir, image_size, self.extractor,
                                     stats_lib.file_digest(features_path), log=self.log)

  def samples_needed(self, plain: int) -> int:
    """How many samples to generate: `plain` for the plain metrics, and each protocol's count."""
    return max([plain if self.metrics else 0] + [p.num_samples for p in self.protocols])

  def evaluate(self, samples: np.ndarray, generator: Callable | None = None,
               latent_dim: int = 0, labels: np.ndarray | None = None) -> Result:
    """samples: [N, H, W, C] in [-1, 1] (or [N, 2] points). generator: z [M, Z] -> images, for
    interpolation and arithmetic. labels: the labels a conditional GAN was asked for."""
    checks.check_samples(samples, sources.is_point_dataset(self.dataset))
    return self.evaluate_stream(streaming.array_chunks(samples, labels), len(samples), generator,
                                latent_dim)

  def evaluate_stream(self, chunks: Iterable[tuple[np.ndarray, np.ndarray | None]], total: int,
                      generator: Callable | None = None, latent_dim: int = 0) -> Result:
    """The same over (images, labels or None) chunks holding `total` samples in all."""
    short = [f'{p.name} needs {p.num_samples:,}' for p in self.protocols if total < p.num_samples]
    if short:
      raise EvaluationError(f'{total:,} samples are too few: {"; ".join(short)}.')
    n = min(total, self.num_samples or total) if self.metrics else 0
    too_few, _ = checks.too_few(self.metrics, n, side=0)
    if too_few:
      raise EvaluationError(f'{n} samples are too few for {too_few}.')
    wants = lambda names, count: count if any(m in names for m in self.metrics) else 0
    by_protocol = lambda names: [p.num_samples for p in self.protocols if p.metric in names]
    points = sources.is_point_dataset(self.dataset)
    collected = streaming.collect(
        _checked(chunks, points), max(n, total if self.protocols else 0),
        self.extractor if self.extractor and not points else None,
        moment_prefixes=[n] * ('fid' in self.metrics) + by_protocol(('fid',)),
        keep_features=max([wants(_KEEP_FEATURES, n)] + by_protocol(('kid', 'pr'))),
        keep_logits=max([wants(_KEEP_LOGITS, n)] + by_protocol(('is',))),
        keep_images=wants(_KEEP_IMAGES, n),
        progress=streaming.Progress('generated samples', max(n, total), self.log))
    values, protocols, images = self._plain(collected, n, generator, latent_dim)
    for p in self.protocols:
      values.update(self._protocol_values(p, collected))
      reference = self.protocol_reference[p.name].description if p.uses_reference else ''
      protocols[p.name] = p.describe(reference, self.extractor.preprocessing)
    return Result(values, protocols, images)

  def _protocol_values(self, p: protocols_lib.Protocol, collected) -> dict[str, float]:
    names = p.value_names()
    if p.metric == 'is':
      return dict(zip(names, metrics_lib.inception_score(collected.logits[:p.num_samples])))
    reference = self.protocol_reference[p.name]
    if p.metric == 'fid':
      fake_mean, fake_cov = collected.moments[p.num_samples]
      return {p.name: metrics_lib.frechet_distance(reference.mean, reference.covariance,
                                                   fake_mean, fake_cov)}
    fake = collected.features[:p.num_samples]
    if p.metric == 'kid':
      return dict(zip(names, metrics_lib.kid(reference.features, fake, seed=self.seed)))
    return dict(zip(names, metrics_lib.precision_recall(reference.features, fake, k=3)))

  def _plain(self, collected, n, generator, latent_dim) -> tuple[dict, dict, dict]:
    labels = collected.labels
    labelled = [m for m in self.metrics if m in checks.LABELLED_METRICS]
    if labelled and labels is None:
      raise EvaluationError(f'{labelled[0]} needs the labels the samples were generated for: '
                            'evaluate a conditional GAN (config.conditioning) or a samples file '
                            'with a "labels" array.')
    if labelled:
      labels = labels[:n]
      checks.check_labels(labels, n, self.extractor)
    values, protocols, images = pixel_metrics.evaluate(
        self.metrics, collected.images, self.dataset, self.reference, self.reference_name,
        self.extractor, generator, latent_dim, self.seed)
    generated = f'{n} generated'
    fake_features, fake_logits = collected.features, collected.logits
    if 'intra_fid' in self.metrics:
      values.update(self._intra_fid(fake_features[:n], labels))
      protocols['intra_fid'] = (f'{generated} with the labels asked for vs {self.reference_name}, '
                                f'class by class; features: {self.extractor.name}; mean and worst')
    if 'cas' in self.metrics:
      try:
        values['cas'] = cas_lib.classification_accuracy_score(
            collected.images[:n], labels, self.reference, self.reference_labels, self.seed)
        values['cas_real'] = cas_lib.real_data_score(n, self.reference, self.reference_labels,
                                                     self.seed)
      except ValueError as e:
        raise EvaluationError(str(e)) from None
      protocols['cas'] = cas_lib.describe(n, self.reference_name)
    if 'label_agreement' in self.metrics:
      values.update(metrics_lib.label_agreement(fake_logits[:n], labels))
      protocols['label_agreement'] = (f'{generated} with the labels asked for; fraction whose '
                                      f'class predicted by {self.extractor.name} is that label; '
                                      'worst = the lowest per-label fraction')
    wanted = [m for m in self.metrics if m in checks.FEATURE_METRICS]
    if wanted:
      against = f'{generated} vs {self.reference_name}; features: {self.extractor.name}'
      for name in wanted:
        values.update(self._feature_metric(name, collected, n))
        protocols[name] = against
      if 'kid' in wanted:
        size = metrics_lib.kid_subset_size(len(self.reference_features[0]), n)
        protocols['kid'] = f'{against}; 100 subsets of {size}'
      if 'is' in wanted:
        protocols['is'] = f'{generated}, 10 splits; logits: {self.extractor.name}'
      if 'classes' in wanted:
        protocols['classes'] = (f'{generated}; classes predicted by {self.extractor.name}; covered '
                                '= >= 0.2 N / classes samples; KL(generated || reference labels)')
    return values, protocols, images

  def _feature_metric(self, name, collected, n) -> dict[str, float]:
    real_features, _ = self.reference_features
    fake_features = None if collected.features is None else collected.features[:n]
    fake_logits = None if collected.logits is None else collected.logits[:n]
    if name == 'fid':
      return {'fid': metrics_lib.frechet_distance(*self.reference_moments,
                                                  *collected.moments[n])}
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
