"""Random-access data sources, chosen by `config.dataset`.

Every source yields records {'image': ..., 'label': int32 (when the data has labels)}: images
uint8 [H, W, C], or float32 [2] points for the 2-D mixtures (the key stays 'image' so the train
step reads one key whatever the data).

Offline (no network): 'ring8', 'grid25', 'digits', 'npz:PATH'. Any other name is a TFDS image
dataset read through `tfds.data_source` (ArrayRecord), e.g. 'mnist', 'fashion_mnist', 'cifar10',
'celeb_a'. 'stacked:NAME' stacks three random images of the one-channel labelled dataset NAME as
the channels of one RGB image (Stacked MNIST, Metz et al. 2017: 1,000 modes for digits).
"""

import os
import socket
from typing import Sequence

import numpy as np

from gan_jax import errors

OFFLINE_CHOICES = "'ring8', 'grid25', 'digits' or 'npz:PATH' (and 'stacked:' of the last two)"
STACKED_PREFIX = 'stacked:'
STACKED_RECORDS = 100_000  # Fixed triples of source images (seed 0).

# 2-D mixtures of the VEEGAN (Srivastava et al. 2017) / PacGAN (Lin et al. 2018) protocol.
MIXTURES = {
    # Eight Gaussians on the unit circle, std 0.01.
    'ring8': (np.stack([np.cos(2 * np.pi * np.arange(8) / 8),
                        np.sin(2 * np.pi * np.arange(8) / 8)], axis=1), 0.01),
    # 25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, std 0.05.
    'grid25': (np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], np.float64),
               0.05),
}
MIXTURE_TRAIN_POINTS = 100_000  # A fixed training set drawn once (seed 0), as in PacGAN.


DatasetError = errors.DatasetError


def is_point_dataset(dataset: str) -> bool:
  """Whether config.dataset names 2-D points (the mixtures) rather than images."""
  return dataset in MIXTURES


class ArraySource:
  """A grain random-access source over in-memory arrays that share their first dimension."""

  def __init__(self, arrays: dict[str, np.ndarray]):
    self._arrays = arrays
    self._length = len(next(iter(arrays.values())))

  def __len__(self) -> int:
    return self._length

  @property
  def labels(self) -> np.ndarray | None:
    """Every record's label (None without labels), read without decoding any image."""
    return self._arrays.get('label')

  def __getitem__(self, index: int) -> dict:
    return {k: v[index] for k, v in self._arrays.items()}

  def __getitems__(self, indices: Sequence[int]) -> list[dict]:
    rows = {k: v[np.asarray(indices)] for k, v in self._arrays.items()}
    return [{k: v[i] for k, v in rows.items()} for i in range(len(indices))]


def mixture_points(name: str, num: int, seed: int) -> np.ndarray:
  """num points [num, 2] float32 drawn uniformly over the modes of mixture `name`."""
  centers, std = MIXTURES[name]
  rng = np.random.default_rng(seed)
  modes = rng.integers(0, len(centers), num)
  return (centers[modes] + std * rng.standard_normal((num, 2))).astype(np.float32)


