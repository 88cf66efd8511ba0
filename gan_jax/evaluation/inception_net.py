"""InceptionV3 as FID defines it, in Flax, and the FeatureExtractor over its converted weights.

Architecture: Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture for
Computer Vision", arXiv:1512.00567) as frozen in TensorFlow's 2015-12-05 graph, with which FID is
defined (Heusel et al. 2017, arXiv:1706.08500). The port followed, layer for layer and name for
name, is pytorch-fid's `fid_inception_v3()` (github.com/mseitzer/pytorch-fid,
src/pytorch_fid/inception.py): torchvision's Inception3 with 1008 logits, no auxiliary head, and
the blocks that differ from torchvision's:
  * FIDInceptionA / FIDInceptionC / FIDInceptionE_1: the pool branch averages without counting the
    padding (count_include_pad=False);
  * FIDInceptionE_2 (Mixed_7c): the pool branch takes a 3x3 max instead of an average.
Every convolution is bias-free, followed by batch norm (eps 0.001, running statistics) and ReLU.

Input handling is a preprocessing mode of `resize.py`, chosen by name: images in [-1, 1] are
quantised to uint8 as stored images would be, resized to 299x299 the way TF1 (StyleGAN's and
TTUR's metrics, `legacy_tensorflow`), pytorch-fid (`legacy_pytorch`, the default of the plain
metrics) or clean-fid (`clean`, PIL's antialiased bicubic) does, and normalised as that reference
does. One-channel images are repeated to three channels. The logits are pool3 @ W, without the
output layer's bias, as the Inception Score's original code (Salimans et al. 2016) and
StyleGAN's is50k compute them.

`python -m gan_jax.evaluation.inception` converts pytorch-fid's weights (see `inception.py`); then
`load_inception('inception_fid.npz')` returns the FeatureExtractor: pool3 features [B, 2048]
(after the global average pool) and logits [B, 1008].
"""

import functools
from collections.abc import Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import resize

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
WEIGHTS_NAME = 'pt_inception-2015-12-05'
KIND = 'inception_v3'  # The metadata kind of converted files: features.load_extractor's key.
_WHAT = 'InceptionV3 weights'
# Convolutions in full float32: TF32 (the GPU default) would move FID in its later digits.
_PRECISION = jax.lax.Precision.HIGHEST


def _pairs(value: int | Sequence[int]) -> tuple[int, int]:
  return (value, value) if isinstance(value, int) else tuple(value)


class BasicConv(nn.Module):
  """Bias-free convolution, batch norm (eps 0.001, running statistics), ReLU: torchvision's
  BasicConv2d, with PyTorch's symmetric zero padding."""
  features: int
  kernel_size: int | Sequence[int]
  strides: int | Sequence[int] = 1
  padding: int | Sequence[int] = 0

  @nn.compact
  def __call__(self, x):
    pad_h, pad_w = _pairs(self.padding)
    x = nn.Conv(self.features, _pairs(self.kernel_size), strides=_pairs(self.strides),
                padding=((pad_h, pad_h), (pad_w, pad_w)), use_bias=False, precision=_PRECISION,
                name='conv')(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x)
    return nn.relu(x)


def _average_pool_3x3(x):
  """3x3, stride 1, padding 1, averaging over the pixels inside the image only."""
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)),
                     count_include_pad=False)


def _max_pool_3x3_stride_2(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding='VALID')


