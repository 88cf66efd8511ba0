"""Data-efficient training measured: the same DCGAN at the same step budget with no augmentation,
DiffAugment, ADA, LeCam and ADA + LeCam, on a fixed seeded subset of the digits and on all of
them, at several seeds; evaluated with the digit classifier against all the digits.

  python -m gan_jax.evaluate train-classifier --data=npz:../shared/data/mnist8k.npz \
      --output=classifiers/mnist_cnn.npz
  python benchmarks/data_efficient.py --data=../shared/data/mnist8k.npz \
      --classifier=classifiers/mnist_cnn.npz [--steps=800] [--width=32] [--seeds=0,1] \
      [--subsets=800,0] [--methods=plain,diffaugment,ada,lecam,ada_lecam] [--jobs=2]

Each run trains configs/dcgan.py:METHOD into ROOT/METHOD_SUBSET_sSEED with
`python -m gan_jax.main` and is evaluated with `python -m gan_jax.evaluate` (fid, kid, pr,
classes, leak: num_samples EMA samples against all records); a run whose evaluation JSON exists is
not redone. Prints a markdown table of each (subset, method): the mean over seeds and each seed's
value, and writes ROOT/results.json, from the ADA runs' metrics.jsonl ROOT/ada_p_rt.png, and
the first seed's final sample grids side by side, ROOT/samples_SUBSET.png.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

import matplotlib
import numpy as np

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = (('fid', 'FID', '{:.1f}'), ('kid', 'KID', '{:.0f}'), ('precision', 'precision',
           '{:.2f}'), ('recall', 'recall', '{:.2f}'), ('classes_covered', 'classes', '{:.0f}'),
           ('leak_geometric', 'rotated/mirrored', '{:.3f}'), ('leak_negated', 'negated',
                                                               '{:.3f}'))


def run_name(method: str, subset: int, seed: int) -> str:
  return f'{method}_{subset or "all"}_s{seed}'


def train_and_evaluate(args, method: str, subset: int, seed: int) -> dict:
  workdir = os.path.join(args.root, run_name(method, subset, seed))
  result_path = os.path.join(workdir, 'evaluation.json')
  if not os.path.isfile(result_path):
    overrides = [f'--config.dataset=npz:{args.data}', f'--config.train_subset={subset}',
                 f'--config.seed={seed}', f'--config.total_steps={args.steps}',
                 f'--config.generator.width={args.width}',
                 f'--config.discriminator.width={args.width}', f'--config.ada.kimg={args.ada_kimg}',
                 f'--config.checkpoint_every={args.steps}', f'--config.sample_every={args.steps}',
                 '--config.log_every=20']
    env = dict(os.environ, XLA_FLAGS=os.environ.get('XLA_FLAGS', ''))
    subprocess.run([sys.executable, '-m', 'gan_jax.main', f'--config=configs/dcgan.py:{method}',
                    f'--workdir={workdir}'] + overrides, cwd=REPO, env=env, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, '-m', 'gan_jax.evaluate', f'--workdir={workdir}',
                    f'--features={args.classifier}', '--metrics=fid,kid,pr,classes,leak',
                    f'--num_samples={args.num_samples}', '--num_reference=100000',
                    f'--output={result_path}'], cwd=REPO, env=env, check=True,
                   capture_output=True)
  with open(result_path) as f:
    values = json.load(f)['values']
  print(f'{run_name(method, subset, seed)}: FID {values["fid"]:.1f}', flush=True)
  return values


def table(results: dict, args) -> str:
  header = '| data | method | ' + ' | '.join(c[1] for c in COLUMNS) + ' |'
  lines = [header, '|' + '---|' * (len(COLUMNS) + 2)]
  for subset in args.subsets:
    for method in args.methods:
      runs = [results[run_name(method, subset, s)] for s in args.seeds
              if run_name(method, subset, s) in results]
      if not runs:
        continue
      cells = []
      for key, _, fmt in COLUMNS:
        values = [r[key] for r in runs]
        cells.append(f'{fmt.format(np.mean(values))} ({", ".join(fmt.format(v) for v in values)})')
      data = f'{subset} digits' if subset else 'all digits'
      lines.append(f'| {data} | {method} | ' + ' | '.join(cells) + ' |')
  real = next(iter(results.values()))
  lines.append(f'\nReal digits, the leak measure\'s base rate: rotated/mirrored '
               f'{real["leak_geometric_real"]:.3f}, negated {real["leak_negated_real"]:.3f}.')
  return '\n'.join(lines)


def plot_ada(args) -> str:
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
  for subset in args.subsets:
    for seed in args.seeds:
      path = os.path.join(args.root, run_name('ada', subset, seed), 'metrics.jsonl')
      if not os.path.isfile(path):
        continue
      with open(path) as f:
        records = [r for r in map(json.loads, f) if 'ada_p' in r]
      steps = [r['step'] for r in records]
      label = f'{subset or "all"} digits, seed {seed}'
      axes[0].plot(steps, [r['ada_p'] for r in records], label=label)
      axes[1].plot(steps, [r['ada_rt'] for r in records], label=label)
  axes[0].set(xlabel='step', ylabel='p', title='ADA: augmentation probability p')
  axes[1].axhline(0.6, color='grey', linestyle='--', linewidth=1)
  axes[1].set(xlabel='step', ylabel='r_t', title='r_t = E[sign(D(real))], target 0.6')
  axes[0].legend(fontsize=8)
  fig.tight_layout()
  path = os.path.join(args.root, 'ada_p_rt.png')
  fig.savefig(path, dpi=100)
  return path


def plot_samples(args, subset: int) -> str:
  """The sample grid at the last step of each method's first seed on `subset` digits, side by
  side."""
  fig, axes = plt.subplots(1, len(args.methods), figsize=(3 * len(args.methods), 3.3))
  for ax, method in zip(np.atleast_1d(axes), args.methods):
    path = os.path.join(args.root, run_name(method, subset, args.seeds[0]), 'samples',
                        f'step_{args.steps:07d}.png')
    if os.path.isfile(path):
      ax.imshow(plt.imread(path), cmap='gray')
    ax.set_title(method, fontsize=10)
    ax.axis('off')
  fig.tight_layout()
  path = os.path.join(args.root, f'samples_{subset or "all"}.png')
  fig.savefig(path, dpi=100)
  return path


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--data', required=True, help='An .npz of labelled digits (images, labels).')
  parser.add_argument('--classifier', required=True, help='Weights from evaluate train-classifier.')
  parser.add_argument('--root', default=os.path.join(REPO, 'workdirs', 'data_efficient'))
  parser.add_argument('--steps', type=int, default=800)
  parser.add_argument('--width', type=int, default=32)
  parser.add_argument('--ada_kimg', type=float, default=100.0)
  parser.add_argument('--num_samples', type=int, default=5000)
  parser.add_argument('--seeds', default='0,1')
  parser.add_argument('--subsets', default='800,0')
  parser.add_argument('--methods', default='plain,diffaugment,ada,lecam,ada_lecam')
  parser.add_argument('--jobs', type=int, default=2)
  args = parser.parse_args()
  args.seeds = [int(s) for s in args.seeds.split(',')]
  args.subsets = [int(s) for s in args.subsets.split(',')]
  args.methods = args.methods.split(',')
  args.data, args.classifier = os.path.abspath(args.data), os.path.abspath(args.classifier)
  jobs = [(m, n, s) for s in args.seeds for n in args.subsets for m in args.methods]
  with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
    done = dict(zip((run_name(*j) for j in jobs),
                    pool.map(lambda j: train_and_evaluate(args, *j), jobs)))
  with open(os.path.join(args.root, 'results.json'), 'w') as f:
    json.dump(done, f, indent=1)
  print(table(done, args))
  print(plot_ada(args))
  for subset in args.subsets:
    print(plot_samples(args, subset))


if __name__ == '__main__':
  main()
