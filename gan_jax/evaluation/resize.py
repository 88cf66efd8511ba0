"""How images reach the Inception network of FID, KID and the Inception Score: three protocols.

An FID depends on how images are quantised and resized to the network's 299x299 input (Parmar et
al., "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022). Each mode
reproduces one reference implementation, to float32 rounding:

- 'legacy_tensorflow': TTUR's FID and StyleGAN2-ADA's metrics. TF1's `resize_bilinear` with
  align_corners=False and no half-pixel centres: source coordinate s = i * in / out, neighbours
  floor(s) and floor(s) + 1 (the upper one clamped to the last pixel). NVIDIA's TorchScript
  detector (inception-2015-12-05.pt, used by stylegan2-ada-pytorch and clean-fid) emulates it with
  affine_grid + grid_sample(bilinear, padding_mode='border', align_corners=False) whose
  translation is shifted by 1/in - 1/299 (which gives the same s), then feeds (x - 128) / 128.
- 'legacy_pytorch': pytorch-fid. F.interpolate(bilinear, align_corners=False) of x / 255: half-pixel
  centres, s = max((i + 0.5) * in / out - 0.5, 0), no antialiasing (downsampling aliases); then
  2 * x - 1, i.e. x / 127.5 - 1 for x in 0..255.
- 'clean': clean-fid. Each channel as a float32 PIL image (mode 'F') resized with BICUBIC (a = -0.5,
  antialiased: the filter widens by the scale factor when downsampling), clipped to [0, 255], then
  given to the detector above without its resize: (x - 128) / 128.

Generated images are first quantised as stored images are (StyleGAN2-ADA: floor(x * 127.5 + 128)
clipped to 0..255, for x in [-1, 1]); a real uint8 image u given as u / 127.5 - 1 comes back as u.

Every resize is separable and linear: out[n, i, j, c] = sum_{a,b} Wh[i, a] X[n, a, b, c] Ww[j, b],
with the weights computed here in numpy the way each library computes them (F.interpolate's and
TF1's bit for bit, from their float32 coordinates; PIL's in double, as PIL does; NVIDIA's
grid_sample reaches TF1's coordinates to within float32 rounding), and applied as einsums. An
image already at the output size is left as it is, as every reference does.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

MODES = ('legacy_tensorflow', 'legacy_pytorch', 'clean')

DESCRIPTIONS = {
    'legacy_tensorflow':
        'legacy_tensorflow: uint8, TF1 bilinear resize (no half-pixel centres), (x - 128) / 128',
    'legacy_pytorch':
        'legacy_pytorch: uint8, PyTorch bilinear resize (half-pixel centres, not antialiased), '
        'x / 127.5 - 1',
    'clean':
        'clean: uint8, PIL bicubic resize in float32 (antialiased), clipped to [0, 255], '
        '(x - 128) / 128',
}

_HIGHEST = jax.lax.Precision.HIGHEST


def check_mode(mode: str) -> None:
  """Raises ValueError unless `mode` is one of MODES."""
  if mode not in MODES:
    raise ValueError(f'Unknown resize mode {mode!r}: expected one of {", ".join(MODES)}.')


@jax.jit
def quantize(images: jax.Array) -> jax.Array:
  """Images in [-1, 1] -> float32 integers 0..255: floor(x * 127.5 + 128) clipped, as
  StyleGAN2-ADA's `(img * 127.5 + 128).clamp(0, 255).to(torch.uint8)`."""
  pixels = jnp.asarray(images, jnp.float32) * 127.5 + 128.0
  return jnp.floor(jnp.clip(pixels, 0.0, 255.0))


def _linear_weights(source: np.ndarray, in_size: int) -> np.ndarray:
  """[out, in] weights of linear interpolation at float32 source coordinates (all >= 0): pixels
  floor(s) and floor(s) + 1 weighted 1 - t and t, t = s - floor(s) in float32 as both libraries
  compute it, indices clamped to the last pixel (a coordinate past it reads the last pixel)."""
  lower = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
  upper = np.minimum(lower + 1, in_size - 1)
  frac = np.clip(source - lower.astype(np.float32), np.float32(0), np.float32(1))
  rows = np.arange(len(source))
  weights = np.zeros((len(source), in_size))
  np.add.at(weights, (rows, lower), (np.float32(1) - frac).astype(np.float64))
  np.add.at(weights, (rows, upper), frac.astype(np.float64))
  return weights


def _tensorflow_weights(in_size: int, out_size: int) -> np.ndarray:
  """TF1 resize_bilinear(align_corners=False, half_pixel_centers=False): s = i * (in / out), in
  float32 as TF computes it. The detector's grid_sample reaches the same s (to float32 rounding)
  as ((x + 1) * in - 1) / 2 at x = (2i + 1) / out - 1 + 1/in - 1/out, clamped to [0, in - 1] by
  its border padding (which reads the same pixels)."""
  scale = np.float32(in_size) / np.float32(out_size)
  source = np.arange(out_size, dtype=np.float32) * scale
  return _linear_weights(np.minimum(source, np.float32(in_size - 1)), in_size)


