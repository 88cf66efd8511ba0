"""Data of the image-to-image tasks: batches {'a': [B, H, W, C_a], 'b': [B, H, W, C_b]} in [-1, 1].

config.translation.data (see gan_jax/configuration.py):
  pix2pix (a = input, b = its target, paired)
    'paired'    config.dataset=npz:PATH holding `inputs` and `images` (uint8, same N and size);
    'superres'  a = the image box-downsampled by superres_factor (28 -> 7 for 4) and upsampled
                back with bicubic interpolation, b = the image;
    'inpaint'   a = the image with an inpaint_size square set to grey (128; the strokes are 255 and
                the background 0 in digits), at a position drawn once per record, b = the image.
  CycleGAN (a and b unpaired, shuffled independently)
    'unpaired'       A = config.dataset, B = translation.dataset_b (split translation.split_b):
                     any dataset names, e.g. TFDS cycle_gan/horse2zebra's trainA and trainB;
    'colour_digits'  A = the first half of the training records as RGB (grey strokes copied to
                     three channels), B = the *other* half under colour_invert (white background,
                     strokes in STROKE_COLOUR): no image of B is the transform of one in A, but
                     the transform is known, so G_AB(a) can be scored against colour_invert(a).

The last config.holdout_examples records (of A, and of B for 'unpaired') are never trained on;
`heldout_set` gives them as arrays, with the truth where the task has one. The iterator is a Grain
DatasetIterator, saved in checkpoints like the GAN pipeline's.
"""

import dataclasses

import grain
import numpy as np
from PIL import Image

from gan_jax import errors
from gan_jax.data import pipeline as pipeline_lib
from gan_jax.data import sources

GREY = 128  # The value of inpainting's hidden square.
STROKE_COLOUR = np.array([0.1, 0.35, 0.9])  # colour_digits' stroke colour (RGB in [0, 1]).


def colour_invert(images: np.ndarray) -> np.ndarray:
  """Grey digits uint8 [..., 1] or [..., 3] (equal channels) -> uint8 [..., 3]: white background,
  strokes in STROKE_COLOUR; b = 1 - v (1 - c) for stroke intensity v in [0, 1]."""
  v = images[..., :1].astype(np.float64) / 255.0
  return np.round(255.0 * (1.0 - v * (1.0 - STROKE_COLOUR))).astype(np.uint8)


def undo_colour_invert(images: np.ndarray) -> np.ndarray:
  """The inverse of colour_invert on float images in [-1, 1] [..., 3] -> [..., 1] in [-1, 1]:
  v = mean over channels of (1 - b) / (1 - c), clipped to [0, 1]."""
  b = (np.asarray(images, np.float64) + 1.0) / 2.0
  v = np.clip(np.mean((1.0 - b) / (1.0 - STROKE_COLOUR), axis=-1, keepdims=True), 0.0, 1.0)
  return (2.0 * v - 1.0).astype(np.float32)


def low_resolution(image: np.ndarray, factor: int) -> np.ndarray:
  """uint8 [H, W, C] -> the same size after box downsampling by `factor` and bicubic upsampling
  (the super-resolution input; its error against the image is the bicubic baseline)."""
  size, _, channels = image.shape
  small_side = size // factor
  small = image.reshape(small_side, factor, small_side, factor, channels).mean(axis=(1, 3))
  return upsample_bicubic(np.round(small).astype(np.uint8), size)


