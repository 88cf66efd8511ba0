"""SIGTERM / SIGINT: a real training process finishes its step, checkpoints it and exits 0; the
same command resumes from that step. kill -9: the rerun resumes from the last complete checkpoint
and ends as if never killed."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from gan_jax import preemption
from gan_jax import train
from tests.helpers import REPO, load_config, wait_until


def test_sigterm_stops_with_a_checkpoint_and_the_run_resumes(tmp_path):
  workdir = tmp_path / 'run'
  flags = ['--config=configs/gan_toy2d.py:ring8', f'--workdir={workdir}',
           '--config.total_steps=1000000', '--config.log_every=1', '--config.evals.every=0',
           '--config.checkpoint_every=1000000', '--config.sample_every=1000000',
           '--config.generator.hidden=(32,32)']
  process = subprocess.Popen([sys.executable, '-m', 'gan_jax.main', *flags], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  metrics = workdir / 'metrics.jsonl'
  wait_until(process, lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 5,
             poll=0.2)
  # Preemption notices often come more than once: later signals, during the final save or
  # before it, must not kill the process and lose the checkpoint the log promises.
  for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4):
    time.sleep(delay)
    if process.poll() is None:
      process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 0, stderr[-3000:]
  checkpoints = os.listdir(workdir / 'checkpoints')
  assert len(checkpoints) == 1 and checkpoints[0].isdigit(), checkpoints  # Complete, no tmp.
  stopped = int(checkpoints[0])
  assert f'Stopped at step {stopped}; its checkpoint is complete' in stderr
  logged = [json.loads(line)['step'] for line in metrics.read_text().splitlines()]
  assert stopped >= 5 and logged == list(range(1, stopped + 1))  # Every step done was logged.

  config = load_config('gan_toy2d.py:ring8', total_steps=stopped + 3, log_every=1,
                       checkpoint_every=1000000, sample_every=1000000)
  config.evals.every = 0
  config.generator.hidden = (32, 32)
  state = train.train_and_evaluate(config, str(workdir))
  assert int(state.step) == stopped + 3
  logged = [json.loads(line)['step'] for line in metrics.read_text().splitlines()]
  assert logged == list(range(1, stopped + 4))


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_stop_request_catches_every_signal_until_it_exits(sig):
  before = signal.getsignal(sig)
  with preemption.StopRequest() as stop:
    assert not stop.requested(1)
    os.kill(os.getpid(), sig)
    assert stop.requested(2)
    os.kill(os.getpid(), sig)  # A second notice is caught too: the final save is not cut short.
    assert stop.requested(3)
  assert signal.getsignal(sig) == before


def test_kill_9_at_a_random_moment_then_resume_equals_an_uninterrupted_run(tmp_path):
  """SIGKILL (no handler can run) at a random moment of a run that checkpoints every step, so the
  kill often lands inside a checkpoint write; the rerun resumes from the last complete checkpoint
  and ends bitwise equal to a run that was never killed."""
  overrides = dict(total_steps=30, log_every=1, checkpoint_every=1, sample_every=1000000)

  def config(**changes):
    c = load_config('gan_toy2d.py:ring8', **{**overrides, **changes})
    c.evals.every = 0
    c.generator.hidden = (32, 32)
    return c

  workdir = tmp_path / 'killed'
  flags = ['--config=configs/gan_toy2d.py:ring8', f'--workdir={workdir}',
           '--config.evals.every=0', '--config.generator.hidden=(32,32)',
           *[f'--config.{k}={v}' for k, v in overrides.items()]]
  process = subprocess.Popen([sys.executable, '-m', 'gan_jax.main', *flags], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  metrics = workdir / 'metrics.jsonl'
  wait_until(process, lambda: metrics.exists() and metrics.read_text().count('\n') >= 2)
  time.sleep(random.Random(os.getpid()).uniform(0.0, 1.5))  # A moment the test does not choose.
  process.kill()
  process.wait()
  killed_at = metrics.read_text().count('\n')
  resumed = train.train_and_evaluate(config(), str(workdir))
  # Checkpointed at its end only: how often a run saves changes nothing it computes.
  uninterrupted = train.train_and_evaluate(config(checkpoint_every=30),
                                           str(tmp_path / 'uninterrupted'))
  assert killed_at < 30, 'the run finished before the kill; kill earlier'
  for a, b in zip(jax.tree.leaves(jax.device_get(uninterrupted)),
                  jax.tree.leaves(jax.device_get(resumed)), strict=True):
    np.testing.assert_array_equal(a, b)
