"""pix2pix and CycleGAN train steps: the history pool, real steps, 8 devices = 1 device."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gan_jax import sharding
from gan_jax.games import translation as translation_lib
from gan_jax.models import image_to_image


def _translation(kind, shape_a=(16, 16, 1), shape_b=(16, 16, 3), tx=None, **kwargs):
  if kind == 'pix2pix':
    generator = image_to_image.UNetGenerator(output_channels=0, width=8, num_downs=3)
    discriminator = image_to_image.PatchDiscriminator(width=8, num_layers=1, norm='batch')
  else:
    generator = image_to_image.ResnetGenerator(output_channels=0, width=4, num_blocks=1)
    discriminator = image_to_image.PatchDiscriminator(width=8, num_layers=1)
  tx = optax.adam(2e-4, b1=0.5) if tx is None else tx
  return translation_lib.Translation(kind, generator, discriminator, tx, tx, shape_a, shape_b,
                                     **kwargs)


def _batch(translation, size=8, seed=0):
  rng = np.random.default_rng(seed)
  return {'a': rng.uniform(-1, 1, (size,) + translation.shape_a).astype(np.float32),
          'b': rng.uniform(-1, 1, (size,) + translation.shape_b).astype(np.float32)}


def test_pool_fills_then_swaps_half_the_time():
  query_pool = jax.jit(translation_lib.query_pool)
  pool, count = translation_lib.init_pool(4, (2,))
  first = jnp.arange(3.0).repeat(2).reshape(3, 2)
  pool, count, returned = query_pool(pool, count, first, jax.random.key(0))
  np.testing.assert_array_equal(returned, first)  # Filling: the new images themselves.
  assert int(count) == 3 and np.array_equal(pool[:3], first)
  swapped = 0
  for i in range(200):  # Full pool: each image comes back new or swapped for a stored one.
    new = jnp.full((2, 2), 100.0 + i)
    before = np.asarray(pool)
    pool, count, returned = query_pool(pool, count, new, jax.random.key(i + 1))
    for image in np.asarray(returned):
      if image[0] == 100.0 + i:
        continue
      swapped += 1
      assert any(np.array_equal(image, stored) for stored in before)
  assert int(count) == 4
  assert 150 < swapped < 250  # About half of the 400 queries.
  assert translation_lib.query_pool(*translation_lib.init_pool(0, (2,)), first,
                                    jax.random.key(0))[2] is first


def test_pix2pix_learns_a_paired_map():
  """L1 to the targets falls when G is trained on a fixed batch (y = -x, the inverted image)."""
  translation = _translation('pix2pix', shape_b=(16, 16, 1), tx=optax.adam(2e-3, b1=0.5))
  state = jax.jit(translation.init)(jax.random.key(0))
  step = jax.jit(translation_lib.make_train_step(translation))
  x = _batch(translation)['a']
  batch = {'a': x, 'b': -x}
  l1s = []
  for _ in range(30):
    state, metrics = step(state, batch)
    l1s.append(float(metrics['g_l1']))
  assert l1s[-1] < 0.65 * l1s[0], l1s


def test_identity_loss_needs_equal_channels():
  with pytest.raises(ValueError, match='same channels'):
    _translation('cyclegan', shape_a=(16, 16, 1), shape_b=(16, 16, 3))
  _translation('cyclegan', shape_a=(16, 16, 1), shape_b=(16, 16, 3), identity_weight=0.0)


@pytest.mark.parametrize('kind', translation_lib.KINDS)
def test_real_steps_on_one_and_eight_devices(kind):
  """Every player moves, the pools fill, and a batch split over 8 devices gives the one-device
  step (pix2pix's batch norm: global-batch statistics). SGD, not Adam: the conv biases before
  instance norms have zero gradient, whose float noise Adam would blow up to full-size steps."""
  translation = _translation(kind, shape_a=(16, 16, 3), tx=optax.sgd(0.01))
  batches = [_batch(translation, seed=i) for i in range(2)]
  initial = jax.device_get(jax.jit(translation.init)(jax.random.key(0)))  # Compiled once.
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    mesh = sharding.make_mesh(devices)
    state = jax.device_put(initial, sharding.replicated(mesh))
    step = sharding.jit_train_step(translation_lib.make_train_step(translation), mesh)
    for batch in batches:
      state, metrics = step(state, sharding.global_batch(batch, sharding.batch_sharding(mesh)))
    results.append(jax.device_get((state, metrics)))
  (state, metrics), _ = results
  assert int(state.step) == 2
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  for name in state.players:  # (Biases before an instance norm have no gradient: not all move.)
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(initial.params(name)),
                                                     jax.tree.leaves(state.params(name)))), name
  if kind == 'cyclegan':
    assert set(metrics) >= {'d_a_loss', 'd_b_loss'}
    assert all(int(c) == 16 for c in state.extras['pool_counts'].values())
    total = metrics['g_adversarial'] + 10 * metrics['g_cycle'] + 5 * metrics['g_identity']
  else:
    assert 'd_loss' in metrics
    total = metrics['g_adversarial'] + 100 * metrics['g_l1']
  np.testing.assert_allclose(metrics['g_loss'], total, rtol=1e-5)  # lambda = 10, 100; id 0.5.
  assert translation.translate(state, batches[0]['a'][:2]).shape == (2,) + translation.shape_b
  # Float reassociation of the sharded reductions, amplified by the instance norms of 16 x 16
  # maps over two steps: ~1e-5 here against parameters of ~0.05.
  for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1]), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
