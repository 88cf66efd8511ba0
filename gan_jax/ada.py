"""Adaptive discriminator augmentation, ADA (Karras et al. 2020, arXiv:2006.06676): the
augmentation pipeline and the update of its probability p.

Each transform of the pipeline is applied to each image with probability p (times the transform's
multiplier, 1 for every group here), with the paper's distributions (stylegan2-ada's AugmentPipe):
  blit   x-flip; rotation by a multiple of 90 degrees; integer translation, uniform in +-1/8 of
         the image;
  geom   isotropic scaling 2^N(0, 0.2^2); rotation uniform in +-180 degrees, before and after an
         anisotropic scaling 2^N(0, 0.2^2) (each rotation with probability 1 - sqrt(1 - p), so
         one happens with probability p); fractional translation N(0, (1/8)^2) of the image;
  color  brightness + N(0, 0.2^2); contrast x 2^N(0, 0.5^2); luma flip (a Householder
         reflection of the colour about the luma axis: grey images are negated); hue rotation
         about the luma axis, uniform in +-180 degrees; saturation x 2^N(0, 1) (the last two
         on RGB images only);
  noise  additive Gaussian noise of standard deviation |N(0, 0.1^2)|;
  cutout a square of half the image side, at a uniform centre, set to 0.
The geometric transforms (blit and geom) are composed into one inverse matrix per image and
executed once: reflection padding, 2x upsampling with the sym6 wavelet filter, bilinear
resampling, sym6 downsampling (anti-aliased). At p = 0 this round trip is the identity up to float
rounding. (The image-space filtering of the paper is not implemented.)

Images are [B, H, W, C] in [-1, 1]; matrices act on centre-origin pixel coordinates (x right,
y down): output pixel q reads the input at G_inv q.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import streams

GROUPS = ('blit', 'geom', 'color', 'noise', 'cutout')
DEFAULT_GROUPS = ('blit', 'geom', 'color')  # The paper's 'bgc', its default.
DEFAULT_PIPELINE = ','.join(DEFAULT_GROUPS)

# Low-pass filter of the sym6 wavelet (12 taps; the resampling filter of stylegan2-ada).
SYM6 = np.array([0.015404109327027373, 0.0034907120842174702, -0.11799011114819057,
                 -0.048311742585633, 0.4910559419267466, 0.787641141030194,
                 0.3379294217276218, -0.07263752278646252, -0.021060292512300564,
                 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148])

XINT_MAX = 0.125
SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, HUE_MAX, SATURATION_STD = 0.2, 0.5, 1.0, 1.0
NOISE_STD, CUTOUT_SIZE = 0.1, 0.5


def parse_pipeline(pipeline: str) -> tuple[str, ...]:
  """'blit,geom,color' -> ('blit', 'geom', 'color'); ValueError naming unknown groups."""
  groups = tuple(g.strip() for g in pipeline.split(',') if g.strip())
  unknown = [g for g in groups if g not in GROUPS]
  if unknown or not groups or len(set(groups)) != len(groups):
    raise ValueError(f'ADA pipeline {pipeline!r}: give distinct groups from {list(GROUPS)}, '
                     f'comma-separated (the paper\'s default is {DEFAULT_PIPELINE!r}).')
  return groups


# --- 3x3 matrices on homogeneous 2-D pixel coordinates, batched: [B] parameters -> [B, 3, 3].

def _matrix(rows, like):
  rows = [[jnp.broadcast_to(jnp.asarray(v, like.dtype), like.shape) for v in row] for row in rows]
  return jnp.stack([jnp.stack(row, -1) for row in rows], -2)


def translate2d(tx, ty):
  return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale2d(sx, sy):
  return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def rotate2d(theta):
  c, s = jnp.cos(theta), jnp.sin(theta)
  return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def _chance(key, shape, probability):
  """Which images a transform applies to: uniform < probability."""
  return jax.random.uniform(key, shape) < probability


def geometric_matrix(key, batch: int, p, groups, height: int, width: int) -> jax.Array:
  """G_inv [B, 3, 3] of the blit and geom groups at probability p (the identity where none
  applies)."""
  k = lambda name: streams.stream(key, name)
  g_inv = jnp.broadcast_to(jnp.eye(3), (batch, 3, 3))
  ones = jnp.ones((batch,))
  if 'blit' in groups:
    flip = jnp.where(_chance(k('xflip/on'), (batch,), p),
                     jnp.floor(jax.random.uniform(k('xflip'), (batch,)) * 2), 0.0)
    g_inv = g_inv @ scale2d(1 / (1 - 2 * flip), ones)
    quarter = jnp.where(_chance(k('rotate90/on'), (batch,), p),
                        jnp.floor(jax.random.uniform(k('rotate90'), (batch,)) * 4), 0.0)
    g_inv = g_inv @ rotate2d(math.pi / 2 * quarter)  # rotate2d_inv(-pi/2 * i)
    shift = (jax.random.uniform(k('xint'), (batch, 2)) * 2 - 1) * XINT_MAX
    shift = jnp.where(_chance(k('xint/on'), (batch, 1), p), shift, 0.0)
    g_inv = g_inv @ translate2d(-jnp.round(shift[:, 0] * width), -jnp.round(shift[:, 1] * height))
  if 'geom' in groups:
    scale = jnp.where(_chance(k('scale/on'), (batch,), p),
                      jnp.exp2(jax.random.normal(k('scale'), (batch,)) * SCALE_STD), 1.0)
    g_inv = g_inv @ scale2d(1 / scale, 1 / scale)
    p_rotate = 1 - jnp.sqrt(jnp.clip(1 - p, 0, 1))  # P(pre-rotation or post-rotation) = p.

    def rotation(name):
      theta = (jax.random.uniform(k(name), (batch,)) * 2 - 1) * math.pi * ROTATE_MAX
      return rotate2d(jnp.where(_chance(k(name + '/on'), (batch,), p_rotate), theta, 0.0))

    g_inv = g_inv @ rotation('rotate/pre')
    aniso = jnp.where(_chance(k('aniso/on'), (batch,), p),
                      jnp.exp2(jax.random.normal(k('aniso'), (batch,)) * ANISO_STD), 1.0)
    g_inv = g_inv @ scale2d(1 / aniso, aniso) @ rotation('rotate/post')
    shift = jax.random.normal(k('xfrac'), (batch, 2)) * XFRAC_STD
    shift = jnp.where(_chance(k('xfrac/on'), (batch, 1), p), shift, 0.0)
    g_inv = g_inv @ translate2d(-shift[:, 0] * width, -shift[:, 1] * height)
  return g_inv


# --- Executing a geometric transform: pad, upsample, resample, downsample.

def _correlate(x, taps, axis: int):
  """Valid 1-D correlation of x along `axis` with the filter taps (a sum of shifted slices)."""
  size = x.shape[axis] - len(taps) + 1
  return sum(float(t) * jax.lax.slice_in_dim(x, i, i + size, axis=axis)
             for i, t in enumerate(taps))


def upsample2x(x, taps):
  """upfirdn2d's upsample2d of [B, H, W, C] by 2: zeros inserted, padded (fw+1)//2 before and
  (fw-2)//2 after, convolved with the filter normalised to sum 2 per axis -> [B, 2H, 2W, C]."""
  f = taps / taps.sum() * 2
  for axis in (1, 2):
    shape = list(x.shape)
    x = jnp.stack([x, jnp.zeros_like(x)], axis + 1).reshape(
        shape[:axis] + [2 * shape[axis]] + shape[axis + 1:])
    pad = [(0, 0)] * 4
    pad[axis] = ((len(f) + 1) // 2, (len(f) - 2) // 2)
    x = _correlate(jnp.pad(x, pad), f[::-1], axis)  # A convolution: the filter flipped.
  return x


def downsample2x(x, taps, crop: int):
  """upfirdn2d's downsample2d of [B, H, W, C] by 2 with padding -crop: padded (fw-1)//2 - crop
  before and (fw-2)//2 - crop after (negative: cropped), correlated with the filter normalised to
  sum 1, every second sample kept."""
  f = taps / taps.sum()
  lo, hi = (len(f) - 1) // 2 - crop, (len(f) - 2) // 2 - crop
  for axis in (1, 2):
    pad = [(0, 0)] * 4
    pad[axis] = (max(lo, 0), max(hi, 0))
    x = jnp.pad(x, pad)
    x = jax.lax.slice_in_dim(x, max(-lo, 0), x.shape[axis] - max(-hi, 0), axis=axis)
    x = jax.lax.slice_in_dim(_correlate(x, f, axis), 0, None, stride=2, axis=axis)
  return x


def bilinear_sample(images, coords):
  """images [B, H, W, C] at pixel coordinates coords [B, Ho, Wo, 2] (x, y; pixel centres at
  integers), bilinear, zero outside: grid_sample's sampling with align_corners=False."""
  b, h, w, c = images.shape
  flat = images.reshape(b, h * w, c)
  x, y = coords[..., 0], coords[..., 1]
  x0, y0 = jnp.floor(x), jnp.floor(y)
  out = 0.0
  for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
    xi, yi = x0 + dx, y0 + dy
    weight = (1 - jnp.abs(x - xi)) * (1 - jnp.abs(y - yi))
    inside = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
    index = (jnp.clip(yi, 0, h - 1) * w + jnp.clip(xi, 0, w - 1)).astype(jnp.int32)
    values = jnp.take_along_axis(flat, index.reshape(b, -1, 1), axis=1).reshape(x.shape + (c,))
    out = out + values * (weight * inside)[..., None]
  return out


def transform_images(images, g_inv, taps=SYM6):
  """Executes G_inv [B, 3, 3] on images [B, H, W, C] as the paper does: reflection padding (by
  the largest margin the reference pads, one side less than the image), 2x upsampling, bilinear
  resampling, anti-aliased 2x downsampling. Equal to the reference wherever its data-dependent
  padding stays below that margin (transforms that keep the image within about one image size)."""
  _, h, w, _ = images.shape
  fpad = len(taps) // 4  # Hz_pad of the reference: 3 for sym6.
  my, mx = h - 1, w - 1
  x = jnp.pad(images, ((0, 0), (my, my), (mx, mx), (0, 0)), mode='reflect')
  x = upsample2x(x, taps)
  # The matrix on the upsampled image (origin at the same centre, half-pixel shift of upfirdn).
  g = scale2d(jnp.full(g_inv.shape[:1], 2.0), 2.0) @ g_inv @ scale2d(
      jnp.full(g_inv.shape[:1], 0.5), 0.5)
  t = jnp.full(g_inv.shape[:1], -0.5)
  g = translate2d(t, t) @ g @ translate2d(-t, -t)
  out_h, out_w = (h + 2 * fpad) * 2, (w + 2 * fpad) * 2
  up_h, up_w = x.shape[1], x.shape[2]
  # Output pixel centres in centre-origin coordinates, mapped to the upsampled input.
  cols = jnp.arange(out_w) - (out_w - 1) / 2
  rows = jnp.arange(out_h) - (out_h - 1) / 2
  grid = jnp.stack(jnp.broadcast_arrays(cols[None, :], rows[:, None]) + [jnp.ones((out_h, out_w))],
                   -1)  # [Ho, Wo, 3]
  source = jnp.einsum('bij,hwj->bhwi', g, grid)[..., :2]
  source = source + jnp.array([(up_w - 1) / 2, (up_h - 1) / 2])
  x = bilinear_sample(x, source)
  return downsample2x(x, taps, crop=2 * fpad)


# --- Colour: 4x4 matrices on homogeneous RGB.

def color_matrix(key, batch: int, p, channels: int) -> jax.Array:
  """C [B, 4, 4] of the colour group at probability p."""
  k = lambda name: streams.stream(key, name)
  eye = jnp.eye(4)
  c = jnp.broadcast_to(eye, (batch, 4, 4))
  b = jnp.where(_chance(k('brightness/on'), (batch,), p),
                jax.random.normal(k('brightness'), (batch,)) * BRIGHTNESS_STD, 0.0)
  c = (eye + jnp.zeros((batch, 4, 4)).at[:, :3, 3].set(b[:, None])) @ c
  contrast = jnp.where(_chance(k('contrast/on'), (batch,), p),
                       jnp.exp2(jax.random.normal(k('contrast'), (batch,)) * CONTRAST_STD), 1.0)
  c = (jnp.zeros((batch, 4, 4)).at[:, jnp.arange(3), jnp.arange(3)].set(contrast[:, None])
       .at[:, 3, 3].set(1.0)) @ c
  v = jnp.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)  # The luma axis.
  vv = jnp.outer(v, v)
  flip = jnp.where(_chance(k('lumaflip/on'), (batch,), p),
                   jnp.floor(jax.random.uniform(k('lumaflip'), (batch,)) * 2), 0.0)
  c = (eye - 2 * vv * flip[:, None, None]) @ c  # A Householder reflection.
  if channels > 1:
    theta = jnp.where(_chance(k('hue/on'), (batch,), p),
                      (jax.random.uniform(k('hue'), (batch,)) * 2 - 1) * math.pi * HUE_MAX, 0.0)
    c = _rotate_about(v[:3], theta) @ c
    s = jnp.where(_chance(k('saturation/on'), (batch,), p),
                  jnp.exp2(jax.random.normal(k('saturation'), (batch,)) * SATURATION_STD), 1.0)
    c = (vv + (eye - vv) * s[:, None, None]) @ c
  return c