class InceptionA(nn.Module):
  """Mixed_5b/5c/5d (pytorch-fid FIDInceptionA): 35x35 grid, 1x1 / 5x5 / double 3x3 / pool."""
  pool_features: int

  @nn.compact
  def __call__(self, x):
    branch1x1 = BasicConv(64, 1, name='branch1x1')(x)
    branch5x5 = BasicConv(48, 1, name='branch5x5_1')(x)
    branch5x5 = BasicConv(64, 5, padding=2, name='branch5x5_2')(branch5x5)
    branch3x3dbl = BasicConv(64, 1, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(96, 3, padding=1, name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = BasicConv(96, 3, padding=1, name='branch3x3dbl_3')(branch3x3dbl)
    branch_pool = BasicConv(self.pool_features, 1, name='branch_pool')(_average_pool_3x3(x))
    return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a (torchvision InceptionB): 35x35 -> 17x17 grid reduction."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(384, 3, strides=2, name='branch3x3')(x)
    branch3x3dbl = BasicConv(64, 1, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(96, 3, padding=1, name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = BasicConv(96, 3, strides=2, name='branch3x3dbl_3')(branch3x3dbl)
    branch_pool = _max_pool_3x3_stride_2(x)
    return jnp.concatenate([branch3x3, branch3x3dbl, branch_pool], axis=-1)


class InceptionC(nn.Module):
  """Mixed_6b..6e (pytorch-fid FIDInceptionC): 17x17 grid, factorised 7x7 convolutions."""
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    branch1x1 = BasicConv(192, 1, name='branch1x1')(x)
    branch7x7 = BasicConv(c7, 1, name='branch7x7_1')(x)
    branch7x7 = BasicConv(c7, (1, 7), padding=(0, 3), name='branch7x7_2')(branch7x7)
    branch7x7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7_3')(branch7x7)
    branch7x7dbl = BasicConv(c7, 1, name='branch7x7dbl_1')(x)
    branch7x7dbl = BasicConv(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_2')(branch7x7dbl)
    branch7x7dbl = BasicConv(c7, (1, 7), padding=(0, 3), name='branch7x7dbl_3')(branch7x7dbl)
    branch7x7dbl = BasicConv(c7, (7, 1), padding=(3, 0), name='branch7x7dbl_4')(branch7x7dbl)
    branch7x7dbl = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7dbl_5')(branch7x7dbl)
    branch_pool = BasicConv(192, 1, name='branch_pool')(_average_pool_3x3(x))
    return jnp.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a (torchvision InceptionD): 17x17 -> 8x8 grid reduction."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(192, 1, name='branch3x3_1')(x)
    branch3x3 = BasicConv(320, 3, strides=2, name='branch3x3_2')(branch3x3)
    branch7x7x3 = BasicConv(192, 1, name='branch7x7x3_1')(x)
    branch7x7x3 = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(branch7x7x3)
    branch7x7x3 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(branch7x7x3)
    branch7x7x3 = BasicConv(192, 3, strides=2, name='branch7x7x3_4')(branch7x7x3)
    branch_pool = _max_pool_3x3_stride_2(x)
    return jnp.concatenate([branch3x3, branch7x7x3, branch_pool], axis=-1)


class InceptionE(nn.Module):
  """Mixed_7b (pytorch-fid FIDInceptionE_1, average pool) and Mixed_7c (FIDInceptionE_2, max
  pool): 8x8 grid, 3x3 convolutions split into parallel 1x3 and 3x1."""
  pool: str  # 'average' or 'max'.

  @nn.compact
  def __call__(self, x):
    branch1x1 = BasicConv(320, 1, name='branch1x1')(x)
    branch3x3 = BasicConv(384, 1, name='branch3x3_1')(x)
    branch3x3 = jnp.concatenate([
        BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3_2a')(branch3x3),
        BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3_2b')(branch3x3)], axis=-1)
    branch3x3dbl = BasicConv(448, 1, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(384, 3, padding=1, name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = jnp.concatenate([
        BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3dbl_3a')(branch3x3dbl),
        BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3dbl_3b')(branch3x3dbl)], axis=-1)
    if self.pool == 'average':
      pooled = _average_pool_3x3(x)
    elif self.pool == 'max':
      pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    else:
      raise ValueError(f"InceptionE pool must be 'average' or 'max', not {self.pool!r}.")
    branch_pool = BasicConv(192, 1, name='branch_pool')(pooled)
    return jnp.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=-1)


class InceptionV3(nn.Module):
  """Network input [B, 299, 299, 3] (preprocessed, about [-1, 1]) -> (pool3 features [B, 2048],
  logits [B, 1008] with the output bias).

  pytorch-fid's FIDInceptionV3 in inference mode (batch norm on running statistics, no dropout),
  module names as in its state_dict so the weights convert by renaming.
  """

  @nn.compact
  def __call__(self, x):
    x = jnp.asarray(x, jnp.float32)
    if x.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
      raise ValueError(f'InceptionV3 takes inputs [B, {INPUT_SIZE}, {INPUT_SIZE}, 3], not shape '
                       f'{x.shape}; `_apply_inception` preprocesses images of any size.')
    x = BasicConv(32, 3, strides=2, name='Conv2d_1a_3x3')(x)  # 149x149
    x = BasicConv(32, 3, name='Conv2d_2a_3x3')(x)  # 147x147
    x = BasicConv(64, 3, padding=1, name='Conv2d_2b_3x3')(x)
    x = _max_pool_3x3_stride_2(x)  # 73x73
    x = BasicConv(80, 1, name='Conv2d_3b_1x1')(x)
    x = BasicConv(192, 3, name='Conv2d_4a_3x3')(x)  # 71x71
    x = _max_pool_3x3_stride_2(x)  # 35x35
    x = InceptionA(32, name='Mixed_5b')(x)  # 256 channels
    x = InceptionA(64, name='Mixed_5c')(x)  # 288
    x = InceptionA(64, name='Mixed_5d')(x)  # 288
    x = InceptionB(name='Mixed_6a')(x)  # 17x17x768
    x = InceptionC(128, name='Mixed_6b')(x)
    x = InceptionC(160, name='Mixed_6c')(x)
    x = InceptionC(160, name='Mixed_6d')(x)
    x = InceptionC(192, name='Mixed_6e')(x)
    x = InceptionD(name='Mixed_7a')(x)  # 8x8x1280
    x = InceptionE('average', name='Mixed_7b')(x)  # 8x8x2048
    x = InceptionE('max', name='Mixed_7c')(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(NUM_CLASSES, precision=_PRECISION, name='fc')(pool3)
    return pool3, logits


def variable_shapes() -> dict[tuple[str, ...], tuple[int, ...]]:
  """Flax variable path -> shape, from an abstract init (no weights computed)."""
  abstract = jax.eval_shape(InceptionV3().init, jax.random.key(0),
                            jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32))
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(abstract))
  return {path: tuple(leaf.shape) for path, leaf in flat.items()}


@functools.partial(jax.jit, static_argnames='preprocessing')
def _apply_inception(variables, images, preprocessing):
  """images [B, H, W, 1 or 3] in [-1, 1] -> (pool3, logits without the output bias). One jitted
  function for every loaded copy of the weights (they share compilations)."""
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f'InceptionV3 takes images [B, H, W, 1 or 3], not shape {images.shape}.')
  x = resize.to_network_input(images, INPUT_SIZE, preprocessing)
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  pool3, logits = InceptionV3().apply(variables, x)
  return pool3, logits - variables['params']['fc']['bias']


def load_inception(path: str, batch_size: int = 100, preprocessing: str = 'legacy_pytorch'
                   ) -> features_lib.FeatureExtractor:
  """Converted FID weights (.npz) -> FeatureExtractor: images in [-1, 1] -> (pool3 [B, 2048],
  logits [B, 1008]) under a preprocessing mode of resize.py. Raises ValueError naming any
  missing, unexpected or misshapen variable, or an unknown mode."""
  variables, _ = features_lib.load_weights(path, _WHAT)
  return _from_variables(variables, path, batch_size, preprocessing)


@features_lib.register_loader(KIND)
def _load(variables: dict, metadata: dict, path: str,
          preprocessing: str) -> features_lib.FeatureExtractor:
  del metadata  # The architecture is fixed.
  return _from_variables(variables, path, preprocessing=preprocessing or 'legacy_pytorch')


def _from_variables(variables: dict, path: str, batch_size: int = 100,
                    preprocessing: str = 'legacy_pytorch') -> features_lib.FeatureExtractor:
  """load_inception, given the variables already read from `path`."""
  resize.check_mode(preprocessing)
  try:
    features_lib.check_shapes(variables, {'/'.join(p): s for p, s in variable_shapes().items()},
                              f'{_WHAT} {path!r}')
  except ValueError as e:
    raise ValueError(f'{e}. Convert pt_inception-2015-12-05-6726825d.pth with '
                     '`python -m gan_jax.evaluation.inception`.') from None
  given = flax.traverse_util.flatten_dict(variables)
  variables = jax.device_put(flax.traverse_util.unflatten_dict(
      {p: np.asarray(v, np.float32) for p, v in given.items()}))
  apply = functools.partial(_apply_inception, variables, preprocessing=preprocessing)
  return features_lib.FeatureExtractor(
      name=f'InceptionV3 (FID weights {WEIGHTS_NAME}, pool3 {FEATURE_DIM}-d, preprocessing '
           f'{preprocessing})',
      apply=apply, feature_dim=FEATURE_DIM, num_classes=NUM_CLASSES, batch_size=batch_size,
      network=KIND, preprocessing=preprocessing)
