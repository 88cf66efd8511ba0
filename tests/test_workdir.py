"""The workdir contract: checked writable before compiling, locked against a second run, resumed
only with a config that agrees on what defines the run (every segment's config kept), its files
damaged or unwritable refused with a message naming them, a failed save ending the run at once."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from gan_jax import checkpointing
from gan_jax import errors
from gan_jax import loop
from gan_jax import sample as sample_lib
from gan_jax import train
from gan_jax import workdir_lock
from tests.helpers import REPO, load_config, small, wait_until


def _config(**overrides):
  settings = dict(total_steps=2, checkpoint_every=2, log_every=1, sample_every=100)
  settings.update(overrides)
  return small(load_config('dcgan.py'), **settings)


@pytest.fixture
def no_compiling(monkeypatch):
  """Fails the test if anything is compiled (the checks must come before)."""
  def refuse(*args, **kwargs):
    raise AssertionError('compiled before the bad input was refused')
  monkeypatch.setattr(loop.sharding, 'create_state', refuse)
  monkeypatch.setattr(loop, 'compile_step', refuse)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A workdir trained 2 steps of the small DCGAN (checkpoint 2), copied by tests that change it."""
  workdir = tmp_path_factory.mktemp('trained') / 'run'
  train.train_and_evaluate(_config(), str(workdir))
  return workdir


def _copy(workdir, tmp_path):
  target = tmp_path / 'copy'
  subprocess.run(['cp', '-r', str(workdir), str(target)], check=True)
  return target


@pytest.mark.parametrize('make,message', [
    (lambda w: (w.mkdir(), (w / 'checkpoints').write_text('')), 'checkpoints .* is not a '
     'directory'),
    (lambda w: w.write_text(''), 'the workdir. exists but is not a directory'),
    (lambda w: (w.mkdir(), (w / 'metrics.jsonl').mkdir()), 'metrics.jsonl cannot be written'),
])
def test_unwritable_workdirs_are_refused_before_compiling(tmp_path, no_compiling, make, message):
  workdir = tmp_path / 'run'
  make(workdir)
  with pytest.raises(errors.WorkdirError, match=message):
    train.train_and_evaluate(_config(), str(workdir))
  with pytest.raises(errors.WorkdirError, match='is empty'):
    train.train_and_evaluate(_config(), '')
  with pytest.raises(errors.WorkdirError, match='is a URL.*Mount the bucket'):
    train.train_and_evaluate(_config(), 'gs://bucket/run')  # Would be a local folder 'gs:'.


def test_a_failed_save_ends_the_run_at_once_with_a_clear_error(tmp_path):
  """The checkpoint folder becomes unusable mid-run (here: replaced by a file): the next save
  fails and the run exits 2 naming it (before: the save failed in a background thread and the
  main thread waited 300 s, ignoring SIGTERM)."""
  workdir = tmp_path / 'run'
  flags = ['--config=configs/gan_toy2d.py:ring8', f'--workdir={workdir}',
           '--config.total_steps=1000000', '--config.log_every=1', '--config.evals.every=0',
           '--config.checkpoint_every=1', '--config.sample_every=1000000',
           '--config.generator.hidden=(32,32)']
  process = subprocess.Popen([sys.executable, '-m', 'gan_jax.main', *flags], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  checkpoints = workdir / 'checkpoints'
  wait_until(process, lambda: checkpoints.is_dir() and any(p.name.isdigit()
                                                          for p in checkpoints.iterdir()))
  checkpoints.rename(workdir / 'checkpoints_moved')
  checkpoints.write_text('')
  try:
    _, stderr = process.communicate(timeout=90)  # A hang would run into this timeout.
  finally:
    process.kill()
  assert process.returncode == 2, stderr[-3000:]
  errors_printed = [line for line in stderr.splitlines() if line.startswith('error:')]
  assert len(errors_printed) == 1 and 'could not be written' in errors_printed[0], stderr[-3000:]
  assert 'the run stops rather than train on without checkpoints' in errors_printed[0]


def test_a_second_run_into_a_workdir_in_use_is_refused(tmp_path, no_compiling):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  with workdir_lock.Lock(str(workdir)):  # Another run holds the workdir.
    with pytest.raises(errors.WorkdirError, match=f'in use by another training run .pid '
                       f'{os.getpid()} on'):
      train.train_and_evaluate(_config(), str(workdir))
  assert not (workdir / 'checkpoints').exists()


def test_the_lock_of_a_killed_run_is_not_stuck(tmp_path):
  workdir = tmp_path / 'run'
  workdir.mkdir()
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time; from gan_jax import workdir_lock; '
       f'workdir_lock.Lock({str(workdir)!r}).__enter__(); print("locked", flush=True); '
       'time.sleep(300)'],
      cwd=REPO, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'locked'
    with pytest.raises(errors.WorkdirError, match='in use by another training run'):
      with workdir_lock.Lock(str(workdir)):
        pass
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  with workdir_lock.Lock(str(workdir)):  # The kernel released it with the process.
    pass


