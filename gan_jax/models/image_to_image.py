"""Image-to-image networks: CycleGAN's ResNet generator (Zhu et al. 2017, arXiv:1703.10593),
pix2pix's U-Net generator (Isola et al. 2017, arXiv:1611.07004) and their PatchGAN discriminator,
as in junyanz/pytorch-CycleGAN-and-pix2pix (models/networks.py: ResnetGenerator, UnetGenerator,
NLayerDiscriminator). NHWC, images in [-1, 1], float32 outputs, float32 parameters.

Norms ('instance', 'batch', 'none'). The reference's instance norm has no learned affine
(InstanceNorm2d(affine=False)) and always uses the statistics of the image itself (no running
averages); its batch norm is layers.normalization('batch'). A conv followed by a batch norm has no
bias (use_bias = norm is instance norm in the reference), every other conv has one. 'none' keeps
all biases (the reference's 'none' would drop them too, leaving no bias anywhere).

Initialisation: the reference's init_weights('normal', 0.02): conv kernels from N(0, 0.02), biases
0, batch-norm scales from N(1, 0.02).

Transposed convs reproduce PyTorch's ConvTranspose2d(k, stride 2, padding p, output_padding op):
the input dilated by 2 and padded by (k-1-p, k-1-p+op) before a k x k conv, so that H doubles
exactly; the kernel is not flipped (a reparameterisation only).
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gan_jax.models import layers
from gan_jax.models.output import DiscriminatorOutput

NORMS = ('instance', 'batch', 'none')
INIT = layers.DCGAN_INIT  # N(0, 0.02).


def _norm(norm: str, train: bool, dtype=None):
  """Instance norm without affine (statistics per image and channel, in float32), or
  layers.normalization's 'batch' / 'none'."""
  if norm == 'instance':
    return nn.InstanceNorm(epsilon=1e-5, use_scale=False, use_bias=False, dtype=dtype)
  if norm in NORMS:
    return layers.normalization(norm, train, dtype)
  raise ValueError(f'Unknown norm {norm!r}; choose one of {NORMS}.')


def _reflect(x, pad: int):
  """Reflection padding of H and W (PyTorch's ReflectionPad2d; needs pad < H, W)."""
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


def _conv(features: int, size: int, stride: int = 1, pad: int = 0, bias: bool = True,
          dtype=None, name=None):
  """PyTorch's Conv2d(kernel size, stride, zero padding pad) in NHWC."""
  return nn.Conv(features, (size, size), (stride, stride), padding=((pad, pad), (pad, pad)),
                 use_bias=bias, kernel_init=INIT, dtype=dtype, name=name)


def _up_conv(features: int, size: int, pad: int, output_pad: int, bias: bool = True, dtype=None,
             name=None):
  """PyTorch's ConvTranspose2d(kernel size, stride 2, padding pad, output_padding output_pad):
  H -> 2 H when size = 2 pad + 2 - output_pad."""
  low = size - 1 - pad
  return nn.ConvTranspose(features, (size, size), (2, 2),
                          padding=((low, low + output_pad), (low, low + output_pad)),
                          use_bias=bias, kernel_init=INIT, dtype=dtype, name=name)


class ResnetGenerator(nn.Module):
  """CycleGAN's generator (Johnson et al. 2016's transformation net), images [B, H, W, C] ->
  [B, H, W, output_channels] in [-1, 1]; H and W must be multiples of 4:

    reflect-pad 3, conv7x7 (w), norm, ReLU;
    2 x [conv3x3 stride 2 (2w, 4w), norm, ReLU];
    num_blocks x [x + (reflect-pad 1, conv3x3, norm, ReLU, reflect-pad 1, conv3x3, norm)] at 4w;
    2 x [transposed conv3x3 stride 2 (output padding 1: exactly 2x; 2w, w), norm, ReLU];
    reflect-pad 3, conv7x7 (output_channels), tanh.

  The paper uses width 64 with 9 blocks at 256 px and 6 blocks at 128 px (11.4M / 7.8M params
  with 3 channels). For 28 to 64 px use width 32 and num_blocks 6 or fewer (28 px: 28 -> 14 -> 7
  residual blocks at 7x7 -> 14 -> 28)."""
  CONDITIONINGS = ('none',)
  output_channels: int
  width: int = 64
  num_blocks: int = 9
  norm: str = 'instance'
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = True):
    if x.shape[1] % 4 or x.shape[2] % 4:
      raise ValueError(f'ResnetGenerator halves the image twice: its sides must be multiples of 4, '
                       f'not {x.shape[1]}x{x.shape[2]}.')
    bias = self.norm != 'batch'
    norm = lambda h: _norm(self.norm, train, self.dtype)(h)
    w = self.width
    x = nn.relu(norm(_conv(w, 7, bias=bias, dtype=self.dtype)(_reflect(x, 3))))
    for features in (2 * w, 4 * w):
      x = nn.relu(norm(_conv(features, 3, 2, 1, bias, self.dtype)(x)))
    for i in range(self.num_blocks):
      h = _conv(4 * w, 3, bias=bias, dtype=self.dtype, name=f'block{i}_conv1')(_reflect(x, 1))
      h = nn.relu(norm(h))
      h = _conv(4 * w, 3, bias=bias, dtype=self.dtype, name=f'block{i}_conv2')(_reflect(h, 1))
      x = x + norm(h)
    for features in (2 * w, w):
      x = nn.relu(norm(_up_conv(features, 3, 1, 1, bias, self.dtype)(x)))
    x = _conv(self.output_channels, 7, dtype=self.dtype)(_reflect(x, 3))
    return jnp.tanh(x).astype(jnp.float32)


