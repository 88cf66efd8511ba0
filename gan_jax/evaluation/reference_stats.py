"""Reference statistics of the named protocols: computed once, cached next to the data, or read
from the statistics files that pytorch-fid, TTUR and clean-fid users share.

  python -m gan_jax.evaluate stats --dataset=npz:DATA.npz --protocols=fid50k_full,kid50k_full \
      --features=inception_fid.npz

A protocol's reference is the first images of the dataset split in a seeded order (all of them
for `_full`), fitted to the image size as the training pipeline fits them. Its statistics are
the feature moments (and, for KID and precision/recall, the features) under the protocol's
feature network and preprocessing. One file per dataset, split, size, protocol, preprocessing
and network (named by all of them, the weights file by its digest), beside the data: the npz's
folder, the TFDS data_dir, or ~/.cache/gan_jax for the bundled datasets.

File layout: `mu` [D] and `sigma` [D, D] (float64), as pytorch-fid's `--save-stats`, TTUR's
`fid_stats_*.npz` and clean-fid's FID statistics; `feats` [N, D] where KID or precision/recall
need them, as clean-fid's `*_kid.npz`; and `__metadata__`, a JSON string saying what they were
computed from. `load` reads any of those layouts (a foreign file has no metadata).
"""

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterator

import numpy as np

from gan_jax import errors
from gan_jax.data import pipeline as pipeline_lib
from gan_jax.data import sources
from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import metrics as metrics_lib
from gan_jax.evaluation import protocols as protocols_lib
from gan_jax.evaluation import streaming

METADATA_KEY = '__metadata__'
NEEDS_FEATURES = ('kid', 'pr')
CHUNK = 500  # Reference images read, fitted and featurised at a time.


@dataclasses.dataclass
class ReferenceStats:
  mean: np.ndarray
  covariance: np.ndarray
  features: np.ndarray | None  # Where KID or precision/recall need them.
  count: int  # Images (0 when a foreign file does not say).
  description: str  # For the protocol line.
  metadata: dict


def file_digest(path: str) -> str:
  """The first 12 hex digits of a file's sha256 (names the feature network's weights)."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 22), b''):
      digest.update(block)
  return digest.hexdigest()[:12]


def cache_directory(dataset: str, data_dir: str) -> str:
  """Where a dataset's statistics are cached: beside its npz, in its TFDS data_dir, or in
  ~/.cache/gan_jax for the bundled and generated datasets."""
  name = dataset[len(sources.STACKED_PREFIX):] if dataset.startswith(sources.STACKED_PREFIX) \
      else dataset
  if name.startswith('npz:'):
    return os.path.dirname(os.path.abspath(name[len('npz:'):]))
  if name == 'digits' or sources.is_point_dataset(name):
    return os.path.expanduser('~/.cache/gan_jax')
  return os.path.join(data_dir or os.environ.get('TFDS_DATA_DIR', '~/tensorflow_datasets'), name)


def cache_path(protocol: str, dataset: str, split: str, data_dir: str, image_size: int,
               preprocessing: str, network_digest: str) -> str:
  stem = os.path.basename(dataset.split(':')[-1]).removesuffix('.npz')
  if dataset.startswith(sources.STACKED_PREFIX):
    stem = f'stacked_{stem}'
  name = f'{stem}.{split}.{image_size}px.{protocol}.{preprocessing}.{network_digest}.stats.npz'
  return os.path.join(os.path.expanduser(cache_directory(dataset, data_dir)), name)


def _data_signature(dataset: str) -> dict:
  """Size and mtime of an npz dataset's file, so statistics of a replaced file are not reused."""
  path = dataset.split('npz:', 1)[1] if 'npz:' in dataset else ''
  if not path or not os.path.isfile(path):
    return {}
  status = os.stat(path)
  return {'data_bytes': status.st_size, 'data_mtime': int(status.st_mtime)}


def save(path: str, stats: ReferenceStats) -> None:
  arrays = {'mu': stats.mean, 'sigma': stats.covariance,
            METADATA_KEY: np.array(json.dumps(stats.metadata))}
  if stats.features is not None:
    arrays['feats'] = stats.features
  temporary = f'{path}.partial'
  with open(temporary, 'wb') as f:
    np.savez(f, **arrays)
  os.replace(temporary, path)  # Never a half-written file under the cached name.


def load(path: str) -> ReferenceStats:
  """Statistics in gan_jax's, pytorch-fid's / TTUR's (`mu`, `sigma`) or clean-fid's KID (`feats`)
  layout. EvaluationError says what the file holds instead."""
  if not os.path.isfile(path):
    raise errors.EvaluationError(f'reference statistics: no file at {path!r}.')
  arrays = sources.read_npz(path, 'reference statistics', error=errors.EvaluationError)
  metadata = json.loads(str(arrays[METADATA_KEY])) if METADATA_KEY in arrays else {}
  features = arrays.get('feats')
  if 'mu' in arrays and 'sigma' in arrays:
    mean, covariance = np.asarray(arrays['mu'], np.float64), np.asarray(arrays['sigma'], np.float64)
  elif features is not None and features.ndim == 2 and len(features) >= 2:
    mean, covariance = metrics_lib.moments(features)
  else:
    raise errors.EvaluationError(
        f'{path!r} holds {sorted(arrays)}: reference statistics need `mu` and `sigma` '
        '(pytorch-fid, TTUR, clean-fid) or `feats` [N, D] (clean-fid\'s KID statistics).')
  if mean.ndim != 1 or covariance.shape != (len(mean), len(mean)):
    raise errors.EvaluationError(f'{path!r}: mu has shape {mean.shape} and sigma '
                                 f'{covariance.shape}; they must be [D] and [D, D].')
  count = int(metadata.get('num_images', len(features) if features is not None else 0))
  made = (f'{count:,} images of {metadata["dataset"]} ({metadata["split"]}), cached in '
          f'{os.path.basename(path)}' if metadata else
          f'the statistics file {os.path.basename(path)} (its maker\'s images, network and '
          'preprocessing)')
  return ReferenceStats(mean, covariance, features, count, made, metadata)


