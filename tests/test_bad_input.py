"""Bad input a careless user gives, each refused early with a message saying what was wrong and
how to fix it: config arguments and files, values that only fail after compiling, labels outside
the classes, states and steps that cannot fit the devices."""

import math
import os

import jax
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import data
from gan_jax import loop
from gan_jax import memory
from gan_jax import train
from gan_jax.data import sources
from tests.conftest import CONFIGS
from tests.helpers import load_config, small


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_every_config_refuses_an_argument_it_does_not_take(path):
  with pytest.raises(configuration.ConfigError, match=rf'configs/{path.name}:bogus: .*'
                     rf'(takes no argument|takes \'.*\')'):
    configuration.from_file(path, 'bogus')
  configuration.validate(configuration.from_file(path))  # Without an argument: its default.


def test_config_files_that_cannot_load_are_named(tmp_path):
  broken = tmp_path / 'broken.py'
  broken.write_text('def get_config(arg=""):\n  return (\n')
  with pytest.raises(configuration.ConfigError, match='does not parse: line 2'):
    configuration.from_file(broken)
  with pytest.raises(configuration.ConfigError, match='no such file'):
    configuration.from_file(tmp_path / 'absent.py')
  empty = tmp_path / 'empty.py'
  empty.write_text('x = 1\n')
  with pytest.raises(configuration.ConfigError, match='has no get_config'):
    configuration.from_file(empty)


def test_overrides_of_keys_the_config_does_not_have_name_the_closest():
  config = load_config('dcgan.py')
  configuration.check_override_keys(config, ['batch_size', 'generator.width', 'evals.every'])
  with pytest.raises(configuration.ConfigError, match="--config.generator.widht: config.generator "
                     "has no key 'widht'; did you mean 'width'?"):
    configuration.check_override_keys(config, ['generator.widht'])
  with pytest.raises(configuration.ConfigError, match="the config has no key 'bogus'"):
    configuration.check_override_keys(config, ['bogus'])


def _error(**overrides):
  config = load_config('dcgan.py')
  for key, value in overrides.items():
    target = config
    *parents, leaf = key.split('__')
    for parent in parents:
      target = target[parent]
    target[leaf] = value
  with pytest.raises(configuration.ConfigError) as info:
    configuration.validate(config)
  return str(info.value)


def test_values_that_would_only_fail_after_compiling_are_refused():
  assert 'config.g_optimizer.learning_rate=inf' in _error(g_optimizer__learning_rate=math.inf)
  assert 'config.d_optimizer.b1=1.0 is not allowed: optax.adam takes b1 in [0, 1)' in _error(
      d_optimizer__b1=1.0)
  assert 'config.g_optimizer.b2=-0.1' in _error(g_optimizer__b2=-0.1)
  assert 'config.gp_weight=nan' in _error(gp_weight=math.nan)
  assert 'config.total_steps=2147483648' in _error(total_steps=2**31)
  assert 'config.image_size=0' in _error(image_size=0)
  assert 'config.num_sample_images=100000' in _error(num_sample_images=100_000)
  config = load_config('sngan.py', image_size=30)
  with pytest.raises(configuration.ConfigError, match='config.image_size=30'):
    configuration.validate(config)


def test_periodic_evaluation_counts_are_checked_before_training():
  message = _error(evals__every=10, evals__metrics='fid,pr', evals__features='x.npz',
                   evals__num_samples=1)
  assert 'config.evals.num_samples=1 is too few samples for fid (at least 2), pr (at least 4)' \
      in message


def _npz(tmp_path, labels):
  path = tmp_path / 'labelled.npz'
  np.savez(path, images=np.zeros((len(labels), 8, 8), np.uint8), labels=labels)
  return f'npz:{path}'


def _cgan(dataset):
  return small(load_config('cgan.py'), dataset=dataset, image_size=8)