def receptive_field(num_layers: int) -> int:
  """The side of the input patch that one PatchDiscriminator logit sees: 70 for 3 layers, 34 for
  2, 16 for 1 (9 * 2**num_layers - 2), from r <- (r - 1) * stride + 4 back through its convs."""
  r = 1
  for stride in [1, 1] + [2] * num_layers:  # From the output back: stride 1 twice, then 2.
    r = (r - 1) * stride + 4
  return r


def patch_map_size(size: int, num_layers: int) -> int:
  """The side of PatchDiscriminator's logit map for an input side `size` (0: too small): each
  stride-2 4x4 conv (padding 1) maps s to s // 2, each stride-1 one s to s - 1."""
  for _ in range(num_layers):
    size //= 2
  return max(size - 2, 0)


class PatchDiscriminator(nn.Module):
  """PatchGAN (the reference's NLayerDiscriminator): images [B, H, W, C] -> DiscriminatorOutput
  whose score is a map of logits [B, h, w] (float32), each classifying one receptive_field(num_layers)-sized patch:

    conv4x4 stride 2 (w), LeakyReLU 0.2;
    for n = 1 .. num_layers - 1: conv4x4 stride 2 (w * min(2**n, 8)), norm, LeakyReLU 0.2;
    conv4x4 stride 1 (w * min(2**num_layers, 8)), norm, LeakyReLU 0.2; conv4x4 stride 1 (1).

  All convs have zero padding 1, so h = H // 2**num_layers - 2 (30x30 at 256 px with 3 layers, the
  paper's 70x70 PatchGAN). For 28 to 32 px use num_layers=2 (34 px patches, 5x5 / 6x6 maps); 3
  layers still give a 1x1 / 2x2 map there, i.e. a whole-image discriminator. A map that would be
  empty raises a ValueError naming the largest num_layers that fits.

  pix2pix's discriminator is conditional: the caller concatenates the input image and the real or
  translated image along channels (6 channels for RGB -> RGB) and passes that here."""
  CONDITIONINGS = ('none',)
  width: int = 64
  num_layers: int = 3
  norm: str = 'instance'
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool = True):
    side = min(x.shape[1], x.shape[2])
    if self.num_layers < 1 or patch_map_size(side, self.num_layers) < 1:
      fits = max([n for n in range(1, 16) if patch_map_size(side, n) >= 1], default=0)
      raise ValueError(f'PatchDiscriminator(num_layers={self.num_layers}) has no output on a '
                       f'{x.shape[1]}x{x.shape[2]} image; use 1 <= num_layers <= {fits} (the '
                       'map is side // 2**num_layers - 2).')
    bias = self.norm != 'batch'
    norm = lambda h: _norm(self.norm, train, self.dtype)(h)
    x = nn.leaky_relu(_conv(self.width, 4, 2, 1, dtype=self.dtype)(x), 0.2)
    for n in range(1, self.num_layers + 1):
      stride = 2 if n < self.num_layers else 1
      x = _conv(self.width * min(2**n, 8), 4, stride, 1, bias, self.dtype)(x)
      x = nn.leaky_relu(norm(x), 0.2)
    x = _conv(1, 4, 1, 1, dtype=self.dtype)(x)
    return DiscriminatorOutput(x[..., 0].astype(jnp.float32))