def test_resuming_with_a_config_that_changes_the_run_is_refused(trained, tmp_path, no_compiling):
  workdir = _copy(trained, tmp_path)
  before = (workdir / 'config.json').read_text()
  with pytest.raises(errors.WorkdirError) as info:
    train.train_and_evaluate(_config(loss='least_squares', seed=7, batch_size=8,
                                     dataset=f'npz:{workdir}/none.npz'), str(workdir))
  message = str(info.value)
  for key in ("loss: 'non_saturating' (trained) -> 'least_squares' (now)", 'seed: 0 (trained) -> 7',
              'batch_size: 16 (trained) -> 8', 'dataset:'):
    assert key in message, message
  assert 'total_steps' in message  # The keys that may change are named too.
  config = _config()
  config.generator.width = 16
  config.latent_dim = 64
  with pytest.raises(errors.WorkdirError, match='generator.width: 8 .trained. -> 16 .now.; '
                     'latent_dim: 100 .trained. -> 64'):
    train.train_and_evaluate(config, str(workdir))
  assert (workdir / 'config.json').read_text() == before  # The first run's config is kept.


def test_resuming_with_changed_intervals_keeps_each_segments_config(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  state = train.train_and_evaluate(_config(total_steps=4, log_every=2, checkpoint_every=4),
                                   str(workdir))
  assert int(state.step) == 4
  segments = [json.loads(line) for line in (workdir / 'segments.jsonl').read_text().splitlines()]
  assert [s['start_step'] for s in segments] == [0, 2]
  assert segments[0]['config']['total_steps'] == 2 and segments[1]['config']['total_steps'] == 4
  assert segments[1]['changed'] == {'checkpoint_every': [2, 4], 'log_every': [1, 2],
                                    'total_steps': [2, 4]}
  assert json.loads((workdir / 'config.json').read_text())['total_steps'] == 4


def test_a_checkpoint_of_another_model_is_not_called_damaged(trained, tmp_path):
  """Without config.json to compare with, the restore itself names the arrays that differ and
  moves nothing (before: every checkpoint was reported as damaged)."""
  workdir = _copy(trained, tmp_path)
  (workdir / 'config.json').unlink()
  config = _config()
  config.discriminator.width = 16
  with pytest.raises(checkpointing.StructureMismatch, match=r'holds another model than this config '
                     r'builds: players.discriminator.batch_stats.BatchNorm_0.mean has shape '
                     r'\(16,\) there, \(32,\) here'):
    train.train_and_evaluate(config, str(workdir))
  assert sorted(os.listdir(workdir / 'checkpoints')) == ['2']
  assert not (workdir / checkpointing.DAMAGED).exists()


@pytest.mark.parametrize('name', ['config.json', 'rollbacks.json', 'run_info.json'])
def test_damaged_workdir_files_are_named(trained, tmp_path, name):
  workdir = _copy(trained, tmp_path)
  (workdir / name).write_text('{"half a file')
  expected = f'{name} .* cannot be read'
  if name != 'run_info.json':  # Training writes run_info.json again; sampling reads it.
    with pytest.raises(errors.WorkdirError, match=expected):
      train.train_and_evaluate(_config(total_steps=4), str(workdir))
  if name != 'rollbacks.json':
    with pytest.raises(errors.WorkdirError, match=expected):
      sample_lib.load_generator(str(workdir))


def test_a_partial_last_line_of_metrics_is_dropped_on_resume(trained, tmp_path):
  workdir = _copy(trained, tmp_path)
  with open(workdir / 'metrics.jsonl', 'a') as f:
    f.write('{"step": 3, "d_lo')  # A kill in the middle of a write.
  train.train_and_evaluate(_config(total_steps=3), str(workdir))
  records = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [r['step'] for r in records] == [1, 2, 3]
  assert np.isfinite(records[-1]['g_loss'])