def test_every_label_is_checked_in_its_own_dtype(tmp_path):
  # Valid labels on the 2,000 records a check of a sample spread over the data would read, 57 on
  # the other 6,000 (before, such a file trained with all-zero one-hot labels).
  labels = np.full(8000, 57)
  sampled = np.linspace(0, 7999, 2000).astype(int)
  labels[sampled] = np.arange(2000) % 10
  with pytest.raises(configuration.ConfigError, match='6000 of the 8000 labels .* lie outside '
                     '0..9 .found 0..57, e.g. record 1.'):
    data.make_pipeline(_cgan(_npz(tmp_path, labels)))
  with pytest.raises(data.DatasetError, match='are not class indices .found 3..4294967299'):
    data.make_pipeline(_cgan(_npz(tmp_path, np.array([2**32 + 3, 3] * 8, np.int64))))
  with pytest.raises(data.DatasetError, match='not class indices .found -5..4.*remap them'):
    data.make_pipeline(_cgan(_npz(tmp_path, np.arange(-5, 5).repeat(2))))
  with pytest.raises(configuration.ConfigError, match='no records of classes \\[5, 6, 7, 8, 9\\]'):
    data.make_pipeline(_cgan(_npz(tmp_path, np.arange(5).repeat(4))))


def test_a_batch_larger_than_the_data_names_the_batch(tmp_path):
  one = tmp_path / 'one.npz'
  np.savez(one, images=np.zeros((1, 8, 8), np.uint8))
  with pytest.raises(configuration.ConfigError, match='config.batch_size=8 is more than the 1 '
                     'records .* lower batch_size to at most 1'):
    data.make_pipeline(_plain(dataset=f'npz:{one}', batch_size=8, image_size=8))
  with pytest.raises(configuration.ConfigError, match='config.batch_size=1000000000 is more'):
    data.make_pipeline(_plain(batch_size=10**9))


def _plain(**overrides):
  config = configuration.base_config()
  config.update(overrides)
  return config


@pytest.mark.parametrize('text,message', [
    ('not a zip file', "is not an .npz file .it starts with b'not a '"),
    ('', 'is empty'),
])
def test_files_that_are_not_npz_say_so(tmp_path, text, message):
  path = tmp_path / 'data.npz'
  path.write_text(text)
  with pytest.raises(data.DatasetError, match=message):
    sources.load_source(f'npz:{path}')


def test_a_state_that_cannot_fit_is_refused_before_it_is_made(tmp_path, monkeypatch):
  def refuse(*args, **kwargs):
    raise AssertionError('allocated or compiled before the size check')
  monkeypatch.setattr(loop.sharding, 'create_state', refuse)
  monkeypatch.setattr(loop, 'compile_step', refuse)
  with pytest.raises(configuration.ConfigError, match=r'the train state needs [\d.]+ GB per '
                     r'device \([\d,]+ numbers'):
    train.train_and_evaluate(_plain(image_size=4096, total_steps=1), str(tmp_path))
  assert not os.path.exists(tmp_path / 'checkpoints')


def test_a_step_that_cannot_fit_is_refused_before_it_runs(tmp_path, monkeypatch):
  """XLA's memory plan of the compiled step (activations included) against the devices' memory:
  here a memory of 3x the state, which the small DCGAN's state fits and its step does not."""
  config = small(load_config('dcgan.py'), total_steps=2, batch_size=64)
  state_bytes = {}
  real_check = memory.check_state_fits

  def remember(abstract, batch_bytes=0):
    state_bytes['n'] = real_check(abstract, batch_bytes)
    return state_bytes['n']

  monkeypatch.setattr(memory, 'check_state_fits', remember)
  monkeypatch.setattr(memory, 'device_memory', lambda: (3 * state_bytes.get('n', 10**12),
                                                        'a test budget'))
  with pytest.raises(configuration.ConfigError, match=r'one train step needs [\d.]+ .B per device '
                     r'.* activations and other temporaries [\d.]+ .B, by XLA.s memory plan\), more '
                     r'than a test budget'):
    train.train_and_evaluate(config, str(tmp_path))
  assert not os.listdir(tmp_path / 'checkpoints')  # Nothing trained, nothing saved.
  assert jax.devices()  # The process is fine.