def upsample_bicubic(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [h, w, C] -> uint8 [size, size, C], bicubic (PIL), channel by channel."""
  channels = [np.asarray(Image.fromarray(image[..., c]).resize((size, size), Image.BICUBIC))
              for c in range(image.shape[-1])]
  return np.stack(channels, axis=-1)


def inpaint_corner(index: int, image_size: int, square: int, seed: int) -> tuple[int, int]:
  """The top-left corner of record `index`'s hidden square, at least 2 pixels from the border."""
  rng = np.random.default_rng([seed, index])
  return tuple(int(v) for v in rng.integers(2, image_size - 2 - square + 1, 2))


def inpaint_mask(index: int, image_size: int, square: int, seed: int) -> np.ndarray:
  """bool [image_size, image_size, 1], True inside record `index`'s hidden square."""
  top, left = inpaint_corner(index, image_size, square, seed)
  mask = np.zeros((image_size, image_size, 1), bool)
  mask[top:top + square, left:left + square] = True
  return mask


def task_input(config, image: np.ndarray, index: int) -> np.ndarray:
  """The pix2pix offline task's input for a uint8 image already fitted to image_size."""
  t = config.translation
  if t.data == 'superres':
    return low_resolution(image, t.superres_factor)
  if t.data == 'inpaint':
    return np.where(inpaint_mask(index, config.image_size, t.inpaint_size, config.seed), GREY,
                    image).astype(np.uint8)
  raise ValueError(f'translation.data={t.data!r} has no input made from the image.')


def _rgb(image: np.ndarray) -> np.ndarray:
  return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def _check_images(source, dataset: str, what: str) -> None:
  image = source[0]['image']
  if image.ndim != 3:
    raise sources.DatasetError(f'{what}: dataset {dataset!r} holds records of shape '
                               f'{image.shape}, not images; translation needs images.')


def _paired_npz(path: str) -> sources.ArraySource:
  """An npz of `inputs` and `images` (uint8 [N, H, W(, C)], the same N, H and W)."""
  arrays = sources.read_npz(path, f'paired npz dataset (from dataset "npz:{path}")')
  if 'inputs' not in arrays or 'images' not in arrays:
    raise sources.DatasetError(
        f'paired npz dataset {path!r} has arrays {sorted(arrays)}; translation.data="paired" '
        'needs `inputs` and `images` (uint8 [N, H, W(, C)], input i paired with image i).')
  out = {}
  for key, name in (('inputs', 'input'), ('images', 'image')):
    x = arrays[key]
    x = x[..., None] if x.ndim == 3 else x
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] not in (1, 3):
      raise sources.DatasetError(f'paired npz dataset {path!r}: `{key}` has dtype {x.dtype} and '
                                 f'shape {x.shape}; it must be uint8 [N, H, W] or [N, H, W, C], '
                                 'C 1 or 3.')
    out[name] = x
  if out['input'].shape[:3] != out['image'].shape[:3]:
    raise sources.DatasetError(f'paired npz dataset {path!r}: `inputs` {out["input"].shape} and '
                               f'`images` {out["image"].shape} must have the same N, H and W.')
  return sources.ArraySource(out)


@dataclasses.dataclass
class TranslationData:
  iterator: grain.DatasetIterator  # This process's part of each global batch {'a', 'b'}.
  shape_a: tuple[int, int, int]
  shape_b: tuple[int, int, int]


def _sources(config):
  """(records of A, records of B, paired?) as grain MapDatasets of {'image'} (B) or, paired,
  one dataset of {'a', 'b'}; each without the held-out records, not yet shuffled."""
  t = config.translation
  size = config.image_size
  if t.data == 'paired':
    if not config.dataset.startswith('npz:'):
      raise errors.ConfigError(
          f"config.dataset={config.dataset!r}: translation.data='paired' reads an npz of "
          "`inputs` and `images` (config.dataset='npz:PATH').")
    source = _paired_npz(config.dataset[len('npz:'):])
    num_train = pipeline_lib.training_records(config, len(source))
    return grain.MapDataset.source(source)[:num_train].map(
        lambda r: {'a': pipeline_lib.fit_to_size(r['input'], size),
                   'b': pipeline_lib.fit_to_size(r['image'], size)}), None
  source = sources.load_source(config.dataset, config.dataset_split, config.data_dir)
  _check_images(source, config.dataset, 'domain A' if config.task == 'cyclegan' else 'pix2pix')
  num_train = pipeline_lib.training_records(config, len(source))
  records = grain.MapDataset.source(source)[:num_train].map(
      lambda r: pipeline_lib.fit_to_size(r['image'], size))
  if t.data in ('superres', 'inpaint'):
    return records.map_with_index(lambda i, image: {'a': task_input(config, image, i),
                                                    'b': image}), None
  if t.data == 'colour_digits':
    if source[0]['image'].shape[-1] != 1:
      raise sources.DatasetError(f"translation.data='colour_digits' colours one-channel digits; "
                                 f'{config.dataset!r} has {source[0]["image"].shape[-1]} channels.')
    half = num_train // 2
    return records[:half].map(_rgb), records[half:].map(colour_invert)
  source_b = sources.load_source(t.dataset_b, t.split_b, config.data_dir)
  _check_images(source_b, t.dataset_b, 'domain B')
  num_train_b = pipeline_lib.training_records(config, len(source_b))
  return records, grain.MapDataset.source(source_b)[:num_train_b].map(
      lambda r: pipeline_lib.fit_to_size(r['image'], size))


