"""The trainer end to end: outputs in the workdir, bitwise-exact resume, the two command lines."""

import json
import os
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import reporting
from gan_jax import sample as sample_lib
from gan_jax import train
from gan_jax.games import gan_step
from tests.helpers import REPO, load_config, small


def _digits_config(**overrides):
  settings = dict(total_steps=6, checkpoint_every=3, log_every=2, sample_every=3)
  settings.update(overrides)
  return small(load_config('dcgan.py'), **settings)


def test_resume_is_bitwise_exact_and_the_workdir_is_complete(tmp_path):
  uninterrupted = train.train_and_evaluate(_digits_config(), str(tmp_path / 'a'))
  # The same run stopped after step 3, then started again with the same command to step 6.
  stopped = train.train_and_evaluate(_digits_config(total_steps=3), str(tmp_path / 'b'))
  assert int(stopped.step) == 3
  resumed = train.train_and_evaluate(_digits_config(), str(tmp_path / 'b'))
  assert int(resumed.step) == 6
  leaves_a = jax.tree.leaves(jax.device_get(uninterrupted))
  leaves_b = jax.tree.leaves(jax.device_get(resumed))
  for a, b in zip(leaves_a, leaves_b, strict=True):
    np.testing.assert_array_equal(a, b)

  workdir = tmp_path / 'a'
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['3', '6']
  assert sorted(os.listdir(workdir / 'samples')) == ['step_0000003.png', 'step_0000006.png']
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(workdir / 'tensorboard'))
  records = [json.loads(line) for line in open(workdir / 'metrics.jsonl')]
  assert [r['step'] for r in records] == [2, 4, 6]
  assert all(np.isfinite(r['g_loss']) and r['images_per_sec'] > 0 for r in records)
  # A finished run rerun does nothing and changes nothing.
  again = train.train_and_evaluate(_digits_config(), str(workdir))
  np.testing.assert_array_equal(jax.tree.leaves(jax.device_get(again))[0], leaves_a[0])


def test_keeps_only_the_last_checkpoints(tmp_path):
  train.train_and_evaluate(_digits_config(total_steps=4, checkpoint_every=1, keep_checkpoints=2),
                           str(tmp_path))
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['3', '4']


