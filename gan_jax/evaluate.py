"""Evaluate a trained GAN, or train the classifier that some metrics use.

  python -m gan_jax.evaluate --workdir=DIR --metrics=fid,kid,pr,dc,classes \
      --features=classifiers/mnist_cnn.npz [--num_samples=10000] [--reference=DATASET]
  python -m gan_jax.evaluate --samples=FILE.npz --reference=DATASET --metrics=... --features=...
  python -m gan_jax.evaluate train-classifier --data=npz:../shared/data/mnist8k.npz \
      --output=classifiers/mnist_cnn.npz

With --workdir, samples come from the latest checkpoint (EMA generator, z seeded by --seed) and the
reference defaults to the run's training data; results go to DIR/eval/step_NNNNNNN.json (with the
protocol of every number) and pictures beside it. A table is printed. The metrics are listed in
gan_jax/evaluation/evaluator.py.
"""

import json
import os

import jax
import numpy as np
from absl import app, flags

from gan_jax import cli
from gan_jax import errors
from gan_jax import reporting
from gan_jax import sample as sample_lib
from gan_jax.data import sources
from gan_jax.evaluation import classifier
from gan_jax.evaluation import evaluator as evaluator_lib

_WORKDIR = flags.DEFINE_string('workdir', None, 'A training workdir (its latest checkpoint).')
_SAMPLES = flags.DEFINE_string('samples', None, 'Or an .npz with `samples` (e.g. gan_jax.sample).')
_METRICS = flags.DEFINE_string('metrics', 'fid,kid,is,pr,dc,classes', 'Comma-separated metrics.')
_FEATURES = flags.DEFINE_string('features', '', 'Weights of the feature extractor (.npz).')
_REFERENCE = flags.DEFINE_string('reference', '', "Reference dataset; default: the run's data.")
_REFERENCE_SPLIT = flags.DEFINE_string('reference_split', '', 'TFDS split of the reference.')
_DATA_DIR = flags.DEFINE_string('data_dir', '', 'TFDS data_dir of the reference.')
_NUM_SAMPLES = flags.DEFINE_integer('num_samples', 10_000, 'Generated samples to evaluate.',
                                    lower_bound=1)
_NUM_REFERENCE = flags.DEFINE_integer('num_reference', 10_000, 'Reference images (at most).',
                                      lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the latent codes and of the subsets.',
                             lower_bound=0)
_OUTPUT = flags.DEFINE_string('output', '', 'JSON to write; default DIR/eval/step_N.json.')
# train-classifier
_DATA = flags.DEFINE_string('data', None, 'train-classifier: a labelled dataset.')
_STEPS = flags.DEFINE_integer('steps', 3000, 'train-classifier: Adam steps of batch 128.',
                              lower_bound=1)
_HELD_OUT = flags.DEFINE_integer('held_out', 1000, 'train-classifier: held-out images.',
                                 lower_bound=1)


def format_table(values: dict[str, float], protocols: dict[str, str]) -> str:
  lines = [f'{"metric":<30} {"value":>12}']
  lines += [f'{name:<30} {value:>12.5g}' for name, value in values.items()]
  lines += ['', 'protocol:'] + [f'  {name}: {text}' for name, text in protocols.items()]
  return '\n'.join(lines)


def _train_classifier():
  if not _DATA.value or not _OUTPUT.value:
    cli.fail('train-classifier needs --data=DATASET and --output=FILE.npz.')
  cli.check_output(_OUTPUT.value)
  try:
    classifier.train_classifier(_DATA.value, _OUTPUT.value, steps=_STEPS.value,
                                held_out=_HELD_OUT.value, seed=_SEED.value)
  except (sources.DatasetError, ValueError) as e:
    cli.fail(f'{e}')


