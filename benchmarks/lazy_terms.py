"""The cost of lazy regularisation: RpGAN + R1 + R2 (configs/rpgan.py) train steps, four ways.

  python benchmarks/lazy_terms.py [--batch_size=64] [--image_size=32] [--every=4] [--steps=8]

Rows: no penalty; both penalties at every step; both every `every` steps as the trainer runs them
(one compiled program per phase); both every `every` steps decided inside the step by lax.cond
(the program a notebook or steps_per_call > 1 gets). ms/step is the mean over `steps` steps after
a warm-up of one period, all in this process on the same random batch.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from gan_jax import configuration, sharding  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax.games import gan_game, gan_step, gan_terms  # pylint: disable=g-import-not-at-top,wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def time_steps(config, args, phased: bool) -> float:
  gan = gan_game.build_gan(config, (args.image_size, args.image_size, 1))
  mesh = sharding.make_mesh()
  state = sharding.create_state(gan.init, jax.random.key(0), mesh)
  images = np.random.default_rng(0).uniform(-1, 1, (args.batch_size, args.image_size,
                                                      args.image_size, 1)).astype(np.float32)
  batch = sharding.global_batch({'image': images}, sharding.batch_sharding(mesh))
  compile_ = lambda fn: sharding.jit_train_step(fn, mesh).lower(state, batch).compile()
  period = gan_terms.lazy_period(config)
  if phased:
    programs = {p: compile_(gan_step.make_train_step(gan, phase=p))
                for p in {gan_terms.lazy_phase(config, s) for s in range(period)}}
    run = lambda s, state: programs[gan_terms.lazy_phase(config, s)](state, batch)
  else:
    program = compile_(gan_step.make_train_step(gan))
    run = lambda s, state: program(state, batch)
  for s in range(period):
    state, _ = run(s, state)
  jax.block_until_ready(state)
  start = time.perf_counter()
  for s in range(period, period + args.steps):
    state, _ = run(s, state)
  jax.block_until_ready(state)
  return (time.perf_counter() - start) / args.steps * 1000


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch_size', type=int, default=64)
  parser.add_argument('--image_size', type=int, default=32)
  parser.add_argument('--every', type=int, default=4)
  parser.add_argument('--steps', type=int, default=8)
  args = parser.parse_args()

  def config_with(weight, every):
    config = configuration.from_file(os.path.join(REPO, 'configs', 'rpgan.py'))
    config.image_size, config.batch_size = args.image_size, args.batch_size
    for name in ('r1', 'r2'):
      config.regularizers[name].weight, config.regularizers[name].every = weight, every
    return config

  rows = [('no penalty', config_with(0.0, 1), False),
          ('R1 + R2 at every step', config_with(1.0, 1), False),
          (f'R1 + R2 every {args.every}, a program per phase (the trainer)',
           config_with(1.0, args.every), True),
          (f'R1 + R2 every {args.every}, lax.cond in one program', config_with(1.0, args.every),
           False)]
  print(f'| RpGAN step, batch {args.batch_size}, {args.image_size} px, {jax.devices()[0].platform}'
        ' | ms/step |\n| --- | --- |')
  for name, config, phased in rows:
    print(f'| {name} | {time_steps(config, args, phased):.0f} |', flush=True)


if __name__ == '__main__':
  main()
