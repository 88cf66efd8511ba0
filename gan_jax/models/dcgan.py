"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016, arXiv:1511.06434).

The DCGAN guidelines, as followed here:
  * no pooling: strided convolutions in D, fractionally-strided (transposed) convolutions in G;
  * batch norm in both players, except G's output layer and D's input layer;
  * no fully connected hidden layers (G's projection of z and D's final score are the only
    dense maps; each equals a 4x4 convolution on a 1x1 / 4x4 map);
  * ReLU in G with a tanh output, LeakyReLU(0.2) in D;
  * weights initialised from N(0, 0.02), batch-norm scales from N(1, 0.02).

At 32 px and width 64 this is the standard DCGAN:
  G: z -> 4x4x256 -> 8x8x128 -> 16x16x64 -> 32x32xC,   D: the mirror image, ending in one logit.
Conditional variants (config.conditioning, labels y): 'concat' feeds one-hot y to G beside z and
to D as extra input channels; 'projection' uses conditional batch norm in G and adds
<embed(y), phi(x)> to D's score; 'acgan' feeds y to G like 'concat' and gives D a second head that
predicts the class from the same features.

Other sizes keep the shape of the network: a size is base * 2**n with base 4 (16, 32, 64, 128 px)
or 7 (28, 56 px); G starts from base x base x (width * 2**(n-1)) and doubles the resolution while
halving the channels n times.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models import convolutions
from gan_jax.models import layers


def spatial_plan(image_size: int) -> tuple[int, int]:
  """Returns (base, num_upsamplings) with image_size == base * 2**num_upsamplings.

  Raises ValueError naming the allowed sizes when image_size cannot be made.
  """
  for base in (4, 7):
    size, n = image_size, 0
    while size > base and size % 2 == 0:
      size //= 2
      n += 1
    if size == base and n >= 1:
      return base, n
  raise ValueError(
      f'DCGAN and SNGAN cannot make images of size {image_size}: the size must be 4 * 2**n or 7 * 2**n '
      'with n >= 1, e.g. 8, 14, 16, 28, 32, 56, 64 or 128.')


class DCGANGenerator(nn.Module):
  """z [B, latent] (and labels [B] when conditional) -> images [B, H, W, C] in [-1, 1]."""
  CONDITIONINGS = ('none', 'concat', 'projection', 'acgan')
  output_shape: Sequence[int]  # (H, W, C); set from the data.
  width: int = 64
  norm: str = 'batch'
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.
  num_classes: int = 0  # config.num_classes and config.conditioning.
  conditioning: str = 'none'

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    height, _, channels = self.output_shape
    base, n = spatial_plan(height)
    features = self.width * 2**(n - 1)
    if self.conditioning in ('concat', 'acgan'):
      z = layers.concat_one_hot(z, labels, self.num_classes)
    if self.conditioning == 'projection':
      if self.norm != 'batch':
        raise ValueError("conditioning='projection' puts the labels in G's batch norm; it needs "
                         f"config.generator.norm='batch', not {self.norm!r}.")
      norm = lambda x: layers.ConditionalBatchNorm(self.num_classes, train, self.dtype)(x, labels)
    else:
      norm = lambda x: layers.normalization(self.norm, train, self.dtype)(x)
    # Projection of z to a base x base map (a transposed 4x4 conv on a 1x1 input, as a matmul).
    x = nn.Dense(base * base * features, kernel_init=layers.DCGAN_INIT, use_bias=False,
                 dtype=self.dtype)(z)
    x = x.reshape(z.shape[0], base, base, features)
    x = nn.relu(norm(x))
    for i in range(n - 1):
      x = convolutions.ConvUp(features // 2**(i + 1), use_bias=False, dtype=self.dtype,
                              kernel_init=layers.DCGAN_INIT, name=f'ConvTranspose_{i}')(x)
      x = nn.relu(norm(x))
    x = convolutions.ConvUp(channels, kernel_init=layers.DCGAN_INIT, dtype=self.dtype,
                            name=f'ConvTranspose_{n - 1}')(x)
    return jnp.tanh(x).astype(jnp.float32)


class DCGANDiscriminator(nn.Module):
  """images [B, H, W, C] (and labels [B] when conditional) -> DiscriminatorOutput: logits [B]
  (float32), class_logits [B, num_classes] for AC-GAN and the semi-supervised GAN, features."""
  CONDITIONINGS = ('none', 'concat', 'projection', 'acgan', 'semi_supervised')
  width: int = 64
  norm: str = 'batch'
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.
  num_classes: int = 0  # config.num_classes and config.conditioning.
  conditioning: str = 'none'

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True):
    _, n = spatial_plan(x.shape[1])
    if self.conditioning == 'concat':
      x = layers.concat_one_hot(x, labels, self.num_classes)
    for i in range(n):
      x = convolutions.ConvDown(self.width * 2**i, use_bias=(i == 0 or self.norm == 'none'),
                                kernel_init=layers.DCGAN_INIT, dtype=self.dtype,
                                name=f'Conv_{i}')(x)
      if i > 0:  # No normalisation on D's input layer.
        x = layers.normalization(self.norm, train, self.dtype)(x)
      x = nn.leaky_relu(x, 0.2)
    # The final score: a conv over the whole base x base map, i.e. a dense layer.
    x = x.reshape(x.shape[0], -1)
    return layers.discriminator_head(x, labels, self.num_classes, self.conditioning,
                                     layers.DCGAN_INIT, self.dtype)
