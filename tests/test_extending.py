"""An architecture added from outside gan_jax: two modules and their registration, nothing else
(the README's "Extending gan_jax"). It validates, trains through the one loop, checkpoints,
resumes and samples."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import errors
from gan_jax import models
from gan_jax import sample as sample_lib
from gan_jax import train
from gan_jax.games import gan_game
from gan_jax.games import gan_step
from gan_jax.models.output import DiscriminatorOutput
from tests.helpers import load_config, small


class TinyGenerator(nn.Module):
  """z -> a 4x4 map -> one stride-2 transposed conv per doubling -> tanh images."""
  CONDITIONINGS = ('none',)
  output_shape: tuple = ()
  width: int = 8
  dtype: object = None
  num_classes: int = 0
  conditioning: str = 'none'

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    side, channels = self.output_shape[0], self.output_shape[-1]
    if side % 4 or (side // 4) & (side // 4 - 1):
      raise ValueError(f'TinyGenerator makes 4 * 2**n px images, not {side}.')
    x = nn.Dense(4 * 4 * self.width)(z).reshape(z.shape[0], 4, 4, self.width)
    while x.shape[1] < side:
      x = nn.relu(nn.ConvTranspose(self.width, (4, 4), (2, 2))(x))
    return jnp.tanh(nn.Conv(channels, (3, 3))(x))


class TinyDiscriminator(nn.Module):
  CONDITIONINGS = ('none',)
  width: int = 8
  dtype: object = None
  num_classes: int = 0
  conditioning: str = 'none'

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True):
    x = nn.leaky_relu(nn.Conv(self.width, (4, 4), (2, 2))(x), 0.2)
    features = x.reshape(x.shape[0], -1)
    return DiscriminatorOutput(nn.Dense(1)(features)[:, 0], None, features)


@pytest.fixture
def tiny(monkeypatch):
  monkeypatch.setitem(models.GENERATORS, 'tiny', TinyGenerator)
  monkeypatch.setitem(models.DISCRIMINATORS, 'tiny', TinyDiscriminator)
  config = small(load_config('rpgan.py'), total_steps=4, checkpoint_every=2, sample_every=2,
                 log_every=2, image_size=16)
  # SGD: Adam would blow the float noise of the zero gradient of D's last bias (RpGAN's loss
  # does not depend on it) up to full steps, and the test compares two programs' values.
  config.g_optimizer = config.d_optimizer = {'name': 'sgd', 'learning_rate': 0.01}
  config.generator = {'name': 'tiny', 'width': 8}
  config.discriminator = {'name': 'tiny', 'width': 8}
  return config


def test_a_registered_architecture_trains_resumes_and_samples(tiny, tmp_path):
  """Also: the trainer runs rpgan's lazy penalties (every 4) as one program per phase; stopped at
  step 2 and resumed, it ends where the single step that decides by lax.cond ends."""
  configuration.validate(tiny)
  first = tiny.copy_and_resolve_references()
  first.total_steps = 2  # total_steps may change on resume.
  train.train_and_evaluate(first, str(tmp_path / 'run'))
  resumed = train.train_and_evaluate(tiny, str(tmp_path / 'run'))
  gan = gan_game.build_gan(tiny, (16, 16, 1))
  pipeline = gan_game.make_pipeline(tiny)
  step = jax.jit(gan_step.make_train_step(gan))
  state = jax.jit(gan.init)(jax.random.key(tiny.seed))
  for _ in range(4):
    state, _ = step(state, next(pipeline.iterator))
  assert int(resumed.step) == int(state.step) == 4
  for a, b in zip(jax.tree.leaves(jax.device_get(resumed)), jax.tree.leaves(
      jax.device_get(state)), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  logged = [json.loads(line) for line in open(tmp_path / 'run' / 'metrics.jsonl')]
  assert [r['step'] for r in logged] == [2, 4] and logged[0]['d_r1'] == 0 < logged[1]['d_r1']
  gan, state = sample_lib.load_generator(str(tmp_path / 'run'))
  samples, _ = sample_lib.generate(gan, state, 5, seed=0)
  assert samples.shape == (5, 16, 16, 1)


def test_the_architecture_checks_its_own_fields_and_sizes(tiny):
  tiny.generator.depth = 3
  with pytest.raises(errors.ConfigError, match=r"config.generator has keys \['depth'\] that "
                     'TinyGenerator does not take'):
    configuration.validate(tiny)
  del tiny.generator['depth']
  tiny.image_size = 24
  with pytest.raises(errors.ConfigError, match=r'config.image_size=24 with config.generator=.*'
                     'TinyGenerator makes 4 \\* 2\\*\\*n px images, not 24'):
    configuration.validate(tiny)
