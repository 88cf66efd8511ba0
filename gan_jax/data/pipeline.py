"""The Grain input pipeline: seeded shuffling, per-process shards, fit to size, scale to [-1, 1].

  source -> shuffle(seed) -> repeat (a new permutation each epoch) -> this process's shard
         -> fit each image to image_size -> batch -> float32 in [-1, 1]

The iterator is a grain DatasetIterator: its state (a few integers) is saved in every checkpoint,
so a resumed run reads exactly the batches an uninterrupted run would have read.
"""

import dataclasses

import grain
import jax
import numpy as np
from PIL import Image

from gan_jax import configuration
from gan_jax.data import sources


def fit_to_size(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [H, W, C] -> [size, size, C]: centre-crop to a square, then zero-pad when the image is
  smaller by at most size/8 (28 -> 32 keeps MNIST's pixels), else resize bilinearly (antialiased)."""
  height, width, channels = image.shape
  if height != width:
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image = image[top:top + side, left:left + side]
  side = image.shape[0]
  if side == size:
    return image
  if side < size <= side + size // 8:
    before = (size - side) // 2
    pad = ((before, size - side - before),) * 2 + ((0, 0),)
    return np.pad(image, pad)
  pil = Image.fromarray(image[..., 0] if channels == 1 else image)
  resized = np.asarray(pil.resize((size, size), Image.BILINEAR))
  return resized.reshape(size, size, channels)


def _to_model_batch(batch: dict, n_critic: int) -> dict:
  """uint8 images -> float32 in [-1, 1]; [n_critic * B, ...] -> [n_critic, B, ...]."""
  out = dict(batch)
  x = batch['image']
  out['image'] = x.astype(np.float32) / 127.5 - 1.0 if x.dtype == np.uint8 else x
  if n_critic > 1:
    out = {k: v.reshape((n_critic, -1) + v.shape[1:]) for k, v in out.items()}
  return out


@dataclasses.dataclass
class DataPipeline:
  iterator: grain.DatasetIterator  # Yields this process's part of each global batch.
  data_shape: tuple[int, ...]  # One sample as the models see it: (H, W, C) or (2,).
  num_records: int  # In the whole dataset (all processes).

  @property
  def is_points(self) -> bool:
    return len(self.data_shape) == 1


def make_pipeline(config, process_index: int | None = None,
                  process_count: int | None = None) -> DataPipeline:
  """The training pipeline of a config for one process (default: this JAX process)."""
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  if config.batch_size % process_count:
    raise configuration.ConfigError(
        f'config.batch_size={config.batch_size} must be divisible by the {process_count} processes.')
  source = sources.load_source(config.dataset, config.dataset_split, config.data_dir)
  if len(source) < process_count:
    raise sources.DatasetError(f'Dataset {config.dataset!r} has {len(source)} records, fewer than '
                               f'the {process_count} processes that read it.')

  ds = grain.MapDataset.source(source).shuffle(seed=config.seed).repeat()
  ds = ds[process_index::process_count]
  first = source[0]['image']
  if configuration.is_point_dataset(config.dataset):
    data_shape = tuple(first.shape)
  else:
    size = config.image_size
    data_shape = (size, size, first.shape[-1])
    ds = ds.map(lambda r: {**r, 'image': fit_to_size(r['image'], size)})
  local_batch = config.batch_size // process_count * config.n_critic
  ds = ds.batch(local_batch, drop_remainder=True)
  ds = ds.map(lambda b: _to_model_batch(b, config.n_critic))
  return DataPipeline(iterator=iter(ds), data_shape=data_shape, num_records=len(source))
