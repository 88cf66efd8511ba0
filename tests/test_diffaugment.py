"""DiffAugment's transforms against explicit per-pixel references, per-sample randomness,
gradients to the input, and a real step of a DCGAN that uses them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import augment
from gan_jax import configuration
from gan_jax import diffaugment
from gan_jax import errors
from gan_jax.games import gan_game, gan_step
from tests.helpers import load_config, small

IMAGES = jax.random.uniform(jax.random.key(0), (6, 16, 16, 3), minval=-1, maxval=1)


def _draws(key, shape, low, high):
  return np.asarray(jax.random.randint(key, shape, low, high))


def test_translation_equals_an_explicit_shift_with_zero_padding():
  key = jax.random.key(1)
  out = np.asarray(diffaugment.translation(IMAGES, key))
  ky, kx = jax.random.split(key)
  ty, tx = _draws(ky, (6, 1, 1), -2, 3), _draws(kx, (6, 1, 1), -2, 3)  # 16 / 8 = 2.
  x = np.asarray(IMAGES)
  expected = np.zeros_like(x)
  for b in range(6):
    for i in range(16):
      for j in range(16):
        si, sj = i + ty[b, 0, 0], j + tx[b, 0, 0]
        if 0 <= si < 16 and 0 <= sj < 16:
          expected[b, i, j] = x[b, si, sj]
  np.testing.assert_array_equal(out, expected)
  assert len({(int(a), int(c)) for a, c in zip(ty.ravel(), tx.ravel())}) > 1  # Per sample.


def test_cutout_zeroes_one_square_of_half_the_side_per_sample():
  key = jax.random.key(2)
  out = np.asarray(diffaugment.cutout(IMAGES, key))
  ky, kx = jax.random.split(key)
  oy, ox = _draws(ky, (6, 1, 1), 0, 17), _draws(kx, (6, 1, 1), 0, 17)  # Side 8: even, + 1.
  x = np.asarray(IMAGES)
  for b in range(6):
    expected = x[b].copy()
    top, left = oy[b, 0, 0] - 4, ox[b, 0, 0] - 4
    expected[max(top, 0):max(top + 8, 0), max(left, 0):max(left + 8, 0)] = 0
    np.testing.assert_array_equal(out[b], expected)


def test_color_transforms_by_their_formulas():
  key = jax.random.key(3)
  u = np.asarray(jax.random.uniform(key, (6, 1, 1, 1)))
  x = np.asarray(IMAGES, np.float64)
  np.testing.assert_allclose(diffaugment.brightness(IMAGES, key), x + u - 0.5, atol=1e-6)
  mean_c = x.mean(axis=3, keepdims=True)
  np.testing.assert_allclose(diffaugment.saturation(IMAGES, key), (x - mean_c) * 2 * u + mean_c,
                             atol=1e-6)
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  np.testing.assert_allclose(diffaugment.contrast(IMAGES, key), (x - mean) * (u + 0.5) + mean,
                             atol=1e-6)


@pytest.mark.parametrize('policy', ['color', 'translation', 'cutout', 'color,translation,cutout'])
def test_gradients_reach_the_input(policy):
  apply = augment.AUGMENTATIONS[policy](None).apply  # DiffAugment reads no config.
  grad = jax.grad(lambda x: jnp.sum(apply(x, jax.random.key(4), {})**2))(IMAGES)
  assert np.all(np.isfinite(grad)) and np.count_nonzero(np.asarray(grad)) > 0.4 * grad.size
  # Same key, same augmentation; another key, another one.
  np.testing.assert_array_equal(apply(IMAGES, jax.random.key(4), {}),
                                apply(IMAGES, jax.random.key(4), {}))
  assert not np.array_equal(apply(IMAGES, jax.random.key(4), {}),
                            apply(IMAGES, jax.random.key(5), {}))


def test_a_dcgan_step_with_diffaugment_and_the_checks():
  config = small(load_config('dcgan.py'), augment='color,translation,cutout')
  configuration.validate(config)
  gan = gan_game.build_gan(config, (16, 16, 1))
  state = jax.jit(gan.init)(jax.random.key(0))
  batch = {'image': jax.random.uniform(jax.random.key(1), (16, 16, 16, 1), minval=-1, maxval=1)}
  state, metrics = jax.jit(gan_step.make_train_step(gan))(state, batch)
  assert int(state.step) == 1 and all(np.isfinite(float(v)) for v in metrics.values())
  config.augment = 'colour'
  with pytest.raises(errors.ConfigError, match=r"config.augment='colour' is not allowed"):
    configuration.validate(config)
  toy = load_config('gan_toy2d.py:ring8')
  toy.augment = 'translation'
  with pytest.raises(errors.ConfigError, match='2-D points'):
    configuration.validate(toy)