def _evaluate():
  if bool(_WORKDIR.value) == bool(_SAMPLES.value):
    cli.fail('give exactly one of --workdir and --samples.')
  if _OUTPUT.value:
    cli.check_output(_OUTPUT.value)
  else:  # The default output goes into the workdir, or beside the samples file.
    cli.check_output(os.path.join(_WORKDIR.value or os.path.dirname(_SAMPLES.value) or '.',
                                  'eval.json'), '--workdir' if _WORKDIR.value else '--samples')
  generator, step, latent_dim, labels = None, None, 0, None
  try:
    metrics = evaluator_lib.parse_metrics(_METRICS.value)
    if not metrics:
      raise evaluator_lib.EvaluationError('--metrics names no metric; choose from '
                                          f'{list(evaluator_lib.METRICS)}.')
    if _WORKDIR.value:
      gan, state = sample_lib.load_generator(_WORKDIR.value)
      config, step, latent_dim = gan.config, int(state.step), gan.code_dim
      reference = _REFERENCE.value or config.dataset
      split = _REFERENCE_SPLIT.value or config.dataset_split
      data_dir = _DATA_DIR.value or config.data_dir
      image_size = config.image_size
      sample_fn = jax.jit(gan.sample)
      generator = lambda z: sample_fn(state, z)
    else:
      if not _REFERENCE.value:
        cli.fail('--samples needs --reference=DATASET.')
      reference, split, data_dir = _REFERENCE.value, _REFERENCE_SPLIT.value or 'train', _DATA_DIR.value
      arrays = sources.read_npz(_SAMPLES.value, 'samples file', error=ValueError)
      if 'samples' not in arrays:
        cli.fail(f'{_SAMPLES.value} has arrays {sorted(arrays)}, no "samples" (write it '
                 'with python -m gan_jax.sample or np.savez(path, samples=[N, H, W, C] in [-1, 1])).')
      samples = arrays['samples'][:_NUM_SAMPLES.value]
      if samples.ndim == 3 and not sources.is_point_dataset(reference):
        samples = samples[..., None]  # [N, H, W]: one channel, as npz datasets.
      evaluator_lib.check_samples(samples, sources.is_point_dataset(reference),
                                  from_file=True)
      samples = samples.astype(np.float32)
      if 'labels' in arrays:
        labels = arrays['labels'][:_NUM_SAMPLES.value]
      image_size = samples.shape[1] if samples.ndim == 4 else 0
    # The counts of a samples file are checked with its samples (Evaluator.evaluate).
    evaluator_lib.check_request(metrics, reference, _FEATURES.value,
                                _NUM_SAMPLES.value if _WORKDIR.value else None, '--num_samples')
    evaluator = evaluator_lib.Evaluator(
        metrics, reference, _FEATURES.value, split, data_dir, image_size,
        num_reference=_NUM_REFERENCE.value, seed=_SEED.value)
    if generator is not None:
      # Conditional GANs: every class in turn, so each gets the same number of samples.
      all_labels = list(range(config.num_classes)) if gan.conditional else None
      samples, labels = sample_lib.generate(gan, state, _NUM_SAMPLES.value, _SEED.value,
                                            labels=all_labels)
    result = evaluator.evaluate(samples, generator, latent_dim, labels)
  except (errors.Error, FileNotFoundError, ValueError) as e:
    cli.fail(f'{e}')

  output = _OUTPUT.value or os.path.join(_WORKDIR.value or os.path.dirname(_SAMPLES.value), 'eval',
                                         f'step_{step:07d}.json' if step is not None else 'eval.json')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  stem = os.path.splitext(output)[0]
  pictures = {}
  for name, images in result.images.items():
    pictures[name] = f'{stem}_{name}.png'
    reporting.save_png(
        reporting.image_grid(images, columns=reporting.EVAL_GRID_COLUMNS.get(name, 8)),
        pictures[name])
  with open(output, 'w') as f:
    json.dump({'source': _WORKDIR.value or _SAMPLES.value, 'step': step,
               'num_samples': len(samples), 'values': result.values,
               'protocols': result.protocols, 'pictures': pictures}, f, indent=2)
  print(format_table(result.values, result.protocols))
  for path in pictures.values():
    print(f'wrote {path}')
  print(f'wrote {output}')


def main(argv):
  if len(argv) > 2 or (len(argv) == 2 and argv[1] != 'train-classifier'):
    cli.fail(f'unknown command {argv[1:]}; the only subcommand is train-classifier.')
  if len(argv) == 2:
    _train_classifier()
  else:
    _evaluate()


if __name__ == '__main__':
  app.run(main)