def _pytorch_weights(in_size: int, out_size: int) -> np.ndarray:
  """torch F.interpolate(bilinear, align_corners=False): s = (in / out) * (i + 0.5) - 0.5, negative
  s read as 0 (ATen's area_pixel_compute_source_index); float32 scale, and s rounded once to
  float32 as the fused multiply-add of torch's CPU (AVX2) and CUDA builds does (float64 holds the
  product exactly)."""
  scale = np.float64(np.float32(in_size) / np.float32(out_size))
  source = (scale * (np.arange(out_size) + 0.5) - 0.5).astype(np.float32)
  return _linear_weights(np.maximum(source, np.float32(0)), in_size)


def _bicubic(x: np.ndarray) -> np.ndarray:
  """PIL's bicubic_filter, a = -0.5 (Keys' cubic convolution), support 2."""
  a = -0.5
  x = np.abs(x)
  near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
  far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
  return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _pil_bicubic_weights(in_size: int, out_size: int) -> np.ndarray:
  """PIL's precompute_coeffs (libImaging/Resample.c) for BICUBIC: scale = in / out, filterscale =
  max(scale, 1), support = 2 * filterscale, centre c = (i + 0.5) * scale; taps x in
  [int(c - support + 0.5), int(c + support + 0.5)) (C truncation) cut to the image, weights
  bicubic((x - c + 0.5) / filterscale) divided by their sum. 'F' images accumulate in double."""
  scale = in_size / out_size
  filterscale = max(scale, 1.0)
  support = 2.0 * filterscale
  inv_filterscale = 1.0 / filterscale
  weights = np.zeros((out_size, in_size))
  for i in range(out_size):
    centre = (i + 0.5) * scale
    lo = max(int(centre - support + 0.5), 0)
    hi = min(int(centre + support + 0.5), in_size)
    taps = _bicubic((np.arange(lo, hi) - centre + 0.5) * inv_filterscale)
    total = taps.sum()
    weights[i, lo:hi] = taps / total if total != 0.0 else taps
  return weights


_WEIGHTS = {
    'legacy_tensorflow': _tensorflow_weights,
    'legacy_pytorch': _pytorch_weights,
    'clean': _pil_bicubic_weights,
}


@functools.lru_cache(maxsize=64)
def _cached_matrix(in_size: int, out_size: int, mode: str) -> np.ndarray:
  check_mode(mode)
  if in_size < 1 or out_size < 1:
    raise ValueError(f'Resize sizes must be positive, got {in_size} -> {out_size}.')
  if in_size == out_size:  # Each library copies the image (and its weights reduce to this).
    matrix = np.eye(in_size)
  else:
    matrix = _WEIGHTS[mode](in_size, out_size)
  matrix.setflags(write=False)
  return matrix


def resize_matrix(in_size: int, out_size: int, mode: str) -> np.ndarray:
  """float64 [out_size, in_size] weights W of the 1-D resize of `mode`: out[i] = sum_a W[i, a] x[a].
  Rows sum to 1; the identity when the sizes are equal. Cached, returned read-only."""
  return _cached_matrix(int(in_size), int(out_size), mode)


@functools.partial(jax.jit, static_argnames=('size', 'mode'))
def resize(pixels: jax.Array, size: int, mode: str) -> jax.Array:
  """float pixels 0..255 [N, H, W, C] -> float32 [N, size, size, C] resized as `mode`'s reference:
  out[n, i, j, c] = sum_{a,b} Wh[i, a] X[n, a, b, c] Ww[j, b] (W = resize_matrix), width first
  as PIL does; 'clean' then clips to [0, 255] as clean-fid does."""
  check_mode(mode)
  pixels = jnp.asarray(pixels, jnp.float32)
  if pixels.ndim != 4:
    raise ValueError(f'resize takes images [N, H, W, C], got shape {pixels.shape}.')
  height, width = pixels.shape[1:3]
  if width != size:
    ww = jnp.asarray(resize_matrix(width, size, mode), jnp.float32)
    pixels = jnp.einsum('jb,nabc->najc', ww, pixels, precision=_HIGHEST)
  if height != size:
    wh = jnp.asarray(resize_matrix(height, size, mode), jnp.float32)
    pixels = jnp.einsum('ia,najc->nijc', wh, pixels, precision=_HIGHEST)
  if mode == 'clean':
    pixels = jnp.clip(pixels, 0.0, 255.0)
  return pixels


@functools.partial(jax.jit, static_argnames=('size', 'mode'))
def to_network_input(images: jax.Array, size: int, mode: str) -> jax.Array:
  """Images in [-1, 1] [N, H, W, C] -> the network input [N, size, size, C] of `mode`:
  quantize, resize, then x / 127.5 - 1 (= 2 * (x / 255) - 1, pytorch-fid) for 'legacy_pytorch'
  and (x - 128) / 128 (NVIDIA's detector) for the others. Channels are left as they are (a
  caller with one-channel images repeats it to three, as the references do)."""
  pixels = resize(quantize(images), size, mode)
  if mode == 'legacy_pytorch':
    return 2.0 * (pixels / 255.0) - 1.0
  return (pixels - 128.0) / 128.0