def _rotate_about(v, theta):
  """[B, 4, 4]: rotation by theta about the unit axis v (Rodrigues' formula)."""
  cos, sin = jnp.cos(theta)[:, None, None], jnp.sin(theta)[:, None, None]
  cross = jnp.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
  r = cos * jnp.eye(3) + sin * cross + (1 - cos) * jnp.outer(v, v)
  return jnp.zeros((theta.shape[0], 4, 4)).at[:, :3, :3].set(r).at[:, 3, 3].set(1.0)


def apply_color(images, c):
  """C [B, 4, 4] on images [B, H, W, C]: RGB through the 3x4 block; grey through its row mean."""
  if images.shape[-1] == 3:
    return jnp.einsum('bij,bhwj->bhwi', c[:, :3, :3], images) + c[:, None, None, :3, 3]
  row = c[:, :3, :].mean(1)  # [B, 4]
  return images * row[:, None, None, None, :3].sum(-1) + row[:, None, None, None, 3]


def augment(images, key, p, groups=DEFAULT_GROUPS):
  """The ADA pipeline at probability p (a scalar, traced) on images [B, H, W, C]."""
  batch, h, w, channels = images.shape
  k = lambda name: streams.stream(key, name)
  if 'blit' in groups or 'geom' in groups:
    images = transform_images(images, geometric_matrix(k('geometric'), batch, p, groups, h, w))
  if 'color' in groups:
    images = apply_color(images, color_matrix(k('color'), batch, p, channels))
  if 'noise' in groups:
    sigma = jnp.abs(jax.random.normal(k('noise/sigma'), (batch, 1, 1, 1))) * NOISE_STD
    sigma = jnp.where(_chance(k('noise/on'), (batch, 1, 1, 1), p), sigma, 0.0)
    images = images + jax.random.normal(k('noise'), images.shape) * sigma
  if 'cutout' in groups:
    size = jnp.where(_chance(k('cutout/on'), (batch, 1, 1, 1), p), CUTOUT_SIZE, 0.0)
    centre = jax.random.uniform(k('cutout'), (batch, 2, 1, 1))
    xs = (jnp.arange(w) + 0.5) / w
    ys = (jnp.arange(h) + 0.5) / h
    outside = ((jnp.abs(xs[None, None, :] - centre[:, 0]) >= size[..., 0] / 2)
               | (jnp.abs(ys[None, :, None] - centre[:, 1]) >= size[..., 0] / 2))
    images = images * outside[..., None]
  return images


