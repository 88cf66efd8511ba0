"""Conditional GANs: concatenation, projection + conditional batch norm, AC-GAN; sampling by label."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import data
from gan_jax import models
from gan_jax import sample as sample_lib
from gan_jax.games import gan_game
from gan_jax.games import gan_step
from gan_jax import train
from gan_jax.evaluation import metrics
from tests.helpers import load_config, small
from tests.test_train import _run


def _labels(n, k=10):
  return jnp.arange(n) % k


def _perturbed(params, scale=0.1):
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(7), len(leaves))
  return jax.tree.unflatten(tree, [p + scale * jax.random.normal(k, p.shape)
                                   for p, k in zip(leaves, keys)])


@pytest.mark.parametrize('conditioning', ['concat', 'projection', 'acgan'])
def test_dcgan_players_depend_on_the_label(conditioning):
  g = models.build_generator({'name': 'dcgan', 'width': 8}, (16, 16, 1), num_classes=10,
                             conditioning=conditioning)
  d = models.build_discriminator({'name': 'dcgan', 'width': 8}, num_classes=10,
                                 conditioning=conditioning)
  z = jnp.tile(jax.random.normal(jax.random.key(0), (1, 100)), (4, 1))  # One z, four labels.
  g_vars = g.init(jax.random.key(1), z, _labels(4), train=False)
  # Conditional batch norm starts as plain batch norm (scale 1, shift 0 for every class).
  g_vars = {**g_vars, 'params': _perturbed(g_vars['params'])}
  images = g.apply(g_vars, z, _labels(4), train=False)
  assert images.shape == (4, 16, 16, 1)
  assert float(jnp.min(jnp.abs(images[0] - images[1:]).max(axis=(1, 2, 3)))) > 1e-4
  d_vars = d.init(jax.random.key(2), images, _labels(4), train=False)
  same_images = jnp.tile(images[:1], (4, 1, 1, 1))
  out = d.apply(d_vars, same_images, _labels(4), train=False)
  if conditioning == 'acgan':  # D's score ignores y; its class head predicts it.
    logits, class_logits = out.score, out.class_logits
    assert class_logits.shape == (4, 10)
    np.testing.assert_allclose(logits, logits[0], rtol=1e-6)
  else:
    assert out.score.shape == (4,) and float(jnp.std(out.score)) > 1e-6


def test_conditional_batch_norm_scales_and_shifts_per_class():
  cbn = models.layers.ConditionalBatchNorm(num_classes=3, train=True)
  x = jax.random.normal(jax.random.key(0), (6, 5))
  variables = cbn.init(jax.random.key(1), x, _labels(6, 3))
  params = jax.tree.map(lambda p: p, variables['params'])
  params['scale']['embedding'] = jnp.array([[1.0] * 5, [2.0] * 5, [3.0] * 5])
  params['bias']['embedding'] = jnp.array([[0.0] * 5, [1.0] * 5, [2.0] * 5])
  y, _ = cbn.apply({**variables, 'params': params}, x, _labels(6, 3), mutable=['batch_stats'])
  normalised = (x - x.mean(0)) / jnp.sqrt(x.var(0) + 1e-5)
  expected = normalised * (1.0 + _labels(6, 3)[:, None]) + _labels(6, 3)[:, None]
  np.testing.assert_allclose(y, expected, atol=1e-4)


def test_labels_of_codes_are_uniform_and_explicit_labels_win():
  config = small(load_config('cgan.py'))
  gan = gan_game.build_gan(config, (16, 16, 1))
  codes = gan.latents(jax.random.key(0), 20_000)
  counts = np.bincount(np.asarray(gan.labels_of(codes)), minlength=10) / 20_000
  np.testing.assert_allclose(counts, 0.1, atol=0.01)
  state = jax.jit(gan.init)(jax.random.key(0))
  same_code = jnp.tile(codes[:1], (2, 1))
  a = gan.sample(state, same_code, jnp.array([3, 3]))
  b = gan.sample(state, same_code, jnp.array([3, 7]))
  np.testing.assert_array_equal(a[0], b[0])
  assert not np.allclose(a[1], b[1])


def test_acgan_discriminator_learns_the_classes():
  """AC-GAN's class loss trains D's class head: after 80 steps on 8x8 digits (10 classes) D's
  accuracy on the real batch is far above chance."""
  config = small(load_config('acgan.py'), image_size=8, batch_size=64)
  config.generator.width = config.discriminator.width = 16
  pipeline = data.make_pipeline(config)
  gan = gan_game.build_gan(config, pipeline.data_shape)
  state = jax.jit(gan.init)(jax.random.key(0))
  train_step = jax.jit(gan_step.make_train_step(gan))
  accuracies = []
  for _ in range(80):
    state, step_metrics = train_step(state, next(pipeline.iterator))
    accuracies.append(float(step_metrics['d_class_accuracy']))
  assert np.mean(accuracies[:3]) < 0.3 and np.mean(accuracies[-10:]) > 0.6, accuracies


def test_conditional_configs_are_checked_before_training(tmp_path):
  with pytest.raises(configuration.ConfigError, match='num_classes'):
    configuration.validate(small(load_config('cgan.py'), num_classes=0))
  with pytest.raises(configuration.ConfigError, match='conditioning'):
    configuration.validate(small(load_config('cgan.py'), conditioning='film'))
  with pytest.raises(configuration.ConfigError, match="implements \\['none', 'concat', 'acgan'\\]"):
    configuration.validate(load_config('gan_toy2d.py:ring8', conditioning='projection',
                                       num_classes=8))
  # Labels out of range, and data without labels, are refused before anything is written.
  with pytest.raises(configuration.ConfigError, match='set num_classes to 10'):
    train.train_and_evaluate(small(load_config('cgan.py'), num_classes=5), str(tmp_path / 'a'))
  with pytest.raises(data.sources.DatasetError, match='need labels'):
    train.train_and_evaluate(load_config('gan_toy2d.py:ring8', conditioning='concat',
                                         num_classes=8), str(tmp_path / 'b'))
  assert not os.path.exists(tmp_path / 'a' / 'checkpoints')


def test_label_agreement():
  logits = np.eye(3)[[0, 1, 2, 0, 1, 1]]
  result = metrics.label_agreement(logits, np.array([0, 1, 2, 0, 1, 2]))
  assert result == {'label_agreement': 5 / 6, 'label_agreement_worst': 0.5}


def test_sample_command_line_writes_the_labels_asked_for(tmp_path):
  workdir = str(tmp_path / 'cgan')
  train.train_and_evaluate(small(load_config('cgan.py'), total_steps=2), workdir)
  output = str(tmp_path / 's.npz')
  _run('gan_jax.sample', f'--workdir={workdir}', '--num_samples=7', '--labels=2,5',
       f'--output={output}')
  with np.load(output) as f:
    assert f['samples'].shape == (7, 16, 16, 1)
    np.testing.assert_array_equal(f['labels'], [2, 5, 2, 5, 2, 5, 2])
  gan, state = sample_lib.load_generator(workdir)
  samples, labels = sample_lib.generate(gan, state, 12, seed=0,
                                        labels=sample_lib.parse_labels('all', 10))
  assert samples.shape == (12, 16, 16, 1)
  np.testing.assert_array_equal(labels, np.arange(12) % 10)
  with np.load(output) as f:  # The command line gives the Python API's samples.
    np.testing.assert_allclose(
        f['samples'], sample_lib.generate(gan, state, 7, seed=0, labels=[2, 5])[0], atol=1e-6)


def test_labels_flag_is_checked():
  assert sample_lib.parse_labels('3,0', 10) == [3, 0]
  with pytest.raises(ValueError, match='not classes of this run'):
    sample_lib.parse_labels('3,12', 10)
  with pytest.raises(ValueError, match='comma-separated integers'):
    sample_lib.parse_labels('three', 10)
  with pytest.raises(ValueError, match='needs a conditional GAN'):
    sample_lib.parse_labels('all', 0)
