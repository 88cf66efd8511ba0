"""ADA's pipeline (gan_jax/ada.py) against explicit references, its adaptive p, and an ADA run
stopped and resumed against an uninterrupted one."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import ada
from gan_jax import train
from tests.helpers import load_config, small

ALL_GROUPS = ada.GROUPS
# The pipeline as the train step runs it: one compiled program (op-by-op dispatch of its many small
# ops costs the tests more than the ops do).
augment = jax.jit(ada.augment, static_argnums=3)
transform_images = jax.jit(ada.transform_images)


def _images(batch=4, size=16, channels=1, seed=0):
  return jax.random.uniform(jax.random.key(seed), (batch, size, size, channels), minval=-1,
                            maxval=1)


def _smooth(size=32):
  """A band-limited image and its formula (pixel coordinates x = column, y = row)."""
  formula = lambda x, y: np.cos(x / 3.0) * np.sin(y / 4.0 + 0.3)
  y, x = np.mgrid[:size, :size]
  return jnp.asarray(formula(x, y), jnp.float32)[None, ..., None], formula


def _batch(matrix):
  return jnp.asarray(matrix, jnp.float32)[None]


@pytest.mark.parametrize('channels', [1, 3])
def test_identity_at_p_zero(channels):
  """Every group at p = 0, the resampling round trip included, returns the images."""
  x = _images(channels=channels)
  out = augment(x, jax.random.key(1), jnp.float32(0.0), ALL_GROUPS)
  np.testing.assert_allclose(out, x, atol=2e-6)


def test_integer_translation_is_a_shift_with_reflection_padding():
  x = _images()
  moved = transform_images(x[:1], _batch(ada.translate2d(jnp.full((1,), -3.0),
                                                             jnp.full((1,), 2.0))[0]))
  # out[r, c] = in[r + 2, c - 3], reflected at the border (no edge repeat).
  padded = np.pad(np.asarray(x[0, ..., 0]), 4, mode='reflect')
  expected = padded[4 + 2:4 + 2 + 16, 4 - 3:4 - 3 + 16]
  np.testing.assert_allclose(moved[0, ..., 0], expected, atol=2e-6)


@pytest.mark.parametrize('name, matrix', [
    ('rotation by 0.4 rad', ada.rotate2d(jnp.full((1,), 0.4))[0]),
    ('isotropic scaling by 1.3', ada.scale2d(jnp.full((1,), 1 / 1.3), 1 / 1.3)[0]),
    ('anisotropic scaling', ada.scale2d(jnp.full((1,), 0.8), 1.25)[0]),
    ('fractional translation', ada.translate2d(jnp.full((1,), 1.7), -0.6)[0]),
    ('mirror', ada.scale2d(jnp.full((1,), -1.0), 1.0)[0]),
    ('rotation by 90 degrees', ada.rotate2d(jnp.full((1,), math.pi / 2))[0]),
])
def test_geometric_transforms_against_the_transformed_image_formula(name, matrix):
  """out(q) = in(G_inv q) in centre-origin pixel coordinates: compared with the formula of a
  smooth image evaluated at G_inv q, away from the border (where reflection padding differs
  from the formula)."""
  image, formula = _smooth()
  out = np.asarray(transform_images(image, _batch(matrix)))[0, ..., 0]
  centre = (32 - 1) / 2
  y, x = np.mgrid[:32, :32] - centre
  source = np.einsum('ij,jhw->ihw', np.asarray(matrix), np.stack([x, y, np.ones_like(x)]))
  expected = formula(source[0] + centre, source[1] + centre)
  inner = slice(8, 24)
  # sym6 is not a linear-phase filter: resampling through it shifts by a fraction of a pixel
  # (up to 3% of the amplitude at these frequencies where a transform mirrors; a wrong matrix
  # convention is off by the whole amplitude).
  np.testing.assert_allclose(out[inner, inner], expected[inner, inner], atol=0.04, err_msg=name)


def test_blit_draws_signed_permutations_and_whole_pixel_shifts():
  g = ada.geometric_matrix(jax.random.key(0), 512, jnp.float32(1.0), ('blit',), 32, 32)
  np.testing.assert_allclose(g, np.round(g), atol=1e-5)
  np.testing.assert_allclose(np.abs(np.linalg.det(g[:, :2, :2])), 1.0, atol=1e-5)
  assert np.abs(g[:, :2, 2]).max() <= 4 + 1e-5  # 1/8 of 32 px.
  flipped = np.linalg.det(g[:, :2, :2]) < 0
  assert 0.4 < flipped.mean() < 0.6  # A flip, when drawn, is applied half the time.
  identity = ada.geometric_matrix(jax.random.key(0), 64, jnp.float32(0.0), ('blit', 'geom'),
                                  32, 32)
  np.testing.assert_allclose(identity, np.broadcast_to(np.eye(3), (64, 3, 3)), atol=1e-6)


def test_probability_of_each_transform_is_p():
  p = 0.3
  g = ada.geometric_matrix(jax.random.key(3), 4000, jnp.float32(p), ('geom',), 32, 32)
  translated = np.abs(np.asarray(g)[:, :2, 2]).max(1) > 0
  assert abs(translated.mean() - p) < 0.03


def test_color_transforms_against_their_formulas():
  grey = _images(channels=1)
  rgb = _images(channels=3)
  eye = jnp.broadcast_to(jnp.eye(4), (4, 4, 4))
  brightness = eye.at[:, :3, 3].set(0.25)
  np.testing.assert_allclose(ada.apply_color(grey, brightness), grey + 0.25, atol=1e-6)
  contrast = eye.at[:, jnp.arange(3), jnp.arange(3)].set(1.5)
  np.testing.assert_allclose(ada.apply_color(rgb, contrast), rgb * 1.5, atol=1e-6)
  v = jnp.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)
  luma_flip = jnp.broadcast_to(jnp.eye(4) - 2 * jnp.outer(v, v), (4, 4, 4))
  np.testing.assert_allclose(ada.apply_color(grey, luma_flip), -grey, atol=1e-6)
  np.testing.assert_allclose(ada.apply_color(rgb, luma_flip),
                             rgb - 2 * rgb.mean(-1, keepdims=True), atol=1e-6)
  # A hue rotation by 120 degrees about the grey axis moves R to G, G to B, B to R.
  hue = ada._rotate_about(v[:3], jnp.full((4,), 2 * math.pi / 3))  # pylint: disable=protected-access
  np.testing.assert_allclose(ada.apply_color(rgb, hue), jnp.roll(rgb, 1, axis=-1), atol=1e-5)
  # Saturation 0 leaves the grey of each pixel.
  desaturate = jnp.broadcast_to(jnp.outer(v, v).at[3, 3].set(1.0), (4, 4, 4))
  np.testing.assert_allclose(ada.apply_color(rgb, desaturate),
                             jnp.broadcast_to(rgb.mean(-1, keepdims=True), rgb.shape), atol=1e-6)


def test_color_group_on_grey_images_is_affine_per_image_with_flips():
  x = _images(batch=256)
  out = augment(x, jax.random.key(2), jnp.float32(1.0), ('color',))
  flat_x, flat_out = np.asarray(x).reshape(256, -1), np.asarray(out).reshape(256, -1)
  slopes = [np.polyfit(a, b, 1)[0] for a, b in zip(flat_x, flat_out)]
  residual = [np.abs(np.polyval(np.polyfit(a, b, 1), a) - b).max() for a, b in zip(flat_x, flat_out)]
  assert max(residual) < 1e-4
  assert 0.35 < np.mean(np.array(slopes) < 0) < 0.65  # The luma flip negates half of them.


def test_noise_and_cutout():
  x = jnp.ones((64, 16, 16, 1))
  out = np.asarray(augment(x, jax.random.key(4), jnp.float32(1.0), ('cutout',)))
  zeroed = (out == 0).reshape(64, -1).sum(1)
  assert zeroed.max() == 64 and zeroed.min() > 0  # An 8 x 8 square, clipped at the border.
  noisy = np.asarray(augment(x, jax.random.key(5), jnp.float32(1.0), ('noise',))) - 1
  spread = noisy.reshape(64, -1).std(1)
  assert 0.03 < np.median(spread) < 0.12  # |N(0, 0.1^2)|: median 0.067.


def test_gradients_reach_the_input_through_every_op():
  """All five groups at p = 1, composed: an op that stopped gradients would zero them all."""
  x = _images(batch=8, channels=3)
  weights = jax.random.normal(jax.random.key(6), x.shape)
  grad = jax.jit(jax.grad(lambda x: jnp.sum(
      augment(x, jax.random.key(7), jnp.float32(1.0), ALL_GROUPS) * weights)))(x)
  assert np.isfinite(grad).all()
  assert (np.abs(np.asarray(grad)).reshape(8, -1).sum(1) > 0).all()


def test_p_moves_toward_the_target_at_the_papers_speed():
  state = ada.init_state(0.0)
  overfit = [jnp.ones((64,))]  # sign(D(real)) = 1 > target 0.6: more augmentation.
  for step in range(4):
    state = ada.update_state(state, overfit, jnp.int32(step), 0.6, 4, 500.0)
    if step < 3:
      assert float(state['p']) == 0.0
  assert float(state['p']) == pytest.approx(4 * 64 / 500_000)
  assert float(state['rt']) == 1.0 and float(state['sign_count']) == 0.0
  underfit = [-jnp.ones((64,))]
  for step in range(4, 8):
    state = ada.update_state(state, underfit, jnp.int32(step), 0.6, 4, 500.0)
  assert float(state['p']) == 0.0  # Never below 0.
  fixed = ada.update_state(ada.init_state(0.5), overfit, jnp.int32(3), 0.0, 4, 500.0)
  assert float(fixed['p']) == 0.5 and float(fixed['rt']) == 1.0


def test_pipeline_names_are_checked():
  assert ada.parse_pipeline('blit, color') == ('blit', 'color')
  with pytest.raises(ValueError, match="ADA pipeline 'blit,filter'"):
    ada.parse_pipeline('blit,filter')


def test_an_ada_run_stopped_and_resumed_equals_an_uninterrupted_one(tmp_path):
  """p, the r_t accumulator and every parameter, bitwise, after 2 + 2 steps against 4."""
  config = small(load_config('dcgan.py:ada'), total_steps=4, checkpoint_every=2, sample_every=4,
                 log_every=2, image_size=16)
  config.ada.interval, config.ada.kimg, config.ada.p = 2, 0.1, 0.5  # p moves by 0.32 / update.
  config.discriminator.norm = 'none'
  first = config.copy_and_resolve_references()
  first.total_steps = 2
  train.train_and_evaluate(first, str(tmp_path / 'resumed'))
  resumed = jax.device_get(train.train_and_evaluate(config, str(tmp_path / 'resumed')))
  straight = jax.device_get(train.train_and_evaluate(config, str(tmp_path / 'straight')))
  assert int(resumed.step) == 4
  assert float(resumed.extras['ada']['p']) != 0.5  # p was adapted.
  for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight), strict=True):
    np.testing.assert_array_equal(a, b)
  lines = open(tmp_path / 'resumed' / 'metrics.jsonl').read()
  assert '"ada_p"' in lines and '"ada_rt"' in lines