def digits_images() -> tuple[np.ndarray, np.ndarray]:
  """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16) as uint8 [N, 8, 8, 1]."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  return images, digits.target.astype(np.int32)


def read_npz(path: str, what: str, error: type[Exception] = DatasetError) -> dict[str, np.ndarray]:
  """All arrays of an .npz file; `error` (naming `what` the file is) when it is missing or
  unreadable."""
  if not os.path.isfile(path):
    raise error(f'{what}: no file at {path!r}.')
  with open(path, 'rb') as f:
    start = f.read(6)
  if not start.startswith((b'PK\x03\x04', b'PK\x05\x06')):  # An .npz is a zip archive.
    kind = ('an .npy file (one array)' if start.startswith(b'\x93NUMPY') else
            'empty' if not start else f'not an .npz file (it starts with {start!r})')
    raise error(f'{what}: {path!r} is {kind}; write one with np.savez(path, name=array, ...).')
  try:
    with np.load(path, allow_pickle=False) as f:
      return {k: f[k] for k in f.files}
  except Exception as e:  # A truncated or foreign file.
    raise error(f'{what}: {path!r} cannot be read as .npz: {e}') from e


def load_npz(path: str) -> dict[str, np.ndarray]:
  """Reads `images` (uint8 [N, H, W] or [N, H, W, C], C in {1, 3}) and optional `labels` [N]."""
  arrays = read_npz(path, f'npz dataset (from dataset "npz:{path}")')
  if 'images' not in arrays:
    raise DatasetError(f'npz dataset {path!r} has arrays {sorted(arrays)} but no "images"; '
                       'save it with np.savez(path, images=uint8 [N, H, W(, C)], labels=[N]).')
  images = arrays['images']
  if images.dtype != np.uint8:
    raise DatasetError(f'npz dataset {path!r}: "images" has dtype {images.dtype}; it must be uint8 '
                       'in 0..255 (e.g. np.round(x * 255).astype(np.uint8) for floats in [0, 1]).')
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
    raise DatasetError(f'npz dataset {path!r}: "images" has shape {images.shape}; it must be '
                       '[N, H, W] or [N, H, W, C] with C 1 or 3 and N > 0.')
  out = {'image': images}
  if 'labels' in arrays:
    labels = arrays['labels']
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
      raise DatasetError(f'npz dataset {path!r}: "labels" has shape {labels.shape} and dtype '
                         f'{labels.dtype}; it must be integers of shape [{len(images)}].')
    # Checked in their own dtype, every one: int64 labels of 2**32 + k must not wrap to k.
    bad = (labels < 0) | (labels > np.iinfo(np.int32).max)
    if bad.any():
      raise DatasetError(f'npz dataset {path!r}: {int(bad.sum())} of {len(labels)} "labels" are '
                         f'not class indices (found {labels.min()}..{labels.max()}, e.g. record '
                         f'{int(np.argmax(bad))}); labels must be 0, 1, ..., K - 1 (remap them, '
                         'e.g. with np.unique(labels, return_inverse=True)).')
    out['label'] = labels.astype(np.int32)
  return out


class TFDSImageSource:
  """A TFDS ArrayRecord data source reduced to {'image': uint8 [H, W, C], 'label'}.
  num_label_classes: the ClassLabel's number of classes (its labels lie in 0..n-1), 0 without."""

  def __init__(self, source, num_label_classes: int):
    self._source = source
    self._has_label = num_label_classes > 0
    self.num_label_classes = num_label_classes

  def __len__(self) -> int:
    return len(self._source)

  def _record(self, example) -> dict:
    record = {'image': np.asarray(example['image'], np.uint8)}
    if record['image'].ndim == 2:
      record['image'] = record['image'][..., None]
    if self._has_label:
      record['label'] = np.int32(example['label'])
    return record

  def __getitem__(self, index: int) -> dict:
    return self._record(self._source[index])

  def __getitems__(self, indices: Sequence[int]) -> list[dict]:
    return [self._record(e) for e in self._source.__getitems__(list(indices))]