def _largest_num_downs(height: int, width: int) -> int:
  """The largest n with 2**n dividing both sides."""
  n = 0
  while height % 2**(n + 1) == 0 and width % 2**(n + 1) == 0:
    n += 1
  return n


class UNetGenerator(nn.Module):
  """pix2pix's generator (the reference's UnetGenerator), images [B, H, W, C] ->
  [B, H, W, output_channels] in [-1, 1]. Level i = 0 .. num_downs - 1 has c_i = w * min(2**i, 8)
  channels (w, 2w, 4w, 8w, 8w, ...); 2**num_downs must divide H and W (1x1 at the bottleneck when
  equal: 8 for 256 px, 7 for 128 px, 5 for 32 px):

    down i: [LeakyReLU 0.2 unless i = 0], conv4x4 stride 2 (c_i), [norm unless i = 0 or innermost];
    up i (from the innermost): ReLU, transposed conv4x4 stride 2 padding 1 (exactly 2x; c_{i-1},
      or output_channels for i = 0), then for i > 0: norm, [dropout for 4 <= i <= num_downs - 2,
      the reference's use_dropout blocks of 8w -> 8w: three at 256 px, none below 64 px],
      concatenation [skip_{i-1}, up] with down i-1's output; for i = 0: tanh.

  The U-Net of the paper is num_downs=8, width 64, batch norm, dropout 0.5 (54.4M params with 3
  channels). Dropout is G's only noise (pix2pix has no z); with train=True it needs an rng
  'dropout' (apply(..., rngs={'dropout': key})). The reference also keeps dropout, and batch
  statistics, at test time (test.py without --eval): call with train=True to do the same.

  Sides that 2**num_downs does not divide (28 px) raise a ValueError naming the largest num_downs
  that fits, unless pad=True: then the image is reflect-padded to the next multiple of 2**num_downs
  (28 -> 32 with num_downs=5) and the output cropped back to H x W."""
  CONDITIONINGS = ('none',)
  output_channels: int
  width: int = 64
  num_downs: int = 8
  norm: str = 'batch'
  dropout: float = 0.5
  pad: bool = False
  dtype: Any = None  # Compute dtype (config.compute_dtype); parameters stay float32.

  @nn.compact
  def __call__(self, x, train: bool):
    n, (height, width) = self.num_downs, x.shape[1:3]
    if n < 1:
      raise ValueError(f'UNetGenerator needs num_downs >= 1, not {n}.')
    multiple = 2**n
    if self.pad:
      pads = [(-side % multiple) for side in (height, width)]
      if max(p - p // 2 for p in pads) >= min(height, width):
        raise ValueError(f'UNetGenerator(num_downs={n}, pad=True) would pad {height}x{width} to '
                         f'a multiple of {multiple}, more than reflection padding allows.')
      x = jnp.pad(x, ((0, 0), (pads[0] // 2, pads[0] - pads[0] // 2),
                      (pads[1] // 2, pads[1] - pads[1] // 2), (0, 0)), mode='reflect')
    elif height % multiple or width % multiple:
      raise ValueError(f'UNetGenerator(num_downs={n}) needs image sides divisible by '
                       f'2**{n} = {multiple}, not {height}x{width}: use num_downs <= '
                       f'{_largest_num_downs(height, width)}, or pad=True.')
    bias = self.norm != 'batch'
    norm = lambda h: _norm(self.norm, train, self.dtype)(h)
    channels = [self.width * min(2**i, 8) for i in range(n)]
    skips = []
    for i in range(n):
      if i > 0:
        skips.append(x)
        x = nn.leaky_relu(x, 0.2)
      x = _conv(channels[i], 4, 2, 1, bias, self.dtype, name=f'down{i}')(x)
      if 0 < i < n - 1:
        x = norm(x)
    for i in reversed(range(1, n)):
      x = _up_conv(channels[i - 1], 4, 1, 0, bias, self.dtype, name=f'up{i}')(nn.relu(x))
      x = norm(x)
      if 4 <= i <= n - 2:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
      x = jnp.concatenate([skips[i - 1], x], axis=-1)
    x = _up_conv(self.output_channels, 4, 1, 0, dtype=self.dtype, name='up0')(nn.relu(x))
    if self.pad:
      top, left = pads[0] // 2, pads[1] // 2
      x = x[:, top:top + height, left:left + width]
    return jnp.tanh(x).astype(jnp.float32)


TRANSLATORS = {'resnet': ResnetGenerator, 'unet': UNetGenerator}
PATCH_DISCRIMINATORS = {'patch': PatchDiscriminator}
