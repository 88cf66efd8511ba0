"""DCGAN's 4x4 stride-2 convolutions, written in the forms XLA compiles well, with exact gradients.

  conv_down(x, w) = lax.conv_general_dilated(x, w, (2, 2), 'SAME')  [B, 2H, 2W, I] -> [B, H, W, O]
  conv_up(x, w)   = lax.conv_transpose(x, w, (2, 2), 'SAME')         [B, H, W, I] -> [B, 2H, 2W, O]

Same math, other arithmetic order. The two maps are adjoint: for a kernel w of conv_up,
<g, conv_up(x, w)> = <conv_down(g, flip(w)), x> with flip(w) = w reversed in space, in/out swapped.
XLA's own gradients of both ops contain an input-dilated convolution ("lhs dilation"), which XLA:CPU
computes on the zero-inflated input (the weight gradient of conv_transpose ran 16x slower than its
forward). Here every such op is replaced by its equal in plain strided or stride-1 convolutions:

  * conv_up forward, the sub-pixel form (Shi et al. 2016): output pixel (2m + a, 2n + b) only sees
    the 2x2 taps w[a::2, b::2] of the inputs around (m, n). One 2x2 stride-1 conv of the 1-padded
    input to 4 * O channels computes all four phases (a, b) at the FLOPs of the transposed conv;
    each phase is then read at its offset and the phases are interleaved (depth to space).
  * d/dx conv_up = conv_down(g, flip(w));  d/dw conv_up = the weight gradient of that conv_down.
  * d/dx conv_down = conv_up(g, flip(w)) (sub-pixel again);  d/dw conv_down = XLA's own (a strided
    conv, fast).

Both are custom VJPs whose backward passes are built from differentiable JAX ops, so second
derivatives (WGAN-GP, R1) work. tests/test_convolutions.py checks values and first and second
derivatives against lax to float tolerance.

Stacked kernels (MIX+GAN, gan_jax/models/mixture.py): under `jax.vmap` over K kernels, a
convolution becomes a grouped convolution, which XLA:CPU runs as a dense one with block-diagonal
kernels, K times the arithmetic. Inside `stacked_kernels()` the layers instead gather the 4x4
(or, sub-pixel, 2x2) input taps with strided slices and contract them with the kernel in one
einsum ("im2col"), which vmap turns into a batched matrix product: the cost grows with K as the
arithmetic does, and the program is the same for every K. Plain autodiff, so second derivatives
work too.
"""

import contextlib
import contextvars
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

KERNEL_SIZE = 4
STRIDE = 2
_DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')
_SAME = ((1, 1), (1, 1))  # 'SAME' padding of a 4x4 stride-2 conv on an even-sized input.


def flip(w):
  """The kernel of the adjoint map: reversed in space, input and output channels swapped."""
  return jnp.flip(w, (0, 1)).swapaxes(2, 3)


def _strided_conv(x, w):
  return lax.conv_general_dilated(x, w, (STRIDE, STRIDE), _SAME, dimension_numbers=_DIMENSIONS)


def _taps(x, size, stride):
  """The size x size input windows of a 'VALID' conv of stride `stride`, by strided slices:
  [B, H, W, C] -> [B, H', W', size * size, C] (taps in the kernel's row-major order)."""
  rows = (x.shape[1] - size) // stride + 1
  cols = (x.shape[2] - size) // stride + 1
  return jnp.stack([x[:, i:i + stride * (rows - 1) + 1:stride, j:j + stride * (cols - 1) + 1:stride]
                    for i in range(size) for j in range(size)], 3)


def _im2col_conv(x, w, stride):
  """lax.conv_general_dilated(x, w, stride, 'VALID') as taps @ kernel: one matrix product."""
  size, _, channels, out = w.shape
  return jnp.einsum('bhwtc,tco->bhwo', _taps(x, size, stride), w.reshape(-1, channels, out))


def _pad1(x):
  return jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _sub_pixel_conv_up(x, w, im2col=False):
  """lax.conv_transpose(x, w, (2, 2), 'SAME') as one 2x2 conv to the four output phases.

  Per axis, y[2m] = x[m-1] w[0] + x[m] w[2] and y[2m+1] = x[m] w[1] + x[m+1] w[3]: phase a uses
  taps w[a::2] on the window that starts at padded position m + a."""
  batch, height, width, _ = x.shape
  out = w.shape[3]
  phases = jnp.stack([jnp.stack([w[a::2, b::2] for b in range(2)], -2) for a in range(2)], -3)
  phases = phases.reshape(2, 2, w.shape[2], 4 * out)
  if im2col:
    y = _im2col_conv(_pad1(x), phases, 1)
  else:
    y = lax.conv_general_dilated(_pad1(x), phases, (1, 1), 'VALID', dimension_numbers=_DIMENSIONS)
  y = y.reshape(batch, height + 1, width + 1, 2, 2, out)
  rows = [jnp.stack([y[:, a:a + height, b:b + width, a, b] for b in range(2)], 3)
          for a in range(2)]
  return jnp.stack(rows, 2).reshape(batch, 2 * height, 2 * width, out)


