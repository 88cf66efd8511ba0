"""python -m gan_jax.sample --workdir=DIR --num_samples=N --output=FILE.npz [--seed=S]

Writes `samples` (float32 in [-1, 1]: NHWC images, or [N, 2] points) drawn from the latest
checkpoint in DIR, with the EMA generator when the run kept one. The same seed gives the same
samples. Also usable from Python: `load_generator(workdir)` and `generate(...)`.
"""

import json
import os
import sys

import jax
import ml_collections
import numpy as np
from absl import app, flags

from gan_jax import checkpointing
from gan_jax import configuration
from gan_jax import sharding
from gan_jax import state as state_lib
from gan_jax import train


def load_generator(workdir: str) -> tuple[state_lib.GAN, state_lib.GANState]:
  """The GAN and the state of the latest checkpoint of a training workdir."""
  config_path = os.path.join(workdir, 'config.json')
  info_path = os.path.join(workdir, train.RUN_INFO)
  if not (os.path.isfile(config_path) and os.path.isfile(info_path)):
    raise FileNotFoundError(f'{workdir!r} is not a gan_jax workdir (no config.json / '
                            f'{train.RUN_INFO}); train into it with python -m gan_jax.main.')
  with open(config_path) as f:
    # Keys added to the schema after the run was trained take their defaults.
    config = ml_collections.ConfigDict({**configuration.base_config().to_dict(), **json.load(f)})
  with open(info_path) as f:
    data_shape = tuple(json.load(f)['data_shape'])
  checkpointer = checkpointing.Checkpointer(workdir, config.keep_checkpoints)
  if checkpointer.latest_step() is None:
    raise FileNotFoundError(f'No checkpoint in {checkpointer.directory}.')
  gan = state_lib.build_gan(config, data_shape)
  template = sharding.create_state(gan.init, jax.random.key(config.seed), sharding.make_mesh())
  state = checkpointer.restore(template, data_iterator=None)
  checkpointer.close()
  return gan, state


def generate(gan: state_lib.GAN, state: state_lib.GANState, num_samples: int, seed: int,
             batch_size: int = 500) -> np.ndarray:
  """num_samples samples from z ~ N(0, I) drawn with `seed`, in batches."""
  z = np.asarray(gan.latents(jax.random.key(seed), num_samples))
  sample_fn = jax.jit(gan.sample)
  return np.concatenate([np.asarray(sample_fn(state, z[i:i + batch_size]))
                         for i in range(0, num_samples, batch_size)]).astype(np.float32)


def main(argv):
  del argv
  args = flags.FLAGS
  if not args.workdir or not args.output:
    sys.exit('error: --workdir and --output are required.')
  if args.num_samples <= 0:
    sys.exit(f'error: --num_samples={args.num_samples} must be positive.')
  try:
    gan, state = load_generator(args.workdir)
  except FileNotFoundError as e:
    sys.exit(f'error: {e}')
  samples = generate(gan, state, args.num_samples, args.seed, args.batch_size)
  np.savez(args.output, samples=samples)
  print(f'Wrote {samples.shape} samples from step {int(state.step)} to {args.output}.')


if __name__ == '__main__':
  # Defined here, not at import, so that gan_jax.evaluate can import this module's functions.
  flags.DEFINE_string('workdir', None, 'A training workdir.')
  flags.DEFINE_integer('num_samples', 1000, 'How many samples.')
  flags.DEFINE_string('output', None, 'The .npz file to write.')
  flags.DEFINE_integer('seed', 0, 'Seed of the latent codes.')
  flags.DEFINE_integer('batch_size', 500, 'Samples generated per call.')
  app.run(main)
