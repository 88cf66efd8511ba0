"""MLP generator and discriminator: the original GAN (Goodfellow et al. 2014, arXiv:1406.2661).

For 2-D points and for flat data (images are flattened on the way into D and reshaped on the way
out of G). The 2014 paper used maxout units in D; here hidden units are ReLU in G and
LeakyReLU(0.2) in D, the common modern choice for the toy mixtures (VEEGAN, PacGAN).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from gan_jax.models import layers


class MLPGenerator(nn.Module):
  """z [B, latent] -> samples [B, *output_shape]; tanh output for images, linear for points."""
  output_shape: Sequence[int]  # (2,) for points, (H, W, C) for images; set from the data.
  hidden: Sequence[int] = (400, 400, 400, 400)
  norm: str = 'batch'
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.

  @nn.compact
  def __call__(self, z, train: bool = True):
    x = z
    for units in self.hidden:
      x = nn.Dense(units, dtype=self.dtype)(x)
      x = nn.relu(layers.normalization(self.norm, train, self.dtype)(x))
    x = nn.Dense(int(np.prod(self.output_shape)), dtype=self.dtype)(x)
    if len(self.output_shape) == 3:  # Images live in [-1, 1].
      x = jnp.tanh(x)
    return x.reshape(z.shape[0], *self.output_shape).astype(jnp.float32)


class MLPDiscriminator(nn.Module):
  """samples [B, ...] -> logits [B]."""
  hidden: Sequence[int] = (200, 200, 200)
  norm: str = 'none'
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = True):
    x = x.reshape(x.shape[0], -1)
    for units in self.hidden:
      x = nn.Dense(units, dtype=self.dtype)(x)
      x = nn.leaky_relu(layers.normalization(self.norm, train, self.dtype)(x), 0.2)
    return nn.Dense(1, dtype=self.dtype)(x)[:, 0].astype(jnp.float32)