class StackedSource:
  """Three images of a one-channel labelled source as the R, G, B channels of one image; the
  label is 100 * label_R + 10 * label_G + label_B (1,000 classes for digits). The triples are
  STACKED_RECORDS fixed draws (seed 0), so the dataset is the same on every run and process."""

  def __init__(self, base, name: str, num_records: int = STACKED_RECORDS):
    first = base[0]
    if first['image'].shape[-1] != 1 or 'label' not in first:
      raise DatasetError(f'{STACKED_PREFIX}{name}: stacking needs one-channel images with labels; '
                         f'{name!r} has images of shape {first["image"].shape} and keys '
                         f'{sorted(first)}.')
    base_labels = getattr(base, 'labels', None)
    if base_labels is not None and base_labels.max() > 9:
      raise DatasetError(f'{STACKED_PREFIX}{name}: stacking takes digits, labels 0..9 (a stack '
                         f'is labelled 100 R + 10 G + B); {name!r} has labels up to '
                         f'{base_labels.max()}.')
    self._base = base
    self._triples = np.random.default_rng(0).integers(0, len(base), (num_records, 3))

  def __len__(self) -> int:
    return len(self._triples)

  @property
  def labels(self) -> np.ndarray | None:
    """Every stacked record's label, from the base's labels (None when it cannot list them)."""
    base = getattr(self._base, 'labels', None)
    if base is None:
      return None
    return (base[self._triples] * np.array([100, 10, 1])).sum(axis=1).astype(np.int32)

  def __getitems__(self, indices: Sequence[int]) -> list[dict]:
    triples = self._triples[np.asarray(indices)]
    records = self._base.__getitems__(triples.reshape(-1).tolist())
    out = []
    for i in range(len(triples)):
      channels = records[3 * i:3 * i + 3]
      out.append({'image': np.concatenate([r['image'] for r in channels], axis=-1),
                  'label': np.int32(sum(int(r['label']) * 10**(2 - c)
                                        for c, r in enumerate(channels)))})
    return out

  def __getitem__(self, index: int) -> dict:
    return self.__getitems__([index])[0]


def _check_network(host: str = 'storage.googleapis.com', timeout: float = 5.0) -> None:
  """Fails within `timeout` seconds where TFDS's servers cannot be reached (TFDS itself retries
  for minutes before giving up)."""
  try:
    socket.create_connection((host, 443), timeout=timeout).close()
  except OSError as e:
    raise ConnectionError(f'no network connection to {host}: {e}') from None


def _tfds_source(name: str, split: str, data_dir: str) -> TFDSImageSource:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir = data_dir or None
  try:
    builder = tfds.builder(name, data_dir=data_dir, file_format='array_record')
  except Exception as e:  # Unknown name.
    raise DatasetError(
        f'config.dataset={name!r} is neither an offline dataset ({OFFLINE_CHOICES}) nor a TFDS '
        f'dataset: {str(e).splitlines()[0]}') from None
  if not builder.is_prepared():
    try:
      _check_network()
      builder.download_and_prepare(file_format='array_record')
    except Exception as e:  # No network, or TensorFlow missing for the preparation step.
      raise DatasetError(
          f'TFDS dataset {name!r} is not prepared in {builder.data_dir} and could not be '
          f'downloaded and prepared here ({type(e).__name__}: {str(e)[:300]}). Prepare it where '
          f'there is network (`tfds build {name} --file_format=array_record'
          f'{" --data_dir=" + data_dir if data_dir else ""}`; TFDS needs TensorFlow to encode '
          f'images) and point config.data_dir at it, or use an offline dataset: '
          f'{OFFLINE_CHOICES}.') from None
  features = builder.info.features
  if 'image' not in features:
    raise DatasetError(f'TFDS dataset {name!r} has features {list(features)}; gan_jax needs one '
                       'named "image".')
  if split not in builder.info.splits:
    raise DatasetError(f'TFDS dataset {name!r} has splits {list(builder.info.splits)}, not '
                       f'{split!r} (config.dataset_split).')
  source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  label = features['label'] if 'label' in features else None
  return TFDSImageSource(source, label.num_classes
                         if isinstance(label, tfds.features.ClassLabel) else 0)


def load_source(dataset: str, split: str = 'train', data_dir: str = ''):
  """The random-access source named by config.dataset."""
  if dataset.startswith(STACKED_PREFIX):
    name = dataset[len(STACKED_PREFIX):]
    return StackedSource(load_source(name, split, data_dir), name)
  if dataset in MIXTURES:
    return ArraySource({'image': mixture_points(dataset, MIXTURE_TRAIN_POINTS, seed=0)})
  if dataset == 'digits':
    images, labels = digits_images()
    return ArraySource({'image': images, 'label': labels})
  if dataset.startswith('npz:'):
    return ArraySource(load_npz(dataset[len('npz:'):]))
  return _tfds_source(dataset, split, data_dir)