# --- The adaptive p: r_t = E[sign(D(x_real))] over ada_interval steps, p moved toward the target.

def init_state(p: float) -> dict:
  """ADA's part of the train state: p, the sum and count of sign(D(real)) since the last
  adjustment, and the last r_t."""
  zero = jnp.zeros((), jnp.float32)
  return {'p': jnp.asarray(p, jnp.float32), 'sign_sum': zero, 'sign_count': zero, 'rt': zero}


def update_state(state: dict, real_scores, step, target: float, interval: int, kimg: float):
  """Accumulates sign(D(real)) of this step; after every `interval` steps (step counted from 0
  before the step), r_t = mean sign and p += sign(r_t - target) * images / (kimg * 1000), at
  least 0 (stylegan2-ada: p moves by 1 in kimg thousand real images shown to D). target <= 0:
  fixed p (r_t still measured)."""
  scores = jax.lax.stop_gradient(jnp.concatenate([jnp.ravel(s) for s in real_scores]))
  sign_sum = state['sign_sum'] + jnp.sum(jnp.sign(scores))
  sign_count = state['sign_count'] + scores.size
  due = (step + 1) % interval == 0
  rt = sign_sum / jnp.maximum(sign_count, 1.0)
  p = state['p']
  if target > 0:
    p = jnp.where(due, jnp.maximum(p + jnp.sign(rt - target) * sign_count / (kimg * 1000), 0.0), p)
  zero = jnp.zeros((), jnp.float32)
  return {'p': p, 'sign_sum': jnp.where(due, zero, sign_sum),
          'sign_count': jnp.where(due, zero, sign_count), 'rt': jnp.where(due, rt, state['rt'])}