def reference_indices(num_records: int, num: int, seed: int = 0) -> np.ndarray:
  """The reference images of the plain metrics: up to `num` records, a seeded choice, sorted."""
  rng = np.random.default_rng(seed)
  return np.sort(rng.choice(num_records, min(num, num_records), replace=False))


def reference_chunks(source, indices: np.ndarray, image_size: int
                     ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
  """(images in [-1, 1] fitted to image_size as the training pipeline fits them, labels or
  None) of the records `indices`, CHUNK at a time."""
  for i in range(0, len(indices), CHUNK):
    records = source.__getitems__(indices[i:i + CHUNK].tolist())
    images = np.stack([pipeline_lib.fit_to_size(r['image'], image_size) for r in records])
    labels = np.array([r['label'] for r in records]) if 'label' in records[0] else None
    yield images.astype(np.float32) / 127.5 - 1.0, labels


def reference_images(dataset: str, split: str, data_dir: str, image_size: int, num: int,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
  """The images (and labels, when the dataset has them) of reference_indices, all in memory."""
  source = sources.load_source(dataset, split, data_dir)
  chunks = list(reference_chunks(source, reference_indices(len(source), num, seed), image_size))
  labels = None if chunks[0][1] is None else np.concatenate([y for _, y in chunks])
  return np.concatenate([x for x, _ in chunks]), labels


def compute(protocols, dataset: str, split: str, data_dir: str, image_size: int,
            extractor: features_lib.FeatureExtractor, seed: int = 0,
            log: Callable[[str], None] | None = print) -> dict[str, ReferenceStats]:
  """The statistics of each protocol's reference, from one pass over the images they need."""
  source = sources.load_source(dataset, split, data_dir)
  count = protocols_lib.reference_count(protocols, len(source))
  order = np.random.default_rng(seed).permutation(len(source))[:count]
  prefixes = {p.name: min(p.num_reference or len(source), len(source)) for p in protocols}
  keep = max([prefixes[p.name] for p in protocols if p.metric in NEEDS_FEATURES], default=0)
  collected = streaming.collect(
      reference_chunks(source, order, image_size), count, extractor,
      moment_prefixes=list(prefixes.values()), keep_features=keep,
      progress=streaming.Progress(f'reference features of {dataset} ({split})', count, log))
  result = {}
  for p in protocols:
    n = prefixes[p.name]
    metadata = {'protocol': p.name, 'dataset': dataset, 'split': split, 'image_size': image_size,
                'num_images': n, 'of_images': len(source), 'seed': seed,
                'preprocessing': extractor.preprocessing, 'network': extractor.name,
                **_data_signature(dataset)}
    result[p.name] = ReferenceStats(
        *collected.moments[n], collected.features[:n] if p.metric in NEEDS_FEATURES else None,
        n, f'{n:,} images of {dataset} ({split})', metadata)
  return result


def load_or_compute(protocols, dataset: str, split: str, data_dir: str, image_size: int,
                    extractor: features_lib.FeatureExtractor, network_digest: str,
                    log: Callable[[str], None] | None = print) -> dict[str, ReferenceStats]:
  """Each protocol's statistics (reference order seed 0, so every evaluation of a dataset
  compares with the same images) from its cache file when that matches the data, else computed
  (all the missing ones in one pass) and cached; a folder that cannot be written is reported and
  the statistics are used uncached."""
  paths = {p.name: cache_path(p.name, dataset, split, data_dir, image_size,
                              extractor.preprocessing, network_digest) for p in protocols}
  result = {}
  for p in protocols:
    if os.path.isfile(paths[p.name]):
      cached = load(paths[p.name])
      if all(cached.metadata.get(k) == v for k, v in _data_signature(dataset).items()):
        result[p.name] = cached
      elif log:
        log(f'{paths[p.name]} was computed from another version of {dataset}; recomputing it.')
  missing = [p for p in protocols if p.name not in result]
  if missing:
    computed = compute(missing, dataset, split, data_dir, image_size, extractor, log=log)
    for name, stats in computed.items():
      try:
        os.makedirs(os.path.dirname(paths[name]), exist_ok=True)
        save(paths[name], stats)
        if log:
          log(f'cached the reference statistics of {name} in {paths[name]}')
      except OSError as e:
        if log:
          log(f'could not cache the reference statistics of {name} ({e}); using them uncached.')
    result.update(computed)
  return result
