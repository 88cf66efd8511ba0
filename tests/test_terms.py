"""Loss terms: the relativistic objectives and R2 against values computed by hand, lazy
regularisation, named random streams, and the one place D sees images."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import augment
from gan_jax import configuration
from gan_jax import errors
from gan_jax import losses
from gan_jax import runs
from gan_jax import streams
from gan_jax.games import gan_game
from gan_jax.games import gan_step
from gan_jax.games import gan_terms
from tests.helpers import load_config, small

REAL = jnp.array([2.0, -1.0])
FAKE = jnp.array([0.5, -3.0])
softplus = lambda x: np.log1p(np.exp(np.asarray(x, np.float64)))


def test_rpgan_by_hand():
  # Pairs (2, 0.5) and (-1, -3): D pays softplus(fake - real) per pair, G the reverse.
  np.testing.assert_allclose(losses.rpgan_d_loss(REAL, FAKE),
                             (softplus(0.5 - 2.0) + softplus(-3.0 + 1.0)) / 2, rtol=1e-6)
  np.testing.assert_allclose(losses.rpgan_g_loss(REAL, FAKE),
                             (softplus(2.0 - 0.5) + softplus(-1.0 + 3.0)) / 2, rtol=1e-6)
  objective = losses.OBJECTIVES['rpgan']
  assert objective.relativistic and not objective.supports_label_smoothing
  # The loss sees each pair's difference only: shifting both scores changes nothing.
  np.testing.assert_allclose(objective.d_loss(REAL + 7.0, FAKE + 7.0), objective.d_loss(REAL, FAKE),
                             rtol=1e-6)


def test_ragan_by_hand():
  mean_real, mean_fake = 0.5, -1.25  # mean([2, -1]), mean([0.5, -3])
  d = ((softplus(mean_fake - 2.0) + softplus(mean_fake + 1.0)) / 2
       + (softplus(0.5 - mean_real) + softplus(-3.0 - mean_real)) / 2)
  g = ((softplus(mean_real - 0.5) + softplus(mean_real + 3.0)) / 2
       + (softplus(2.0 - mean_fake) + softplus(-1.0 - mean_fake)) / 2)
  np.testing.assert_allclose(losses.ragan_d_loss(REAL, FAKE), d, rtol=1e-6)
  np.testing.assert_allclose(losses.ragan_g_loss(REAL, FAKE), g, rtol=1e-6)


def test_r2_penalises_the_fakes_only():
  """R2 = 1/2 E||grad D(G(z))||^2: on f(x) = ||x||^2 / 2 (gradient x) it is half the mean squared
  norm of the fakes, whatever the reals."""
  critic = lambda x: 0.5 * jnp.sum(x.reshape(x.shape[0], -1)**2, axis=1)
  fake = jnp.array([[3.0, 4.0], [0.0, 1.0]])  # Squared norms 25 and 1.
  for real in (jnp.zeros((2, 2)), 100 * jnp.ones((2, 2))):
    np.testing.assert_allclose(losses.r2_penalty(critic, real, fake), 0.5 * (25 + 1) / 2,
                               rtol=1e-5)
  np.testing.assert_allclose(losses.r1_penalty(critic, fake, jnp.zeros((2, 2))), 6.5, rtol=1e-5)


def test_a_lazy_term_counts_every_kth_update_times_k():
  terms = [gan_terms.Term('every', lambda inputs: inputs * 2.0, 0.5, metric='every'),
           gan_terms.Term('lazy', lambda inputs: inputs * 3.0, 0.1, every=4, metric='lazy')]
  total = jax.jit(lambda count: gan_terms.total(terms, jnp.float32(1.0), count))
  for count in range(1, 9):  # Updates are counted from 1: due at the 4th and the 8th.
    loss, metrics = total(count)
    due = count % 4 == 0
    np.testing.assert_allclose(loss, 1.0 + (4 * 0.1 * 3.0 if due else 0.0), rtol=1e-6)
    np.testing.assert_allclose(metrics['lazy'], 3.0 if due else 0.0)
  # Over k updates the lazy term adds what an every-update term of the same weight adds.
  assert np.isclose(sum(float(total(c)[0]) - 1.0 for c in range(1, 5)), 4 * 0.1 * 3.0)


def test_r1_and_r2_together_as_terms_of_a_real_step():
  config = small(load_config('rpgan.py'))
  assert [t.name for t in gan_terms.d_terms(config)] == ['adversarial', 'r1', 'r2']
  assert [(t.weight, t.every) for t in gan_terms.d_terms(config)][1:] == [(1.0, 4), (1.0, 4)]
  gan = gan_game.build_gan(config, (32, 32, 1))
  state = jax.jit(gan.init)(jax.random.key(0))
  batch = {'image': jax.random.uniform(jax.random.key(1), (8, 32, 32, 1), minval=-1, maxval=1)}
  step = jax.jit(gan_step.make_train_step(gan))
  for _ in range(3):  # D updates 1 to 3: the penalties (every 4) are not due.
    state, metrics = step(state, batch)
    assert float(metrics['d_r1']) == float(metrics['d_r2']) == 0.0
  state, metrics = step(state, batch)  # Update 4: both are computed.
  assert float(metrics['d_r1']) > 0 and float(metrics['d_r2']) > 0


def test_regularizer_keys_are_checked():
  config = load_config('rpgan.py')
  config.regularizers.r1.every = 0
  with pytest.raises(errors.ConfigError, match=r'regularizers.r1.every=0'):
    configuration.validate(config)
  config = load_config('r1.py')
  config.regularizers.r1.weight = 1.0
  with pytest.raises(errors.ConfigError, match='use one of the two'):
    configuration.validate(config)
  config = load_config('dcgan.py')  # Batch norm in D.
  config.regularizers.r2.weight = 1.0
  with pytest.raises(errors.ConfigError, match='discriminator.norm'):
    configuration.validate(config)


def test_named_streams_are_stable_and_distinct():
  key = jax.random.key(0)
  same = [jax.random.key_data(streams.stream(key, 'discriminator/0')) for _ in range(2)]
  np.testing.assert_array_equal(*same)
  names = ['train', 'sample_grid/z', 'evaluation/z', 'discriminator/0', 'discriminator/1',
           'generator', 'z', 'fake_labels', 'real', 'fake', 'penalty', 'augment', 'noise']
  streams.check_distinct(names)
  values = {tuple(np.ravel(jax.random.key_data(streams.stream(key, n)))) for n in names}
  assert len(values) == len(names)
  np.testing.assert_array_equal(jax.random.key_data(streams.step_key(3, 5)),
                                jax.random.key_data(jax.random.fold_in(
                                    streams.seed_stream(3, 'train'), 5)))


def test_every_image_d_sees_passes_the_augmentation(monkeypatch):
  """Reals, fakes and the penalty's inputs all go through config.augment, in both players'
  updates (counted while the step is traced)."""
  seen = []

  def recording(images, key, extras):
    seen.append(images.shape)
    return images

  monkeypatch.setitem(augment.AUGMENTATIONS, 'recording',
                      lambda config: augment.Augmentation(recording))
  config = small(load_config('rpgan.py'), augment='recording')
  config.regularizers.r2.weight = 0.0  # R1 only.
  configuration.validate(config)
  gan = gan_game.build_gan(config, (32, 32, 1))
  state = jax.eval_shape(gan.init, jax.random.key(0))
  batch = {'image': jax.ShapeDtypeStruct((8, 32, 32, 1), jnp.float32)}
  jax.jit(gan_step.make_train_step(gan)).lower(state, batch)
  # D update: reals and fakes (in one call: this D keeps no batch statistics), R1's reals; G
  # update (relativistic): fakes, reals.
  assert seen == [(16, 32, 32, 1)] + [(8, 32, 32, 1)] * 3
  seen.clear()
  jax.jit(gan_step.make_train_step(gan, one_call=False)).lower(state, batch)
  assert seen == [(8, 32, 32, 1)] * 5


def test_a_workdir_of_the_older_state_layout_is_refused(tmp_path):
  """Checkpoints written before the TrainState layout (run_info.json without state_layout):
  training and gan_jax.sample refuse them with what to do, before anything is built."""
  config = load_config('dcgan.py')
  (tmp_path / 'checkpoints' / '4').mkdir(parents=True)
  (tmp_path / runs.CONFIG).write_text(config.to_json_best_effort())
  (tmp_path / runs.RUN_INFO).write_text(json.dumps({'data_shape': [32, 32, 1]}))
  with pytest.raises(errors.WorkdirError, match='older gan_jax.*Train into a new workdir'):
    runs.check_resume(str(tmp_path), config)
  with pytest.raises(errors.WorkdirError, match='older gan_jax'):
    runs.read_run_info(str(tmp_path))
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['4']


def test_scoring_reals_and_fakes_in_one_call_changes_no_value():
  """A D without batch statistics scores [reals; fakes] in one call: the same step as two. (SGD:
  RpGAN's loss does not depend on D's last bias, whose zero gradient comes out as float noise of
  either sign, which Adam would blow up to a full step.)"""
  config = small(load_config('rpgan.py'))
  config.g_optimizer = config.d_optimizer = {'name': 'sgd', 'learning_rate': 0.01}
  gan = gan_game.build_gan(config, (16, 16, 1))
  state = jax.jit(gan.init)(jax.random.key(0))
  batch = {'image': jax.random.uniform(jax.random.key(1), (16, 16, 16, 1), minval=-1, maxval=1)}
  outs = [jax.device_get(jax.jit(gan_step.make_train_step(gan, one_call))(state, batch))
          for one_call in (True, False)]
  for a, b in zip(jax.tree.leaves(outs[0]), jax.tree.leaves(outs[1]), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match='without batch statistics'):
    gan_step.make_train_step(gan_game.build_gan(small(load_config('dcgan.py')), (16, 16, 1)),
                             one_call=True)
