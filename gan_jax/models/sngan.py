"""SNGAN ResNet generator and discriminator (Miyato et al. 2018, arXiv:1802.05957, appendix B),
with the projection discriminator (Miyato & Koyama 2018, arXiv:1802.05637).

Blocks (the paper's appendix B; pfnet-research/sngan_projection's resblocks.py):
  G block:   x -> BN, ReLU, up x2, conv3x3, BN, ReLU, conv3x3  +  conv1x1(up x2 (x))
  D block:   x -> ReLU, conv3x3, ReLU, conv3x3 [, avgpool2]     +  [avgpool2](conv1x1(x)), or x
             when the block keeps the shape (the hidden layer keeps the input's channels);
  first D block ("optimized"; no ReLU on the image):
             x -> conv3x3, ReLU, conv3x3, avgpool2               +  conv1x1(avgpool2(x)).
Up x2 is nearest-neighbour. Every weight matrix of D (convs, the dense head, the class embedding)
is spectrally normalised, W / sigma(W), with sigma from one power iteration per call; the power
iteration's vector u (and the last sigma) live in D's 'batch_stats' (flax.linen.SpectralNorm) and
are updated only when train=True.

Channels. A size is base * 2**n (models.spatial_plan: base 4 or 7); G has n up blocks.
  * n <= 3 (8 to 32 px; 14, 28, 56 px): the CIFAR-10 network, all `width` channels (paper: G 256,
    D 128). G: z -> base x base x w -> n up blocks -> BN, ReLU, conv3x3 -> tanh. D: the optimized
    block, down blocks until the map is at most 8 px (32 -> 8 as in the paper; 28 -> 7), then two
    blocks without downsampling, ReLU, global sum pooling, dense -> 1. At 32 px:
      G: 4x4x256 -> 8x8 -> 16x16 -> 32x32 (256) -> 32x32xC;   D: 16x16, 8x8, 8x8, 8x8 (128).
    (Stopping at 14 x 14 for 28 px, as this module first did, left D's last features seeing
    about 20 px of the digit; projection-conditional SNGAN then learnt its labels far slower.)
  * n >= 4 (64 px and up): the ImageNet-style network of the same papers, channels halving towards
    the image in G and doubling away from it in D, as DCGAN does: G starts at w * 2**(n-1) and its
    blocks output w * 2**(n-1-i) (the first keeps the channels); D's blocks output w * 2**i down
    to base x base, then one block without downsampling (as the paper's STL-10 and the 128 px
    projection D end). At 64 px, w = width (64 in the projection paper's 64 px nets):
      G: 4x4x8w -> 8x8x8w -> 16x16x4w -> 32x32x2w -> 64x64xw;   D: 32x32xw, 16x16x2w, 8x8x4w,
      4x4x8w, 4x4x8w.
    (sngan_projection's resnet_64 starts G at 16w and takes D down to 2x2x16w instead.)

Initialisation as in the chainer code: Glorot (Xavier) uniform with gain sqrt(2) for the residual
3x3 convs, gain 1 for the shortcuts, z's projection, G's output conv and D's dense/embedding;
zero biases; batch-norm scales from N(1, 0.02) (layers.normalization), conditional ones at 1.
flax's SpectralNorm writes D's kernels back divided by their first sigma estimate when the module
is initialised, so D's stored kernels start at (Glorot draw) / sigma_1 rather than at the draw
itself (chainer keeps the draw; at 32 px a 3x3 conv starts with std 0.029 instead of 0.042). D only
ever uses W / sigma(W), so this changes the scale of D's parameters, not its function.

Projection (conditioning='projection'): D(x, y) = dense(h) + <embed(y), h> with h the pooled
features and embed a spectrally normalised class embedding (a dense map of one_hot(y)); the batch
norms inside G's blocks are conditional batch norms with per-class scale and shift (the last one,
before the output conv, stays unconditional as in sngan_projection).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models import layers
from gan_jax.models.dcgan import spatial_plan
from gan_jax.models.output import DiscriminatorOutput

# Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)); fans include the kernel size.
RESIDUAL_INIT = nn.initializers.variance_scaling(2.0, 'fan_avg', 'uniform')  # gain sqrt(2)
GLOROT_INIT = nn.initializers.glorot_uniform()  # gain 1


def channel_plan(image_size: int, width: int) -> tuple[int, int, list[int], list[tuple[int, bool]]]:
  """Returns (base, G's input channels, G's block channels, D's blocks as (channels, downsample));
  D's first block is the optimized one (it always downsamples)."""
  base, n = spatial_plan(image_size)
  if n <= 3:
    downs, side = 0, image_size
    while side > 8 or downs == 0:  # Halve until the map is at most 8 px, as CIFAR's 32 -> 8.
      side, downs = side // 2, downs + 1
    return base, width, [width] * n, [(width, True)] * downs + [(width, False)] * 2
  g_blocks = [width * 2**(n - 1 - i) for i in range(n)]
  d_blocks = [(width * 2**i, True) for i in range(n)] + [(width * 2**(n - 1), False)]
  return base, g_blocks[0], g_blocks, d_blocks


def spectral_norm(layer: nn.Module, x, train: bool):
  """layer(x) with each weight matrix W (a kernel reshaped to [k*k*in, out]) replaced by
  W / sigma(W), sigma from one power iteration; u and sigma are kept in 'batch_stats' under
  '<layer>_sn' and updated when train=True."""
  return nn.SpectralNorm(layer, name=f'{layer.name}_sn')(x, update_stats=train)


def _upsample(x):
  """Nearest-neighbour x2 on [B, H, W, C]."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _downsample(x):
  """2x2 average pooling."""
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


def _check_labels(module: nn.Module, labels):
  """The labels to use: None for an unconditional module; raises when a conditional one has none."""
  if module.conditioning not in module.CONDITIONINGS:
    raise ValueError(f'{type(module).__name__} implements conditioning in '
                     f'{list(module.CONDITIONINGS)}, not {module.conditioning!r}.')
  if module.conditioning == 'none':
    return None
  if labels is None:
    raise ValueError(f'{type(module).__name__} with conditioning={module.conditioning!r} needs '
                     'labels.')
  if module.num_classes < 1:
    raise ValueError(f'{type(module).__name__} with conditioning={module.conditioning!r} needs '
                     f'num_classes >= 1, not {module.num_classes}.')
  return labels


class GBlock(nn.Module):
  """x -> BN, ReLU, up x2, conv3x3, BN, ReLU, conv3x3, plus conv1x1(up x2 (x)). Conditional batch
  norm when num_classes > 0."""
  features: int
  num_classes: int = 0
  dtype: Any = None

  @nn.compact
  def __call__(self, x, labels, train: bool):
    def norm(h):
      if self.num_classes:
        return layers.ConditionalBatchNorm(self.num_classes, train, self.dtype)(h, labels)
      return layers.normalization('batch', train, self.dtype)(h)

    h = nn.relu(norm(x))
    h = nn.Conv(self.features, (3, 3), kernel_init=RESIDUAL_INIT, dtype=self.dtype,
                name='conv1')(_upsample(h))
    h = nn.relu(norm(h))
    h = nn.Conv(self.features, (3, 3), kernel_init=RESIDUAL_INIT, dtype=self.dtype,
                name='conv2')(h)
    shortcut = nn.Conv(self.features, (1, 1), kernel_init=GLOROT_INIT, dtype=self.dtype,
                       name='shortcut')(_upsample(x))
    return h + shortcut


class DBlock(nn.Module):
  """A spectrally normalised D block: x -> ReLU, conv3x3, ReLU, conv3x3 [, avgpool], plus
  [avgpool](conv1x1(x)) (x itself when the shape is kept). optimized (D's first block): x ->
  conv3x3, ReLU, conv3x3, avgpool, plus conv1x1(avgpool(x))."""
  features: int
  downsample: bool = True
  optimized: bool = False
  dtype: Any = None

  @nn.compact
  def __call__(self, x, train: bool):
    def conv(h, features, size, init, name):
      layer = nn.Conv(features, (size, size), kernel_init=init, dtype=self.dtype, name=name)
      return spectral_norm(layer, h, train)

    # The hidden layer has the block's input channels, or its output ones in the optimized block.
    hidden = self.features if self.optimized else x.shape[-1]
    h = conv(x if self.optimized else nn.relu(x), hidden, 3, RESIDUAL_INIT, 'conv1')
    h = conv(nn.relu(h), self.features, 3, RESIDUAL_INIT, 'conv2')
    if self.optimized:
      return _downsample(h) + conv(_downsample(x), self.features, 1, GLOROT_INIT, 'shortcut')
    if self.downsample:
      h = _downsample(h)
    if self.downsample or x.shape[-1] != self.features:
      x = conv(x, self.features, 1, GLOROT_INIT, 'shortcut')
      x = _downsample(x) if self.downsample else x
    return h + x


class SNGANGenerator(nn.Module):
  """z [B, latent] (and labels [B] when conditional) -> images [B, H, W, C] in [-1, 1]."""
  CONDITIONINGS = ('none', 'projection')
  output_shape: Sequence[int]  # (H, W, C); set from the data.
  width: int = 256
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.
  num_classes: int = 0  # config.num_classes and config.conditioning.
  conditioning: str = 'none'

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    labels = _check_labels(self, labels)
    num_classes = self.num_classes if labels is not None else 0
    height, _, channels = self.output_shape
    base, features, blocks, _ = channel_plan(height, self.width)
    x = nn.Dense(base * base * features, kernel_init=GLOROT_INIT, dtype=self.dtype)(z)
    x = x.reshape(z.shape[0], base, base, features)
    for i, block_features in enumerate(blocks):
      x = GBlock(block_features, num_classes, self.dtype, name=f'block{i}')(x, labels, train)
    x = layers.normalization('batch', train, self.dtype)(x)  # Unconditional, as in the reference.
    x = nn.Conv(channels, (3, 3), kernel_init=GLOROT_INIT, dtype=self.dtype)(nn.relu(x))
    return jnp.tanh(x).astype(jnp.float32)


class SNGANDiscriminator(nn.Module):
  """images [B, H, W, C] (and labels [B] when conditional) -> DiscriminatorOutput: logits [B]
  (float32), the pooled features h [B, F]."""
  CONDITIONINGS = ('none', 'projection')
  width: int = 128
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.
  num_classes: int = 0  # config.num_classes and config.conditioning.
  conditioning: str = 'none'

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True):
    labels = _check_labels(self, labels)
    _, _, _, blocks = channel_plan(x.shape[1], self.width)
    for i, (features, downsample) in enumerate(blocks):
      x = DBlock(features, downsample, optimized=(i == 0), dtype=self.dtype,
                 name=f'block{i}')(x, train)
    h = jnp.sum(nn.relu(x), axis=(1, 2))  # Global sum pooling: [B, F].
    logits = spectral_norm(nn.Dense(1, kernel_init=GLOROT_INIT, dtype=self.dtype, name='dense'),
                           h, train)[:, 0]
    if labels is not None:  # Projection: + <embed(y), h>.
      embed = nn.Dense(h.shape[-1], use_bias=False, kernel_init=GLOROT_INIT, dtype=self.dtype,
                       name='embed')
      y = jax.nn.one_hot(labels, self.num_classes, dtype=h.dtype)
      logits = logits + jnp.sum(spectral_norm(embed, y, train) * h, axis=-1)
    return DiscriminatorOutput(logits.astype(jnp.float32), None, h.astype(jnp.float32))
