"""Architectures: the standard DCGAN at 32 px, other sizes and channels, the MLPs."""

import jax
import jax.numpy as jnp
import pytest

from gan_jax import configuration, models
from tests.helpers import load_config


def _init(module, x, **kwargs):
  return module.init(jax.random.key(0), x, train=False, **kwargs)


def test_standard_dcgan_32px_shapes():
  """G: z -> 4x4x256 -> 8x8x128 -> 16x16x64 -> 32x32xC; D mirrors it with LeakyReLU(0.2)."""
  g = models.DCGANGenerator(output_shape=(32, 32, 3), width=64)
  z = jnp.zeros((2, 100))
  variables = _init(g, z)
  shapes = {k: v['kernel'].shape for k, v in variables['params'].items() if 'kernel' in v}
  assert shapes == {'Dense_0': (100, 4 * 4 * 256), 'ConvTranspose_0': (4, 4, 256, 128),
                    'ConvTranspose_1': (4, 4, 128, 64), 'ConvTranspose_2': (4, 4, 64, 3)}
  # Batch norm after every layer but the output one; tanh output.
  assert sorted(variables['batch_stats']) == ['BatchNorm_0', 'BatchNorm_1', 'BatchNorm_2']
  images = g.apply(variables, 3 * jax.random.normal(jax.random.key(1), (2, 100)), train=False)
  assert images.shape == (2, 32, 32, 3) and float(jnp.max(jnp.abs(images))) <= 1.0

  d = models.DCGANDiscriminator(width=64)
  d_vars = _init(d, images)
  d_shapes = {k: v['kernel'].shape for k, v in d_vars['params'].items() if 'kernel' in v}
  assert d_shapes == {'Conv_0': (4, 4, 3, 64), 'Conv_1': (4, 4, 64, 128),
                      'Conv_2': (4, 4, 128, 256), 'Dense_0': (4 * 4 * 256, 1)}
  # No batch norm on D's input layer.
  assert sorted(d_vars['batch_stats']) == ['BatchNorm_0', 'BatchNorm_1']
  assert d.apply(d_vars, images, train=False).score.shape == (2,)


@pytest.mark.parametrize('size,channels', [(28, 1), (32, 1), (32, 3), (64, 1), (64, 3)])
def test_dcgan_sizes_and_channels(size, channels):
  g = models.DCGANGenerator(output_shape=(size, size, channels), width=16)
  z = jnp.zeros((3, 8))
  images = g.apply(_init(g, z), z, train=False)
  assert images.shape == (3, size, size, channels)
  d = models.DCGANDiscriminator(width=16)
  assert d.apply(_init(d, images), images, train=False).score.shape == (3,)


def test_dcgan_64px_is_one_stage_deeper():
  g = models.DCGANGenerator(output_shape=(64, 64, 3), width=64)
  params = _init(g, jnp.zeros((1, 100)))['params']
  assert params['Dense_0']['kernel'].shape == (100, 4 * 4 * 512)
  assert len([k for k in params if k.startswith('ConvTranspose')]) == 4


def test_dcgan_init_follows_the_paper():
  """Weights ~ N(0, 0.02)."""
  g = models.DCGANGenerator(output_shape=(32, 32, 1), width=64)
  kernel = _init(g, jnp.zeros((1, 100)))['params']['ConvTranspose_0']['kernel']
  assert abs(float(jnp.std(kernel)) - 0.02) < 0.002


@pytest.mark.parametrize('size', [10, 24, 48, 100, 4, 7])
def test_unbuildable_sizes_are_rejected(size):
  with pytest.raises(ValueError, match='4 \\* 2\\*\\*n or 7 \\* 2\\*\\*n'):
    models.spatial_plan(size)


def test_mlp_players_on_points_and_flat_images():
  g = models.MLPGenerator(output_shape=(2,), hidden=(16, 16))
  z = jnp.ones((5, 2))
  points = g.apply(_init(g, z), z, train=False)
  assert points.shape == (5, 2)
  g_img = models.MLPGenerator(output_shape=(28, 28, 1), hidden=(16,))
  images = g_img.apply(_init(g_img, z), z, train=False)
  assert images.shape == (5, 28, 28, 1) and float(jnp.max(jnp.abs(images))) <= 1.0
  d = models.MLPDiscriminator(hidden=(8,))
  assert d.apply(_init(d, images), images, train=False).score.shape == (5,)


def test_registry_rejects_unknown_names_and_fields():
  with pytest.raises(ValueError, match="config.generator.name='resnet' is unknown"):
    models.build_generator({'name': 'resnet'}, (32, 32, 1))
  with pytest.raises(ValueError, match="does not take"):
    models.build_discriminator({'name': 'dcgan', 'depth': 3})
  d = models.build_discriminator({'name': 'mlp', 'hidden': [4, 4]})  # Lists from JSON configs.
  assert isinstance(d, models.MLPDiscriminator) and d.hidden == (4, 4)


def test_mlp_hidden_widths_must_be_positive():
  """A width of 0 once reached the initializer's division by the fan-in (ZeroDivisionError)."""
  for role in ('generator', 'discriminator'):
    with pytest.raises(configuration.ConfigError,
                       match=r'mlp hidden=\(64, 0\): every hidden width must be a positive'):
      configuration.validate(load_config('gan_minimax.py', **{f'{role}.hidden': (64, 0)}))