def _check(x, w, name):
  if w.shape[:2] != (KERNEL_SIZE, KERNEL_SIZE):
    raise ValueError(f'{name} takes {KERNEL_SIZE}x{KERNEL_SIZE} kernels, got {w.shape}.')
  if x.shape[-1] != w.shape[2]:
    raise ValueError(f'{name}: input has {x.shape[-1]} channels, the kernel expects {w.shape[2]}.')


def _check_down(x, w):
  _check(x, w, 'conv_down')
  if x.shape[1] % 2 or x.shape[2] % 2:
    raise ValueError(f'conv_down needs an even height and width, got {x.shape[1:3]}.')


@jax.custom_vjp
def conv_up(x, w):
  """Transposed 4x4 stride-2 'SAME' convolution: [B, H, W, I] x [4, 4, I, O] -> [B, 2H, 2W, O]."""
  _check(x, w, 'conv_up')
  return _sub_pixel_conv_up(x, w)


def _conv_up_fwd(x, w):
  return conv_up(x, w), (x, w)


def _conv_up_bwd(residuals, g):
  x, w = residuals
  dx, weight_vjp = jax.vjp(lambda w: _strided_conv(g, flip(w)), w)
  return dx, weight_vjp(x)[0]


conv_up.defvjp(_conv_up_fwd, _conv_up_bwd)


@jax.custom_vjp
def conv_down(x, w):
  """4x4 stride-2 'SAME' convolution: [B, 2H, 2W, I] x [4, 4, I, O] -> [B, H, W, O]."""
  _check_down(x, w)
  return _strided_conv(x, w)


def _conv_down_fwd(x, w):
  return conv_down(x, w), (x, w)


def _conv_down_bwd(residuals, g):
  x, w = residuals
  _, weight_vjp = jax.vjp(lambda w: _strided_conv(x, w), w)
  return conv_up(g, flip(w)), weight_vjp(g)[0]


conv_down.defvjp(_conv_down_fwd, _conv_down_bwd)


def conv_down_im2col(x, w):
  """conv_down as strided taps times the kernel (for stacked kernels under vmap)."""
  _check_down(x, w)
  return _im2col_conv(_pad1(x), w, STRIDE)


def conv_up_im2col(x, w):
  """conv_up, sub-pixel, with its 2x2 conv as taps times the kernel (for stacked kernels)."""
  _check(x, w, 'conv_up')
  return _sub_pixel_conv_up(x, w, im2col=True)


_STACKED_KERNELS = contextvars.ContextVar('stacked_kernels', default=False)


@contextlib.contextmanager
def stacked_kernels():
  """Within: ConvDown / ConvUp use the im2col forms, for modules vmapped over stacked kernels."""
  token = _STACKED_KERNELS.set(True)
  try:
    yield
  finally:
    _STACKED_KERNELS.reset(token)


class _StridedConv(nn.Module):
  """Parameters laid out as flax's nn.Conv / nn.ConvTranspose (kernel [4, 4, I, O], bias [O])."""
  features: int
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()
  dtype: Any = None  # Computation dtype (e.g. jnp.bfloat16); parameters stay float32.
  apply_fn = None
  im2col_fn = None

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', self.kernel_init,
                        (KERNEL_SIZE, KERNEL_SIZE, x.shape[-1], self.features))
    bias = self.param('bias', nn.initializers.zeros, (self.features,)) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    convolve = type(self).im2col_fn if _STACKED_KERNELS.get() else type(self).apply_fn
    y = convolve(x, kernel)
    return y if bias is None else y + bias


class ConvDown(_StridedConv):
  """conv_down as a layer: halves the resolution (DCGAN's discriminator)."""
  apply_fn = staticmethod(conv_down)
  im2col_fn = staticmethod(conv_down_im2col)


class ConvUp(_StridedConv):
  """conv_up as a layer: doubles the resolution (DCGAN's generator)."""
  apply_fn = staticmethod(conv_up)
  im2col_fn = staticmethod(conv_up_im2col)
