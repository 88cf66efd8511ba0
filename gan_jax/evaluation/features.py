"""Feature extractors for the sample-quality metrics, and the weights-file format they share.

A FeatureExtractor maps images (float32 NHWC in [-1, 1], any size, 1 or 3 channels) to
(features [B, D], logits [B, K]): features feed FID, KID, precision/recall and density/coverage;
logits feed the Inception Score and class histograms. Two kinds exist: InceptionV3 with the FID
weights (`inception_net.py`; `inception.py` converts them) and the small domain classifiers this
project trains (`classifier.py`). Each module registers the loader of its kind with
`register_loader`, and gan_jax/evaluation/__init__.py imports both: whatever imports this module
gets a `load_extractor` that knows every kind (this module imports neither).

Weights files are .npz: one array per parameter, keyed by its '/'-joined path in the Flax
variables, plus '__metadata__': a JSON string (architecture fields, provenance, accuracy).
"""

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import flax
import jax
import numpy as np

from gan_jax.data import sources

METADATA_KEY = '__metadata__'


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
  name: str  # What the numbers were computed with, e.g. 'classifier mnist_cnn (pool 128-d)'.
  apply: Callable[[jax.Array], tuple[jax.Array, jax.Array]]  # jitted images -> (features, logits)
  feature_dim: int
  num_classes: int
  batch_size: int = 250
  image_channels: int = 0  # The channels it takes; 0: 1 or 3.
  network: str = ''  # The kind of its weights file ('inception_v3', 'classifier').
  preprocessing: str = ''  # Its resize.py mode; '' where it fits images its own way.

  def __call__(self, images: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Streams batches of images through the network; returns all (features, logits) as float32
    host arrays (50,000 x 2048 features are 400 MB; the images themselves are never all held)."""
    features, logits = [], []
    for batch in images:
      for i in range(0, len(batch), self.batch_size):
        f, l = self.apply(np.asarray(batch[i:i + self.batch_size], np.float32))
        features.append(np.asarray(f, np.float32))
        logits.append(np.asarray(l, np.float32))
    if not features:
      raise ValueError(f'{self.name}: no images to extract features from.')
    return np.concatenate(features), np.concatenate(logits)


def in_batches(array: np.ndarray, batch_size: int) -> Iterable[np.ndarray]:
  for i in range(0, len(array), batch_size):
    yield array[i:i + batch_size]


def save_weights(path: str, variables: Any, metadata: dict) -> None:
  """Flax variables (nested dicts of arrays) + JSON-able metadata -> .npz."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables), sep='/')
  arrays = {k: np.asarray(v) for k, v in flat.items()}
  arrays[METADATA_KEY] = np.array(json.dumps(metadata))
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'wb') as f:
    np.savez(f, **arrays)


def load_weights(path: str, what: str) -> tuple[dict, dict]:
  """.npz -> (variables, metadata); `what` names the file's role in error messages."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{what}: no file at {path!r}.')
  arrays = sources.read_npz(path, what, error=ValueError)
  if METADATA_KEY not in arrays:
    raise ValueError(f'{what}: {path!r} is not a gan_jax weights file (no {METADATA_KEY!r}).')
  metadata = json.loads(str(arrays.pop(METADATA_KEY)))
  return flax.traverse_util.unflatten_dict(arrays, sep='/'), metadata


def weights_kind(path: str) -> str | None:
  """The metadata 'kind' of a weights file, reading that entry alone (None if it has none)."""
  try:
    with np.load(path, allow_pickle=False) as arrays:
      return json.loads(str(arrays[METADATA_KEY])).get('kind')
  except (OSError, ValueError, KeyError):
    return None


def variable_shapes(variables: Any) -> dict[str, tuple[int, ...]]:
  """{'/'-joined path: shape} of a variables tree (arrays or jax.eval_shape's structs)."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables), sep='/')
  return {k: tuple(np.shape(v)) for k, v in flat.items()}


def check_shapes(variables: Any, expected: dict[str, tuple[int, ...]], what: str) -> None:
  """Raises ValueError naming every missing, unexpected or mis-shaped array of a weights file."""
  got = variable_shapes(variables)
  problems = [f'{k} missing' for k in sorted(set(expected) - set(got))]
  problems += [f'{k} unexpected' for k in sorted(set(got) - set(expected))]
  problems += [f'{k} has shape {got[k]}, expected {expected[k]}'
               for k in sorted(set(got) & set(expected)) if got[k] != expected[k]]
  if problems:
    raise ValueError(f'{what} does not fit its architecture: ' + '; '.join(problems[:10]) +
                     (f' (and {len(problems) - 10} more)' if len(problems) > 10 else ''))


# loader(variables, metadata, path, preprocessing) -> FeatureExtractor, by the weights file's
# metadata 'kind'; preprocessing: a resize.py mode, '' for the network's default.
Loader = Callable[[dict, dict, str, str], FeatureExtractor]
_LOADERS: dict[str, Loader] = {}


def register_loader(kind: str) -> Callable[[Loader], Loader]:
  """Decorator: `load_extractor` builds the extractor of weights files of `kind` with it."""
  def register(loader: Loader) -> Loader:
    _LOADERS[kind] = loader
    return loader
  return register


def load_extractor(path: str, preprocessing: str = '') -> FeatureExtractor:
  """The feature extractor in a weights file: a classifier trained by `gan_jax.evaluate
  train-classifier`, or InceptionV3 converted by `python -m gan_jax.evaluation.inception`, with
  a preprocessing mode of resize.py ('' for the network's default)."""
  variables, metadata = load_weights(path, 'feature extractor')
  kind = metadata.get('kind')
  loader = _LOADERS.get(kind) if isinstance(kind, str) else None
  if loader is None:
    raise ValueError(f'{path!r} holds weights of kind {kind!r}; expected a classifier (made by '
                     '`python -m gan_jax.evaluate train-classifier`) or InceptionV3 (made by '
                     '`python -m gan_jax.evaluation.inception`).')
  return loader(variables, metadata, path, preprocessing)
