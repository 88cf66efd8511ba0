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

from gan_jax import errors
from gan_jax.data import sources


def fit_to_size(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [H, W, C] -> [size, size, C]: centre-crop to a square, then zero-pad when the image is
  smaller by at most size/8 (28 -> 32 keeps MNIST's pixels), repeat each pixel k x k when size is
  k times the side (8 -> 32: the 8x8 digits keep sharp strokes), else resize bilinearly
  (antialiased)."""
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
  if size % side == 0:
    factor = size // side
    return image.repeat(factor, axis=0).repeat(factor, axis=1)
  pil = Image.fromarray(image[..., 0] if channels == 1 else image)
  resized = np.asarray(pil.resize((size, size), Image.BILINEAR))
  return resized.reshape(size, size, channels)


def to_model_batch(batch: dict) -> dict:
  """uint8 images -> float32 in [-1, 1]."""
  return {k: x.astype(np.float32) / 127.5 - 1.0 if x.dtype == np.uint8 else x
          for k, x in batch.items()}


def check_labels(source, dataset: str, num_classes: int) -> None:
  """Conditional and semi-supervised GANs need a label in [0, num_classes) on every record, and
  records of every class. Checked on every label: from the arrays of in-memory sources, from the
  ClassLabel of TFDS datasets (whose labels lie in 0..n-1 by construction)."""
  first = source[0]
  if 'label' not in first:
    raise sources.DatasetError(
        f'config.conditioning and config.labelled_examples need labels, but dataset {dataset!r} '
        f"has only {sorted(first)}; use a labelled dataset (npz with 'labels', 'digits', a TFDS "
        "dataset with a ClassLabel) or set conditioning='none' and labelled_examples=0.")
  labels = getattr(source, 'labels', None)
  if labels is None:  # TFDS: the ClassLabel's count bounds every label.
    count = getattr(source, 'num_label_classes', 0)
    if count > num_classes:
      raise errors.ConfigError(
          f'config.num_classes={num_classes} but dataset {dataset!r} has {count} classes (labels '
          f'0..{count - 1}); set num_classes to {count}.')
    if count < num_classes:
      raise errors.ConfigError(
          f'config.num_classes={num_classes} but dataset {dataset!r} has {count} classes, so '
          f'classes {count}..{num_classes - 1} have no images; set num_classes to {count}.')
    return
  labels = np.asarray(labels)
  outside = (labels < 0) | (labels >= num_classes)
  if outside.any():
    raise errors.ConfigError(
        f'config.num_classes={num_classes} but {int(outside.sum())} of the {len(labels)} labels of '
        f'dataset {dataset!r} lie outside 0..{num_classes - 1} (found {labels.min()}..'
        f'{labels.max()}, e.g. record {int(np.argmax(outside))}); '
        + (f'set num_classes to {labels.max() + 1}, the number of classes, or fix the labels.'
           if labels.min() >= 0 else 'labels must be 0..K-1.'))
  missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
  if missing:
    raise errors.ConfigError(
        f'config.num_classes={num_classes} but dataset {dataset!r} has no records of classes '
        f'{missing[:10]}{"..." if len(missing) > 10 else ""}; set num_classes to the number of '
        'classes the labels use (0..K-1, each with records).')


def training_records(config, num_records: int, process_count: int = 1) -> int:
  """The first num_records - holdout_examples records are trained on; the rest are held out.
  ConfigError when they cannot fill one batch (each of process_count processes reads its share
  of the records and of every batch)."""
  num_train = num_records - config.holdout_examples
  if config.holdout_examples >= num_records:
    raise errors.ConfigError(
        f'config.holdout_examples={config.holdout_examples} holds out all {num_records} records of '
        f'{config.dataset!r}, leaving none to train on; hold out fewer.')
  if num_train // process_count < config.batch_size // process_count:
    held = (f' after config.holdout_examples={config.holdout_examples} held out'
            if config.holdout_examples else '')
    raise errors.ConfigError(
        f'config.batch_size={config.batch_size} is more than the {num_train} records of '
        f'{config.dataset!r} left to train on{held}'
        f'{f" (split over {process_count} processes)" if process_count > 1 else ""}: one batch '
        f'cannot be filled; lower batch_size to at most {num_train // process_count * process_count}'
        f'{" or hold out fewer" if config.holdout_examples else ""}.')
  return num_train


def subset_indices(config, num_train: int) -> np.ndarray | None:
  """The records trained on when config.train_subset = N > 0: N of the num_train training records,
  fixed by config.train_subset_seed (not by config.seed, so runs of several seeds see the same
  images), in index order; None for all of them."""
  if not config.train_subset:
    return None
  if config.train_subset > num_train:
    raise errors.ConfigError(
        f'config.train_subset={config.train_subset} is more than the {num_train} training records '
        f'of {config.dataset!r}; use at most {num_train} (0 trains on all of them).')
  if config.train_subset < config.batch_size:
    raise errors.ConfigError(
        f'config.train_subset={config.train_subset} cannot fill one batch of '
        f'config.batch_size={config.batch_size}; lower batch_size or keep more records.')
  chosen = np.random.default_rng(config.train_subset_seed).permutation(num_train)
  return np.sort(chosen[:config.train_subset])


class _Subset:
  """The records of a source at the given indices (a random-access source for Grain)."""

  def __init__(self, source, indices: np.ndarray):
    self.source, self.indices = source, indices

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, index: int) -> dict:
    return self.source[int(self.indices[index])]


def labelled_subset(source, num_train: int, num_labelled: int, num_classes: int,
                    seed: int) -> sources.ArraySource:
  """num_labelled / num_classes records of each class, drawn (with `seed`) from the training
  records, as an in-memory source."""
  labels = np.array([r['label'] for r in source.__getitems__(list(range(num_train)))])
  rng = np.random.default_rng(seed)
  per_class = num_labelled // num_classes
  chosen = []
  for y in range(num_classes):
    candidates = np.flatnonzero(labels == y)
    if len(candidates) < per_class:
      raise sources.DatasetError(f'labelled_examples={num_labelled} needs {per_class} training '
                                 f'records of class {y}; the dataset has {len(candidates)}.')
    chosen.extend(rng.choice(candidates, per_class, replace=False).tolist())
  records = source.__getitems__(sorted(chosen))
  return sources.ArraySource({'image': np.stack([r['image'] for r in records]),
                              'label': np.array([r['label'] for r in records], np.int32)})


def holdout_set(config) -> tuple[np.ndarray, np.ndarray]:
  """The held-out records (the last config.holdout_examples): images fitted to image_size in
  [-1, 1] and their labels."""
  source = sources.load_source(config.dataset, config.dataset_split, config.data_dir)
  start = training_records(config, len(source))
  records = source.__getitems__(list(range(start, len(source))))
  images = np.stack([fit_to_size(r['image'], config.image_size) for r in records])
  return (images.astype(np.float32) / 127.5 - 1.0,
          np.array([r['label'] for r in records], np.int32))


def this_process(config, process_index: int | None, process_count: int | None) -> tuple[int, int]:
  """(index, count) of the process reading (default: this JAX process's); each reads
  batch_size / count of every batch, so count must divide the batch."""
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  if config.batch_size % process_count:
    raise errors.ConfigError(
        f'config.batch_size={config.batch_size} must be divisible by the {process_count} processes.')
  return process_index, process_count


@dataclasses.dataclass
class DataPipeline:
  iterator: grain.DatasetIterator  # Yields this process's part of each global batch.
  data_shape: tuple[int, ...]  # One sample as the models see it: (H, W, C) or (2,).
  num_records: int  # In the whole dataset (all processes).

  @property
  def is_points(self) -> bool:
    return len(self.data_shape) == 1


def make_pipeline(config, process_index: int | None = None, process_count: int | None = None,
                  examples_per_step: int | None = None) -> DataPipeline:
  """The training pipeline of a config for one process (default: this JAX process): plain
  batches of this process's share of examples_per_step records (default config.batch_size; the
  game says how many its step reads, e.g. n_critic batches for the GAN)."""
  process_index, process_count = this_process(config, process_index, process_count)
  source = sources.load_source(config.dataset, config.dataset_split, config.data_dir)
  if len(source) < process_count:
    raise sources.DatasetError(f'Dataset {config.dataset!r} has {len(source)} records, fewer than '
                               f'the {process_count} processes that read it.')

  if config.conditioning != 'none' or config.labelled_examples:
    check_labels(source, config.dataset, config.num_classes)
  num_train = training_records(config, len(source), process_count)
  subset = subset_indices(config, num_train)
  train = (grain.MapDataset.source(source)[:num_train] if subset is None else
           grain.MapDataset.source(_Subset(source, subset)))
  ds = train.shuffle(seed=config.seed).repeat()
  if config.labelled_examples:
    # Semi-supervised: the training records without their labels, each paired with one of the
    # few labelled records (a stream of its own, reshuffled every pass).
    labelled = labelled_subset(source, num_train, config.labelled_examples, config.num_classes,
                               config.seed)
    labelled = grain.MapDataset.source(labelled).shuffle(seed=config.seed + 1).repeat()
    ds = ds.map_with_index(lambda i, r: {'image': r['image'],
                                         'labelled_image': labelled[i]['image'],
                                         'labelled_label': labelled[i]['label']})
  ds = ds[process_index::process_count]
  first = source[0]['image']
  if sources.is_point_dataset(config.dataset):
    data_shape = tuple(first.shape)
  else:
    size = config.image_size
    data_shape = (size, size, first.shape[-1])
    ds = ds.map(lambda r: {k: fit_to_size(v, size) if k.endswith('image') else v
                           for k, v in r.items()})
  examples_per_step = examples_per_step or config.batch_size
  ds = ds.batch(examples_per_step // process_count, drop_remainder=True)
  ds = ds.map(to_model_batch)
  return DataPipeline(iterator=iter(ds), data_shape=data_shape, num_records=len(source))
