"""Multi-host on one machine: 2 processes x 4 fake CPU devices (coordinator on 127.0.0.1, gloo
collectives) train like 1 process x 8 devices, each reading its own half of every batch, and
resume together from the checkpoint they wrote together."""

import os
import socket
import subprocess
import sys

import jax
import numpy as np

from gan_jax import checkpointing
from gan_jax import sharding
from gan_jax import state as state_lib
from gan_jax import train
from tests.helpers import REPO, load_config, small

OVERRIDES = dict(total_steps=4, checkpoint_every=2, log_every=2, sample_every=100)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _run_two_processes(workdir, total_steps):
  port = _free_port()
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4')
  flags = ['--config=configs/dcgan.py', f'--workdir={workdir}', '--config.image_size=16',
           '--config.batch_size=16', '--config.generator.width=8',
           '--config.discriminator.width=8', '--config.num_sample_images=16',
           *[f'--config.{k}={v}' for k, v in {**OVERRIDES, 'total_steps': total_steps}.items()],
           '--distributed', f'--coordinator_address=127.0.0.1:{port}', '--num_processes=2']
  processes = [subprocess.Popen([sys.executable, '-m', 'gan_jax.main', *flags,
                                 f'--process_id={i}'], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
  for process in processes:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]


def test_two_processes_equal_one_and_resume_together(tmp_path):
  workdir = tmp_path / 'two'
  _run_two_processes(workdir, total_steps=2)
  written = os.listdir(workdir / 'checkpoints' / '2' / 'data')  # Each process's data position:
  assert {'process_0-of-2.json', 'process_1-of-2.json'} <= set(written)
  _run_two_processes(workdir, total_steps=4)  # Both resume from step 2.

  config = small(load_config('dcgan.py'), **OVERRIDES)
  one = train.train_and_evaluate(config, str(tmp_path / 'one'))
  gan = state_lib.build_gan(config, (16, 16, 1))
  template = sharding.create_state(gan.init, jax.random.key(config.seed), sharding.make_mesh())
  checkpointer = checkpointing.Checkpointer(str(workdir), config.keep_checkpoints)
  assert checkpointer.latest_step() == 4
  two = checkpointer.restore(template, None)
  checkpointer.close()
  # The same records in each global batch, in another order: equal up to float rounding.
  for a, b in zip(jax.tree.leaves(jax.device_get(one)), jax.tree.leaves(jax.device_get(two)),
                  strict=True):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
