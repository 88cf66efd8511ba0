"""Memory per device of the train state, replicated against config.param_sharding='fsdp'.

  python benchmarks/param_sharding.py            # 8 fake CPU devices (set here before JAX starts)
  python benchmarks/param_sharding.py --devices=4
  python benchmarks/param_sharding.py --configs=cyclegan.py:horse2zebra --no_step   # 256 px

Run it from the repository root. For each config the whole train state (both players'
parameters, optimizer states, EMA, batch statistics; CycleGAN: all four networks and the pools)
is created on the mesh with each sharding, and the bytes of the buffers that device 0 actually
holds are summed; the last columns time one train step of each (CPU, fake devices: the gathers
are memory copies here, so the time says little about accelerators, only that the step runs).
--no_step skips that step: CycleGAN's at 256 px needs more host memory than a small machine has,
and the state's size does not depend on it.
"""

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

CONFIGS = ('dcgan.py', 'sngan.py')  # Any configs/ name works, e.g. cyclegan.py:horse2zebra.


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--devices', type=int, default=8)
  parser.add_argument('--configs', default=','.join(CONFIGS))
  parser.add_argument('--no_step', action='store_true', help='Measure the state only.')
  return parser.parse_args()


def main():
  args = parse_args()
  os.environ['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={args.devices}'
  os.environ.setdefault('JAX_PLATFORMS', 'cpu')
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  # pylint: disable=g-import-not-at-top (JAX must start after XLA_FLAGS is set)
  from gan_jax import configuration, sharding
  from gan_jax.games import gan_game, gan_step, translation, translation_game

  mesh = sharding.make_mesh()
  print(f'| config | sharding | state MB per device | of the replicated | step s ({args.devices} '
        'fake CPU devices) |')
  print('| --- | --- | --- | --- | --- |')
  for name in args.configs.split(','):
    path, _, arg = name.partition(':')
    config = configuration.from_file(os.path.join(REPO, 'configs', path), arg)
    config.batch_size = 2 * args.devices if config.task == 'gan' else args.devices
    size = config.image_size
    rng = np.random.default_rng(0)
    if config.task == 'gan':
      model = gan_game.build_gan(config, (size, size, 3))
      make_step = gan_step.make_train_step(model)
      batch = {'image': rng.uniform(-1, 1, (config.n_critic * config.batch_size, size, size, 3)
                                    ).astype(np.float32)}
    else:
      model = translation_game.build_translation(config, (size, size, 3), (size, size, 3))
      make_step = translation.make_train_step(model)
      batch = {k: rng.uniform(-1, 1, (config.batch_size, size, size, 3)).astype(np.float32)
               for k in 'ab'}
    replicated_bytes = None
    for mode in sharding.PARAM_SHARDINGS:
      state = sharding.create_state(model.init, jax.random.key(0), mesh, mode)
      used = sharding.bytes_per_device(state)
      replicated_bytes = replicated_bytes or used
      row = f'| {name} | {mode} | {used / 2**20:.1f} | {used / replicated_bytes:.3f} |'
      if args.no_step:
        print(f'{row} not run |', flush=True)
        continue
      step = sharding.jit_train_step(make_step, mesh,
                                     state_sharding=jax.tree.map(lambda x: x.sharding, state))
      batch_on_mesh = sharding.global_batch(batch, sharding.batch_sharding(mesh))
      state, _ = step(state, batch_on_mesh)  # Compiles.
      jax.block_until_ready(state)
      start = time.perf_counter()
      state, metrics = step(state, batch_on_mesh)
      jax.block_until_ready(metrics)
      seconds = time.perf_counter() - start
      print(f'{row} {seconds:.2f} |', flush=True)


if __name__ == '__main__':
  main()