def _run(module, *args, check=True):
  env = dict(os.environ, PYTHONPATH=str(REPO))
  result = subprocess.run([sys.executable, '-m', module, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
  if check:
    assert result.returncode == 0, result.stderr[-3000:]
  return result


def test_command_lines_train_and_sample(tmp_path):
  workdir = str(tmp_path / 'ring8')
  _run('gan_jax.main', '--config=configs/gan_toy2d.py:ring8', f'--workdir={workdir}',
       '--config.total_steps=30', '--config.batch_size=64', '--config.log_every=10',
       '--config.checkpoint_every=15', '--config.sample_every=30',
       '--config.generator.hidden=(32,32)')
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['15', '30']
  records = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  assert any('eval/modes_covered' in r for r in records)  # 2-D runs report mode coverage.

  outputs = []
  for name, seed in (('a', 3), ('b', 3), ('c', 4)):
    path = str(tmp_path / f'{name}.npz')
    _run('gan_jax.sample', f'--workdir={workdir}', '--num_samples=10', f'--output={path}',
         f'--seed={seed}')
    outputs.append(np.load(path)['samples'])
  assert outputs[0].shape == (10, 2) and outputs[0].dtype == np.float32
  np.testing.assert_array_equal(outputs[0], outputs[1])
  assert not np.array_equal(outputs[0], outputs[2])
  # The same samples as the Python API with the EMA generator.
  gan, state = sample_lib.load_generator(workdir)
  assert 'ema' in state.extras
  np.testing.assert_allclose(sample_lib.generate(gan, state, 10, seed=3)[0], outputs[0], atol=1e-6)


def test_sample_grids_have_a_grey_gap_between_tiles():
  tiles = np.ones((6, 4, 4, 1), np.float32)  # White tiles: every gap pixel stands out.
  grid = reporting.image_grid(tiles, min_width=1, columns=3)
  assert grid.shape == (2 * 4 + 3 * 2, 3 * 4 + 4 * 2, 1)  # 2 px around and between the tiles.
  assert set(np.unique(grid[2:6, 2:6])) == {255}
  gaps = np.ones(grid.shape[:2], bool)
  for r in range(2):
    for c in range(3):
      gaps[2 + 6 * r:6 + 6 * r, 2 + 6 * c:6 + 6 * c] = False
  assert set(np.unique(grid[gaps])) == {reporting.GRID_GAP_VALUE}
  assert reporting.image_grid(tiles, min_width=512).shape[1] >= 512  # Scaled by pixel repetition.


def test_sample_from_images_run(tmp_path):
  train.train_and_evaluate(_digits_config(total_steps=2), str(tmp_path))
  gan, state = sample_lib.load_generator(str(tmp_path))
  samples, _ = sample_lib.generate(gan, state, 5, seed=0)
  assert samples.shape == (5, 16, 16, 1) and np.abs(samples).max() <= 1.0


@pytest.mark.parametrize('flag,message', [
    ('--config.not_a_key=1', 'not_a_key'),
    ('--config.loss=wasserstien', "config.loss='wasserstien' is not allowed"),
    ('--config.batch_size=12', 'divisible by the 8 devices'),
    ('--config.image_size=30', 'config.image_size=30'),
    ('--config.total_steps=0', 'config.total_steps=0 is not allowed'),
    ('--config.dataset=npz:/no/such/file.npz', "no file at '/no/such/file.npz'"),
    ('--config.bogus=1', "--config.bogus: the config has no key 'bogus'"),
    ('--config.batch_size=1e9', 'config.batch_size is of type int'),
    ('--config=configs/dcgan.py:bogus', "unknown argument 'bogus'; configs/dcgan.py takes 'plain' or"),
])
def test_command_line_rejects_bad_configs_before_training(tmp_path, flag, message):
  result = _run('gan_jax.main', '--config=configs/dcgan.py', f'--workdir={tmp_path}', flag,
                check=False)
  assert result.returncode == 2
  assert message in result.stderr, result.stderr[-2000:]
  assert 'Traceback' not in result.stderr, result.stderr[-2000:]  # One line, not a traceback.
  assert not os.path.exists(tmp_path / 'checkpoints')


def test_bad_config_does_not_touch_an_existing_run(tmp_path):
  train.train_and_evaluate(_digits_config(total_steps=3), str(tmp_path))
  before = sorted(os.listdir(tmp_path / 'checkpoints'))
  with pytest.raises(configuration.ConfigError, match='gp_weight'):
    train.train_and_evaluate(_digits_config(gradient_penalty='r1', gp_weight=-1.0,
                                            discriminator={'name': 'dcgan', 'norm': 'none',
                                                           'width': 8}), str(tmp_path))
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == before


def _error(**overrides):
  config = load_config('dcgan.py')
  config.update(overrides)
  with pytest.raises(configuration.ConfigError) as info:
    configuration.validate(config, num_data_shards=1)
  return str(info.value)


def test_validation_messages_name_key_value_and_choices():
  assert "choose one of ['hinge', 'least_squares'" in _error(loss='foo')
  assert 'label smoothing applies to the cross-entropy losses' in _error(
      loss='hinge', label_smoothing=0.1)
  assert "use 'layer' or 'none'" in _error(gradient_penalty='wgan_gp')
  assert "config.gradient_penalty='l2'" in _error(gradient_penalty='l2')
  assert 'config.weight_clip=-1' in _error(weight_clip=-1.0)
  assert 'config.ema_decay=1.0' in _error(ema_decay=1.0)
  assert "optax.adam does not take" in _error(g_optimizer={'name': 'adam', 'learning_rate': 1e-3,
                                                          'beta1': 0.5})
  assert "config.d_optimizer.name='adagrad'" in _error(d_optimizer={'name': 'adagrad',
                                                                   'learning_rate': 1e-3})
  assert 'config.generator.name' in _error(generator={'name': 'resnet'})
  assert "only the mlp models take" in _error(dataset='ring8')
  assert 'config.n_critic=-2' in _error(n_critic=-2)
  assert "config.lr_schedule='cosine'" in _error(lr_schedule='cosine')
  config = load_config('dcgan.py')
  config.unlock()
  config.extra_key = 1
  with pytest.raises(configuration.ConfigError, match="Unknown config keys \\['extra_key'\\]"):
    configuration.validate(config)


def test_every_config_validates():
  for name in ['dcgan.py', 'gan_minimax.py', 'wgan.py', 'wgan_gp.py', 'lsgan.py', 'hinge.py',
               'r1.py', 'gan_toy2d.py:ring8', 'gan_toy2d.py:grid25', 'cgan.py',
               'cgan.py:projection', 'acgan.py', 'sngan.py', 'sngan.py:projection',
               'mixgan.py:grid25', 'mixgan.py:ring8', 'mixgan.py:dcgan', 'semisup.py']:
    configuration.validate(load_config(name))


def test_steps_per_call_runs_the_same_steps_without_recompiling(tmp_path, monkeypatch):
  """steps_per_call=2 (one lax.scan over 2 batches a call) gives the state of 2 single calls,
  reads the same batches, resumes, and neither step function is traced more than once per run."""
  make_train_step = gan_step.make_train_step

  def counted(gan):  # Each run builds its step afresh; count the traces of this run's.
    chex.clear_trace_counter()
    return chex.assert_max_traces(make_train_step(gan), n=1)

  monkeypatch.setattr(gan_step, 'make_train_step', counted)
  single = train.train_and_evaluate(_digits_config(total_steps=4, checkpoint_every=2, sample_every=2),
                                    str(tmp_path / 'single'))
  config = _digits_config(total_steps=2, checkpoint_every=2, sample_every=2, steps_per_call=2)
  train.train_and_evaluate(config, str(tmp_path / 'scan'))
  scanned = train.train_and_evaluate(_digits_config(total_steps=4, checkpoint_every=2, sample_every=2,
                                                    steps_per_call=2), str(tmp_path / 'scan'))
  assert int(scanned.step) == 4
  for a, b in zip(jax.tree.leaves(jax.device_get(single)), jax.tree.leaves(jax.device_get(scanned)),
                  strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  records = [json.loads(line) for line in open(tmp_path / 'scan' / 'metrics.jsonl')]
  assert [r['step'] for r in records] == [2, 4]


def test_steps_per_call_must_divide_the_intervals():
  assert 'config.log_every=3 is not allowed: it must be a multiple of steps_per_call=2' in _error(
      steps_per_call=2, log_every=3)
  assert 'config.evals.every=5' in _error(steps_per_call=2, evals={'every': 5})
  assert "config.compute_dtype='float16'" in _error(compute_dtype='float16')
