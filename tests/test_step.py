"""The train step: one real step of every config, sharding over 8 devices, EMA sampling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import sharding
from gan_jax.games import gan_game
from gan_jax.games import gan_step
from tests.conftest import CONFIGS
from tests.helpers import load_config, small

# Stepped in their own test files: sngan.py (test_sngan), mixgan.py (test_mixture), semisup.py
# (test_semisupervised), acgan.py (test_conditional), rpgan.py (test_terms, test_extending), the
# image-to-image configs (test_train_translation).
OWN_TESTS = ('gan_toy2d.py', 'sngan.py', 'mixgan.py', 'semisup.py', 'acgan.py', 'rpgan.py',
             'pix2pix.py', 'cyclegan.py')
CONFIG_NAMES = [p.name for p in CONFIGS if p.name not in OWN_TESTS] + [
    'gan_toy2d.py:ring8', 'gan_toy2d.py:grid25', 'cgan.py:projection', 'mixgan.py:dcgan']


def _setup(config, devices):
  mesh = sharding.make_mesh(devices)
  pipeline = gan_game.make_pipeline(config)
  gan = gan_game.build_gan(config, pipeline.data_shape)
  state = sharding.create_state(gan.init, jax.random.key(config.seed), mesh)
  train_step = sharding.jit_train_step(gan_step.make_train_step(gan), mesh)
  return gan, state, train_step, pipeline, sharding.batch_sharding(mesh)


@pytest.mark.parametrize('name', CONFIG_NAMES)
def test_one_real_step_of_every_config(name):
  config = small(load_config(name))
  gan, state, train_step, pipeline, batch_sharding = _setup(config, jax.devices()[:1])
  before = jax.device_get(state)
  state, metrics = train_step(state, sharding.global_batch(next(pipeline.iterator),
                                                           batch_sharding))
  metrics = jax.device_get(metrics)
  assert int(state.step) == 1
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  assert {'d_loss', 'g_loss', 'd_real', 'd_fake'} <= set(metrics)
  for player in ('generator', 'discriminator'):
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), before.params(player),
                           jax.device_get(state.params(player)))
    assert any(jax.tree.leaves(changed)), f'{player} did not change'
  if config.weight_clip:
    assert max(float(jnp.max(jnp.abs(p))) for p in jax.tree.leaves(state.params('discriminator'))) <= 0.01
  if config.gradient_penalty != 'none':
    assert 'gradient_penalty' in metrics
  if config.d_optimizer.name == 'adam':  # Adam counts its updates: n_critic for D, one for G.
    assert int(state.players['discriminator'].opt_state[0].count) == config.n_critic
    assert int(state.players['generator'].opt_state[0].count) == 1
  samples = gan.sample(state, gan.latents(jax.random.key(0), 4))
  assert samples.shape == (4,) + pipeline.data_shape


def test_one_device_and_eight_devices_agree():
  """Batch split over 8 devices (batch-norm statistics over the global batch) = one device."""
  assert len(jax.devices()) == 8
  config = small(load_config('dcgan.py'), batch_size=32)
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    _, state, train_step, pipeline, batch_sharding = _setup(config, devices)
    for _ in range(3):
      batch = sharding.global_batch(next(pipeline.iterator), batch_sharding)
      state, metrics = train_step(state, batch)
    assert len(batch['image'].sharding.device_set) == len(devices)
    results.append(jax.device_get((state, metrics)))
  (state1, metrics1), (state8, metrics8) = results
  for a, b in zip(jax.tree.leaves(state1), jax.tree.leaves(state8), strict=True):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
  for key in metrics1:
    np.testing.assert_allclose(metrics1[key], metrics8[key], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope='module')
def small_dcgan():
  return _setup(small(load_config('dcgan.py')), jax.devices()[:1])


def test_step_is_deterministic_and_uses_fold_in_of_the_step(small_dcgan):
  gan, state, _, pipeline, _ = small_dcgan
  train_step = jax.jit(gan_step.make_train_step(gan))  # Not donating: state is reused below.
  batch = next(pipeline.iterator)
  out_a = jax.device_get(train_step(state, batch))
  out_b = jax.device_get(train_step(state, batch))
  for a, b in zip(jax.tree.leaves(out_a), jax.tree.leaves(out_b), strict=True):
    np.testing.assert_array_equal(a, b)
  later = jax.device_get(train_step(state.replace(step=jnp.int32(7)), batch))
  assert not np.array_equal(later[0].params('generator')['Dense_0']['kernel'],
                            out_a[0].params('generator')['Dense_0']['kernel'])


def test_ema_tracks_the_generator_and_is_used_for_samples(small_dcgan):
  gan, state, train_step, pipeline, batch_sharding = small_dcgan
  state = jax.tree.map(jnp.copy, state)  # train_step donates its input; keep the fixture's.
  for _ in range(3):  # EMA warm-up: the decay is (1 + t) / (10 + t) for these first steps.
    state, _ = train_step(state, sharding.global_batch(next(pipeline.iterator), batch_sharding))
  kernel = lambda p: np.asarray(p['Dense_0']['kernel'])
  assert not np.array_equal(kernel(state.extras['ema']), kernel(state.params('generator')))
  z = gan.latents(jax.random.key(1), 4)
  ema_samples = gan.sample(state, z)
  raw_samples = gan.sample(state.replace(extras={}), z)
  assert not np.allclose(ema_samples, raw_samples)
  no_ema = gan_game.build_gan(small(load_config('dcgan.py'), ema_decay=0.0), gan.data_shape)
  assert 'ema' not in no_ema.init(jax.random.key(0)).extras


def test_ema_warmup():
  np.testing.assert_allclose(gan_step.ema_decay_at(jnp.int32(0), 0.999), 0.1)
  np.testing.assert_allclose(gan_step.ema_decay_at(jnp.int32(10**6), 0.999), 0.999)


def test_bfloat16_compute_trains_finite_with_float32_state():
  """Mixed precision: bfloat16 layers, float32 parameters, optimizer states and losses."""
  config = small(load_config('dcgan.py'), compute_dtype='bfloat16')
  gan, state, train_step, pipeline, batch_sharding = _setup(config, jax.devices()[:1])
  assert gan.generator.dtype == jnp.bfloat16
  for _ in range(20):
    state, metrics = train_step(state, sharding.global_batch(next(pipeline.iterator),
                                                             batch_sharding))
  metrics = jax.device_get(metrics)
  assert all(np.isfinite(v) and np.asarray(v).dtype == np.float32 for v in metrics.values())
  for leaf in jax.tree.leaves(jax.device_get(state)):
    assert np.all(np.isfinite(leaf))
    assert leaf.dtype in (np.float32, np.int32)
  samples = gan.sample(state, gan.latents(jax.random.key(1), 4))
  assert samples.dtype == jnp.float32 and np.all(np.abs(np.asarray(samples)) <= 1)