def make_translation_data(config, process_index: int | None = None,
                          process_count: int | None = None) -> TranslationData:
  """The training batches of a pix2pix or CycleGAN config for one process."""
  process_index, process_count = pipeline_lib.this_process(config, process_index, process_count)
  first, second = _sources(config)
  if second is None:  # Paired.
    ds = first.shuffle(seed=config.seed).repeat()
  else:
    domain_b = second.shuffle(seed=config.seed + 1).repeat()
    ds = first.shuffle(seed=config.seed).repeat().map_with_index(
        lambda i, a: {'a': a, 'b': domain_b[i]})
  example = ds[0]
  ds = ds[process_index::process_count].batch(config.batch_size // process_count,
                                              drop_remainder=True)
  ds = ds.map(pipeline_lib.to_model_batch)
  return TranslationData(iterator=iter(ds), shape_a=tuple(example['a'].shape),
                         shape_b=tuple(example['b'].shape))


def first_records(config, count: int) -> dict[str, np.ndarray]:
  """The first `count` training records of A and B (not shuffled), float32 in [-1, 1]: the rows
  of the sample grid when nothing is held out."""
  first, second = _sources(config)
  count = min(count, len(first), len(first) if second is None else len(second))
  to_float = lambda images: np.stack(images).astype(np.float32) / 127.5 - 1.0
  if second is None:
    records = [first[i] for i in range(count)]
    return {'a': to_float([r['a'] for r in records]), 'b': to_float([r['b'] for r in records])}
  return {'a': to_float([first[i] for i in range(count)]),
          'b': to_float([second[i] for i in range(count)])}


def mean_image(config, max_records: int = 5000) -> np.ndarray:
  """The mean of (up to max_records, evenly spaced) training images of B, float32 [H, W, C] in
  [-1, 1]: inpainting's baseline fill."""
  first, _ = _sources(config)
  indices = np.linspace(0, len(first) - 1, min(max_records, len(first))).astype(int)
  images = np.stack([first[int(i)]['b'] for i in indices]).astype(np.float64)
  return (images.mean(axis=0) / 127.5 - 1.0).astype(np.float32)


def heldout_set(config, limit: int | None = None) -> dict[str, np.ndarray]:
  """The first `limit` (default all) held-out records, float32 in [-1, 1]: 'a' and 'b' (pix2pix:
  input and truth; colour_digits: a and colour_invert(a), its truth; unpaired: the held-out
  records of A and of B), plus 'mask' (bool) for inpainting. Empty without holdout_examples."""
  t = config.translation
  size = config.image_size
  count = config.holdout_examples if limit is None else min(limit, config.holdout_examples)
  if not count:
    return {}
  to_float = lambda images: np.stack(images).astype(np.float32) / 127.5 - 1.0

  def last_records(source):
    start = len(source) - config.holdout_examples
    return source.__getitems__(list(range(start, start + count))), start

  if t.data == 'paired':
    records, _ = last_records(_paired_npz(config.dataset[len('npz:'):]))
    return {'a': to_float([pipeline_lib.fit_to_size(r['input'], size) for r in records]),
            'b': to_float([pipeline_lib.fit_to_size(r['image'], size) for r in records])}
  records, start = last_records(
      sources.load_source(config.dataset, config.dataset_split, config.data_dir))
  images = [pipeline_lib.fit_to_size(r['image'], size) for r in records]
  if t.data in ('superres', 'inpaint'):
    out = {'a': to_float([task_input(config, x, start + i) for i, x in enumerate(images)]),
           'b': to_float(images)}
    if t.data == 'inpaint':
      out['mask'] = np.stack([inpaint_mask(start + i, size, t.inpaint_size, config.seed)
                              for i in range(count)])
    return out
  if t.data == 'colour_digits':
    return {'a': to_float([_rgb(x) for x in images]), 'b': to_float([colour_invert(x)
                                                                     for x in images])}
  records_b, _ = last_records(sources.load_source(t.dataset_b, t.split_b, config.data_dir))
  return {'a': to_float(images),
          'b': to_float([pipeline_lib.fit_to_size(r['image'], size) for r in records_b])}
