"""LeCam and consistency regularisation as D's terms, the seeded training subset, the leak
measure, and the data-efficient configs (configs/dcgan.py:ARG)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import augment, configuration, losses, streams
from gan_jax.evaluation import leak
from gan_jax.games import gan_game, gan_step, gan_terms
from gan_jax.models.output import DiscriminatorOutput
from tests.helpers import load_config, small

DATA_EFFICIENT_ARGS = ('diffaugment', 'ada', 'lecam', 'ada_lecam', 'bcr')


def test_lecam_against_its_formula():
  real, fake = jnp.array([0.5, 2.0, -1.0]), jnp.array([-2.0, 0.3])
  a_real, a_fake = 0.4, -0.2
  expected = (np.mean(np.maximum(np.array([0.5, 2.0, -1.0]) - a_fake, 0)**2)
              + np.mean(np.maximum(a_real - np.array([-2.0, 0.3]), 0)**2))
  assert float(losses.lecam(real, fake, a_real, a_fake)) == pytest.approx(expected, rel=1e-6)


def test_lecam_anchors_are_moving_averages_of_each_d_update():
  tracker = gan_terms.lecam_tracker(0.9)
  value = tracker.init()
  value, metrics = tracker.update(value, [jnp.array([1.0, 3.0]), jnp.array([4.0])],
                                  [jnp.array([-1.0]), jnp.array([0.0, -2.0])], jnp.int32(0))
  real = 0.9 * (0.9 * 0 + 0.1 * 2.0) + 0.1 * 4.0
  fake = 0.9 * (0.9 * 0 + 0.1 * -1.0) + 0.1 * -1.0
  assert float(value['real']) == pytest.approx(real) and float(value['fake']) == pytest.approx(fake)
  assert float(metrics['lecam_anchor_real']) == pytest.approx(real)


def test_consistency_terms_compare_d_on_the_transformed_images():
  config = small(load_config('dcgan.py:bcr'))
  terms = {t.name: t for t in gan_terms.d_terms(config)}
  assert terms['consistency_real'].weight == terms['consistency_fake'].weight == 10.0
  images = jax.random.uniform(jax.random.key(0), (4, 16, 16, 1))
  fakes = -images
  critic = lambda x, labels, name: jnp.mean(x, axis=(1, 2, 3)) * 3.0
  key = jax.random.key(1)
  inputs = gan_terms.DInputs(
      real=DiscriminatorOutput(critic(images, None, ''), None, None),
      fake=DiscriminatorOutput(critic(fakes, None, ''), None, None), real_images=images,
      fake_images=fakes, real_labels=None, fake_labels=None, critic=critic, key=key,
      d_params=None, g_params=None)
  for side, x in (('real', images), ('fake', fakes)):
    moved = augment.consistency_transform(x, streams.stream(key, f'consistency/{side}'))
    expected = np.mean((np.asarray(critic(x, None, '')) - np.asarray(critic(moved, None, '')))**2)
    assert float(terms[f'consistency_{side}'].fn(inputs)) == pytest.approx(expected, rel=1e-5)
    assert expected > 0  # The translation moves pixels off the image: D's mean changes.


def test_consistency_transform_flips_and_shifts_each_image():
  x = jax.random.uniform(jax.random.key(2), (64, 16, 16, 1))
  moved = np.asarray(augment.consistency_transform(x, jax.random.key(3)))
  x = np.asarray(x)
  flipped = 0
  for a, b in zip(x, moved):
    matches = [np.allclose(np.roll(c, (dy, dx), (0, 1))[2:-2, 2:-2], b[2:-2, 2:-2])
               for c in (a, a[:, ::-1]) for dy in range(-2, 3) for dx in range(-2, 3)]
    assert any(matches)
    flipped += not any(matches[:25])
  assert 16 < flipped < 48


@pytest.mark.parametrize('name, arg', [
    ('dcgan.py', 'bcr'), ('cgan.py:projection', 'ada_lecam'),  # A conditional GAN.
    ('gan_minimax.py', 'ada_lecam')])  # The MLP players on images.
def test_data_efficient_configs_take_a_real_step(name, arg):
  if name == 'dcgan.py':
    config = small(load_config(f'dcgan.py:{arg}'))
  else:
    config = small(load_config(name, augment='ada', **{'ada.p': 0.5, 'lecam.weight': 0.3}))
  configuration.validate(config)
  pipeline = gan_game.make_pipeline(config)
  gan = gan_game.build_gan(config, pipeline.data_shape)
  state = jax.jit(gan.init)(jax.random.key(0))
  batch = next(pipeline.iterator)
  state, metrics = jax.jit(gan_step.make_train_step(gan))(state, batch)
  metrics = jax.device_get(metrics)
  assert all(np.isfinite(v) for v in metrics.values())
  if 'lecam' in arg:
    assert float(state.extras['lecam']['real']) == pytest.approx(0.01 * metrics['d_real'],
                                                                 rel=1e-4)
    assert 'd_lecam' in metrics
  if arg == 'bcr':
    assert metrics['d_consistency_real'] > 0 and metrics['d_consistency_fake'] > 0
  if 'ada' in arg:
    assert {'ada_p', 'ada_rt'} <= set(metrics)


def test_every_data_efficient_config_validates():
  for arg in DATA_EFFICIENT_ARGS:
    configuration.validate(load_config(f'dcgan.py:{arg}'))


@pytest.mark.parametrize('overrides, message', [
    ({'ada.p': 0.5}, "ada.p=0.5 is not allowed: it is used by augment='ada' only"),
    ({'augment': 'ada', 'ada.target': 0.0}, 'ADA would never augment'),
    ({'augment': 'ada', 'ada.pipeline': 'blit,filter'}, "ADA pipeline 'blit,filter'"),
    ({'augment': 'ada', 'ada.interval': 0}, 'ada.interval=0'),
    ({'lecam.weight': -1.0}, 'lecam.weight=-1.0'),
    ({'lecam.decay': 1.0}, r'lecam.decay=1.0 is not allowed: it must be in \[0, 1\)'),
    ({'consistency.fake': -2.0}, 'consistency.fake=-2.0'),
    ({'train_subset': -5}, 'train_subset=-5'),
])
def test_bad_values_are_refused_with_the_key(overrides, message):
  with pytest.raises(configuration.ConfigError, match=message):
    configuration.validate(load_config('dcgan.py', **overrides))


@pytest.mark.parametrize('key, value', [('augment', 'ada'), ('lecam.weight', 0.3),
                                        ('consistency.real', 10.0)])
def test_translation_games_say_they_leave_data_efficient_training_out(key, value):
  with pytest.raises(configuration.ConfigError,
                     match="implemented for the GAN game only, not for task='pix2pix'"):
    configuration.validate(load_config('pix2pix.py', **{key: value}))


def test_training_subset_is_fixed_by_its_own_seed(mnist8k_path):
  def seen(seed, subset_seed=0):
    config = small(load_config('dcgan.py'), dataset=f'npz:{mnist8k_path}', train_subset=100,
                   train_subset_seed=subset_seed, seed=seed, batch_size=50, image_size=28)
    iterator = gan_game.make_pipeline(config).iterator
    batches = [next(iterator)['image'] for _ in range(4)]  # Two epochs of 100.
    return {image.tobytes() for batch in batches for image in batch}

  first = seen(seed=0)
  assert len(first) == 100 and seen(seed=1) == first  # The training seed reshuffles only.
  assert seen(seed=0, subset_seed=1) != first
  config = small(load_config('dcgan.py'), dataset=f'npz:{mnist8k_path}', train_subset=9000)
  with pytest.raises(configuration.ConfigError, match='train_subset=9000 is more than the 8000'):
    gan_game.make_pipeline(config)


def test_leak_measure_sees_rotated_mirrored_and_negated_digits(mnist8k_path):
  images = np.load(mnist8k_path)['images'][:3000, ..., None].astype(np.float32) / 127.5 - 1
  reference, real = images[:2500], images[2500:]
  plain = leak.transformed_fractions(real, reference)
  assert plain['geometric'] < 0.25 and plain['negated'] == 0.0
  rotated = leak.transformed_fractions(np.rot90(real, 1, axes=(1, 2)), reference)
  mirrored = leak.transformed_fractions(real[:, :, ::-1], reference)
  negated = leak.transformed_fractions(-real, reference)
  assert rotated['geometric'] > 0.9 and mirrored['geometric'] > 0.85
  assert negated['negated'] > 0.95
  values = leak.augmentation_leak(real, reference)
  assert set(values) == {'leak_geometric', 'leak_negated', 'leak_geometric_real',
                         'leak_negated_real'}


def test_no_augmentation_is_the_identity_and_keeps_no_state():
  augmentation = augment.build(load_config('dcgan.py'))
  x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 1))
  assert augmentation.apply(x, jax.random.key(1), {}) is x and augmentation.trackers == ()
