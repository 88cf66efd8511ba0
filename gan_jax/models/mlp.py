"""MLP generator and discriminator: the original GAN (Goodfellow et al. 2014, arXiv:1406.2661).

For 2-D points and for flat data (images are flattened on the way into D and reshaped on the way
out of G). The 2014 paper used maxout units in D; here hidden units are ReLU in G and
LeakyReLU(0.2) in D, the common modern choice for the toy mixtures (VEEGAN, PacGAN).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.models import layers


class MLPGenerator(nn.Module):
  """z [B, latent] -> samples [B, *output_shape]; tanh output for images, linear for points.
  Conditional ('concat', 'acgan'): one-hot labels concatenated to z."""
  CONDITIONINGS = ('none', 'concat', 'acgan')
  output_shape: Sequence[int]  # (2,) for points, (H, W, C) for images; set from the data.
  hidden: Sequence[int] = (400, 400, 400, 400)
  norm: str = 'batch'
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.
  num_classes: int = 0  # config.num_classes and config.conditioning.
  conditioning: str = 'none'

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    check_hidden(self.hidden)
    x = z
    if self.conditioning != 'none':
      x = layers.concat_one_hot(x, labels, self.num_classes)
    for units in self.hidden:
      x = nn.Dense(units, dtype=self.dtype)(x)
      x = nn.relu(layers.normalization(self.norm, train, self.dtype)(x))
    x = nn.Dense(int(np.prod(self.output_shape)), dtype=self.dtype)(x)
    if len(self.output_shape) == 3:  # Images live in [-1, 1].
      x = jnp.tanh(x)
    return x.reshape(z.shape[0], *self.output_shape).astype(jnp.float32)


def check_hidden(hidden) -> None:
  """ValueError unless every hidden width is a positive integer (a width of 0 has no units)."""
  if not all(isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in hidden):
    raise ValueError(f'mlp hidden={tuple(hidden)!r}: every hidden width must be a positive integer.')


class MLPDiscriminator(nn.Module):
  """samples [B, ...] -> logits [B]; conditional: 'concat' (one-hot labels beside the input),
  'acgan' or 'semi_supervised' ((logits [B], class_logits [B, num_classes])).

  input_noise / hidden_noise: the std of Gaussian noise added in training to the input and to
  every hidden pre-activation, as in the semi-supervised MNIST discriminator of Salimans et al.
  2016 (0.3 and 0.5 for pixels in [0, 1]); with noise, D needs a 'noise' PRNG stream.
  weight_norm: the hidden layers as w = g v / ||v|| (flax.linen.WeightNorm), as in that model."""
  CONDITIONINGS = ('none', 'concat', 'acgan', 'semi_supervised')
  hidden: Sequence[int] = (200, 200, 200)
  norm: str = 'none'
  input_noise: float = 0.0
  hidden_noise: float = 0.0
  weight_norm: bool = False  # Salimans & Kingma 2016 weight normalisation of every dense layer.
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.
  num_classes: int = 0  # config.num_classes and config.conditioning.
  conditioning: str = 'none'

  def _noisy(self, x, std, train):
    if not (train and std > 0):
      return x
    return x + std * jax.random.normal(self.make_rng('noise'), x.shape, x.dtype)

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True):
    check_hidden(self.hidden)
    x = self._noisy(x.reshape(x.shape[0], -1), self.input_noise, train)
    if self.conditioning == 'concat':
      x = layers.concat_one_hot(x, labels, self.num_classes)
    dense = lambda units: (nn.WeightNorm(nn.Dense(units, dtype=self.dtype)) if self.weight_norm
                           else nn.Dense(units, dtype=self.dtype))
    for units in self.hidden:
      x = self._noisy(dense(units)(x), self.hidden_noise, train)
      x = nn.leaky_relu(layers.normalization(self.norm, train, self.dtype)(x), 0.2)
    return layers.discriminator_head(x, labels, self.num_classes, self.conditioning,
                                     nn.initializers.lecun_normal(), self.dtype)
