"""What a MIX+GAN step costs as the number of components K grows.

  python benchmarks/mixture_cost.py                        # mixgan.py:dcgan, Stacked MNIST shape
  python benchmarks/mixture_cost.py --config=configs/mixgan.py:grid25 --components=1,2,5,8
  python benchmarks/mixture_cost.py --grouped              # also the grouped-convolution rows

Run it from the repository root. For every K the mixture config's train step (one compiled
program; K = 1 is the plain GAN with one component's size) is timed on a fixed random batch:
ms/step, XLA's FLOP count of the step, and ms per GFLOP. The arithmetic grows faster than K (every
D component scores the samples of every G component: K^2 pairs); if the step cost grows as the
arithmetic does, ms/GFLOP stays flat (last column: relative to the first row). --grouped adds the
rows of the same step with the DCGAN convolutions left to plain vmap, which makes them grouped
convolutions (what gan_jax/models/convolutions.py's stacked_kernels() avoids).
"""

import argparse
import contextlib
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from speed import time_windows  # pylint: disable=g-import-not-at-top,wrong-import-position


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', default='configs/mixgan.py:dcgan', help='file[:arg]')
  parser.add_argument('--components', default='1,2,3,5', help='The values of K to time.')
  parser.add_argument('--image_size', type=int, default=28)
  parser.add_argument('--channels', type=int, default=3, help='3: Stacked MNIST; 1: MNIST.')
  parser.add_argument('--steps', type=int, default=5, help='Steps per timed window.')
  parser.add_argument('--grouped', action='store_true', help='Also time grouped convolutions.')
  return parser.parse_args()


def measure(args, components, grouped):
  import jax
  import numpy as np
  from gan_jax import configuration
  from gan_jax.games import gan_game, gan_step
  from gan_jax.data import sources
  from gan_jax.models import convolutions
  path, _, arg = args.config.partition(':')
  config = configuration.from_file(os.path.join(REPO, path), arg)
  config.mixture_components = components
  shape = (2,) if sources.is_point_dataset(config.dataset) else (
      args.image_size, args.image_size, args.channels)
  if len(shape) == 3:
    config.image_size = args.image_size
  gan = gan_game.build_gan(config, shape)
  state = jax.jit(gan.init)(jax.random.key(0))
  images = np.random.default_rng(0).uniform(-1, 1, (config.batch_size * config.n_critic,) + shape)
  batch = {'image': jax.numpy.asarray(images, jax.numpy.float32)}
  patch = contextlib.nullcontext if grouped else convolutions.stacked_kernels
  original = convolutions.stacked_kernels
  convolutions.stacked_kernels = patch  # Read when the step is traced, below.
  try:
    start = time.perf_counter()
    compiled = jax.jit(gan_step.make_train_step(gan)).lower(state, batch).compile()
    compile_s = time.perf_counter() - start
  finally:
    convolutions.stacked_kernels = original
  cost = compiled.cost_analysis()
  cost = (cost[0] if cost else {}) if isinstance(cost, (list, tuple)) else (cost or {})

  def step():
    nonlocal state
    state, _ = compiled(state, batch)

  seconds = statistics.median(time_windows(step, lambda: jax.block_until_ready(state), args.steps))
  return compile_s, cost.get('flops', float('nan')) / 1e9, seconds * 1e3


def main():
  args = parse_args()
  import jax
  rows = []
  for grouped in ([False, True] if args.grouped else [False]):
    for k in (int(k) for k in args.components.split(',')):
      if grouped and k == 1:
        continue
      print(f'measuring K={k}{" grouped" if grouped else ""} ...', file=sys.stderr, flush=True)
      compile_s, gflop, ms = measure(args, k, grouped)
      form = ('grouped convolutions (plain vmap)' if grouped else
              'one GAN (plain convolutions)' if k == 1 else 'stacked_kernels (im2col)')
      rows.append((k, form, compile_s, gflop, ms))
  base = rows[0][4] / rows[0][3]
  print(f'\n{args.config}, batch from the config, {jax.default_backend()} '
        f'({jax.devices()[0].device_kind}), jax {jax.__version__}\n')
  print('| K | convolutions | compile s | GFLOP/step | ms/step | ms/GFLOP | relative ms/GFLOP |')
  print('| --- | --- | --- | --- | --- | --- | --- |')
  for k, form, compile_s, gflop, ms in rows:
    print(f'| {k} | {form} | {compile_s:.1f} | {gflop:.2f} | {ms:.0f} | {ms / gflop:.1f} | '
          f'{ms / gflop / base:.2f} |')


if __name__ == '__main__':
  main()
