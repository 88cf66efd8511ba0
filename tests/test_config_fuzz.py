"""Fuzzing the config validator (hypothesis): any values of the right types for any keys either
pass or raise ConfigError, never another exception, so a bad config always gets a message naming
its key instead of a traceback from deep inside the trainer."""

import hypothesis
import ml_collections
from hypothesis import strategies as st

from gan_jax import configuration
from tests.helpers import load_config

CONFIGS = ['dcgan.py', 'wgan_gp.py', 'gan_toy2d.py:ring8', 'cgan.py', 'sngan.py:projection',
           'mixgan.py:grid25', 'semisup.py', 'pix2pix.py:superres', 'cyclegan.py:digits']
NAMES = ['dcgan', 'sngan', 'mlp', 'resnet', 'unet', 'patch', 'none', 'batch', 'instance', 'layer',
         'adam', 'sgd', 'hinge', 'wgan_gp', 'r1', 'projection', 'concat', 'acgan', '', 'x' * 300,
         'npz:/no/such/file.npz', 'digits', 'ring8', 'grid25', 'colour_digits', 'superres',
         'inpaint', 'paired', 'unpaired', 'rollback', 'stop', 'gan', 'pix2pix', 'cyclegan',
         'linear_decay', 'constant_then_linear_decay', 'fid,kid', 'modes']

def _leaves(tree, prefix=()):
  for key, value in tree.items():
    if isinstance(value, dict):
      yield from _leaves(value, prefix + (key,))
    else:
      yield prefix + (key,), value

def _value_like(value):
  """Values of the same type as a config's value (what ml_collections lets a user set)."""
  if isinstance(value, bool):
    return st.booleans()
  if isinstance(value, int):
    return st.integers(-3, 10**6) | st.sampled_from([0, 1, 2, 3, 7, 8, 16, 28, 32, 64])
  if isinstance(value, float):
    return st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 1.0, -1.0])
  if isinstance(value, str):
    return st.sampled_from(NAMES) | st.text(max_size=12)
  if isinstance(value, tuple):
    return st.lists(st.integers(-2, 64), max_size=3).map(tuple)
  return st.just(value)

@st.composite
def mutated_configs(draw):
  config = load_config(draw(st.sampled_from(CONFIGS))).to_dict()
  leaves = list(_leaves(config))
  for _ in range(draw(st.integers(1, 3))):
    path, value = draw(st.sampled_from(leaves))
    target = config
    for key in path[:-1]:
      target = target[key]
    target[path[-1]] = draw(_value_like(value))
  return ml_collections.ConfigDict(config)

@hypothesis.settings(max_examples=400, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(mutated_configs(), st.sampled_from([1, 8]))
def test_validate_raises_only_config_errors(config, devices):
  try:
    configuration.validate(config, num_data_shards=devices)
  except configuration.ConfigError as e:
    message = str(e)
    assert message.startswith(('config.', 'Unknown', 'Config is')) and len(message) > 30, message

def test_the_fuzz_reaches_both_outcomes():
  """The strategy is not vacuous: unchanged configs pass and an obviously bad one fails."""
  configuration.validate(load_config('dcgan.py'))
  config = load_config('dcgan.py')
  config.batch_size = -1
  try:
    configuration.validate(config)
  except configuration.ConfigError as e:
    assert 'batch_size' in str(e)
  else:
    raise AssertionError('batch_size=-1 passed validation')
