"""Damaged checkpoints: the newest one that restores is used (the damaged ones moved aside with a
warning), or a clear error when none does."""

import os
import pathlib

import pytest

from gan_jax import checkpointing
from gan_jax import train
from tests.helpers import load_config, small


def _config(total_steps):
  return small(load_config('dcgan.py'), total_steps=total_steps, log_every=2,
               checkpoint_every=2, sample_every=100)


def _damage(step_dir: pathlib.Path):
  """Overwrites the array data of a checkpoint with garbage (a disk error, a foreign write)."""
  files = [p for p in (step_dir / 'state').rglob('*') if p.is_file() and p.stat().st_size > 0
           and 'd' in p.relative_to(step_dir / 'state').parts[:1]]
  assert files
  for path in files:
    path.write_bytes(b'\x00garbage' * 10)


def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
  train.train_and_evaluate(_config(4), str(tmp_path))
  _damage(tmp_path / 'checkpoints' / '4')
  state = train.train_and_evaluate(_config(6), str(tmp_path))
  assert int(state.step) == 6
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '4', '6']  # 4 written again.
  assert os.listdir(tmp_path / checkpointing.DAMAGED) == ['4']


def test_no_restorable_checkpoint_is_a_clear_error(tmp_path):
  train.train_and_evaluate(_config(2), str(tmp_path))
  _damage(tmp_path / 'checkpoints' / '2')
  with pytest.raises(checkpointing.CheckpointError, match=r'No checkpoint in .* can be restored: '
                     r'step 2: .*Move the damaged step folders away'):
    train.train_and_evaluate(_config(4), str(tmp_path))
  assert os.listdir(tmp_path / 'checkpoints') == ['2']  # Nothing deleted.
