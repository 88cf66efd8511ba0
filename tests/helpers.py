"""Loading config files the way the command line does."""

import pathlib
import time

from gan_jax import configuration

REPO = pathlib.Path(__file__).resolve().parents[1]


def load_config(name: str, **overrides):
  """configs/FILE.py[:ARG] -> its ConfigDict with overrides applied (nested keys as 'a.b')."""
  path, _, arg = name.partition(':')
  config = configuration.from_file(REPO / 'configs' / path, arg)
  for key, value in overrides.items():
    target = config
    *parents, leaf = key.split('.')
    for parent in parents:
      target = target[parent]
    target[leaf] = value
  return config


def small(config, **overrides):
  """The same experiment at a size that runs in seconds (narrow players, small batches)."""
  for role in ('generator', 'discriminator'):
    if config[role].name == 'mlp':
      config[role].hidden = (32, 32)
    else:
      config[role].width = 8
  config.image_size = 16 if config.generator.name != 'mlp' else config.image_size
  config.batch_size = 16
  config.num_sample_images = 16
  config.update(overrides)
  return config


def wait_until(process, done, timeout: float = 120, poll: float = 0.05) -> None:
  """Waits until done() while `process` (a subprocess.Popen of a training run) runs; fails the
  test with its stderr if it ends first or the timeout passes."""
  deadline = time.time() + timeout
  while not done():
    assert process.poll() is None and time.time() < deadline, process.communicate()[1][-3000:]
    time.sleep(poll)
