"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training",
arXiv:2006.10738): random, differentiable transforms of every image D sees, per sample, applied
to reals and fakes alike so that G is not taught to produce them.

Policies (the paper's), images NHWC in [-1, 1]:
  color        brightness x + (u - 1/2); saturation (x - mean_c) * 2u + mean_c; contrast
               (x - mean) * (u + 1/2) + mean, u ~ U[0, 1) per sample (mean_c over channels,
               mean over the whole image)
  translation  a shift by integers in [-H/8, H/8] (rounded) per axis, zero padding
  cutout       a square of side H/2 (rounded) set to 0, its centre uniform over the image
Any combination, applied in the order color, translation, cutout.
"""

import jax
import jax.numpy as jnp

from gan_jax import streams


def brightness(x, key):
  return x + (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) - 0.5)


def saturation(x, key):
  mean = jnp.mean(x, axis=3, keepdims=True)
  return (x - mean) * (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) * 2) + mean


def contrast(x, key):
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) + 0.5) + mean


def _shift_of(size: int, ratio: float) -> int:
  return int(size * ratio + 0.5)


def translation(x, key, ratio: float = 0.125):
  """out[i, j] = x[i + t_y, j + t_x] where that lies inside the image, else 0."""
  batch, height, width = x.shape[:3]
  ky, kx = jax.random.split(key)
  sy, sx = _shift_of(height, ratio), _shift_of(width, ratio)
  ty = jax.random.randint(ky, (batch, 1, 1), -sy, sy + 1)
  tx = jax.random.randint(kx, (batch, 1, 1), -sx, sx + 1)
  rows = jnp.arange(height)[None, :, None] + ty  # [B, H, 1]
  cols = jnp.arange(width)[None, None, :] + tx  # [B, 1, W]
  inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
  gathered = x[jnp.arange(batch)[:, None, None], jnp.clip(rows, 0, height - 1),
               jnp.clip(cols, 0, width - 1)]
  return gathered * inside[..., None].astype(x.dtype)


def cutout(x, key, ratio: float = 0.5):
  """Zeroes a square of side round(ratio * H) whose centre is uniform over the image (clipped at
  the border)."""
  batch, height, width = x.shape[:3]
  ky, kx = jax.random.split(key)
  cy, cx = _shift_of(height, ratio), _shift_of(width, ratio)
  oy = jax.random.randint(ky, (batch, 1, 1), 0, height + (1 - cy % 2))
  ox = jax.random.randint(kx, (batch, 1, 1), 0, width + (1 - cx % 2))
  rows = jnp.arange(height)[None, :, None] - (oy - cy // 2)  # Position inside the square.
  cols = jnp.arange(width)[None, None, :] - (ox - cx // 2)
  inside = (rows >= 0) & (rows < cy) & (cols >= 0) & (cols < cx)
  return x * (~inside)[..., None].astype(x.dtype)


POLICIES = {'color': (brightness, saturation, contrast), 'translation': (translation,),
            'cutout': (cutout,)}


def diff_augment(x, key, policy: tuple[str, ...]):
  """The policies' transforms in turn, each from its own named stream of key."""
  for name in policy:
    for transform in POLICIES[name]:
      x = transform(x, streams.stream(key, transform.__name__))
  return x
