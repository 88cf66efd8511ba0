"""Evaluate a trained GAN, or train the classifier that some metrics use.

  python -m gan_jax.evaluate --workdir=DIR --metrics=fid,kid,pr,dc,classes \
      --features=classifiers/mnist_cnn.npz [--num_samples=10000] [--reference=DATASET]
  python -m gan_jax.evaluate --samples=FILE.npz --reference=DATASET --metrics=... --features=...
  python -m gan_jax.evaluate --workdir=DIR --metrics=fid50k_full,kid50k_full,is50k \
      --features=inception_fid.npz [--preprocessing=clean] [--reference_stats=FILE.npz]
  python -m gan_jax.evaluate stats --dataset=DATASET --protocols=fid50k_full,kid50k_full \
      --features=inception_fid.npz [--image_size=N]
  python -m gan_jax.evaluate train-classifier --data=npz:../shared/data/mnist8k.npz \
      --output=classifiers/mnist_cnn.npz

With --workdir, samples come from the latest checkpoint (EMA generator, z seeded by --seed) and the
reference defaults to the run's training data; results go to DIR/eval/step_NNNNNNN.json (with the
protocol of every number) and pictures beside it. A table is printed. The metrics and the named
protocols are listed in gan_jax/evaluation/checks.py and protocols.py. Samples are generated and
featurised chunk by chunk (only features are kept), with progress and an ETA. `stats` computes
and caches the reference statistics of protocols beside the data (evaluations also compute them
on first use).
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
from gan_jax.evaluation import checks
from gan_jax.evaluation import evaluator as evaluator_lib
from gan_jax.evaluation import reference_stats as stats_lib
from gan_jax.evaluation import resize

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
_PREPROCESSING = flags.DEFINE_enum(
    'preprocessing', '', ('',) + resize.MODES, "InceptionV3's resize: default the protocols' "
    "own (legacy_tensorflow), or pytorch-fid's (legacy_pytorch) for plain metrics.")
_REFERENCE_STATS = flags.DEFINE_string(
    'reference_stats', '', 'Protocols: compare with this statistics file (gan_jax, pytorch-fid, '
    'TTUR or clean-fid npz) instead of the cached reference.')
# stats
_DATASET = flags.DEFINE_string('dataset', None, 'stats: the dataset of the reference.')
_PROTOCOLS = flags.DEFINE_string('protocols', 'fid50k_full', 'stats: comma-separated protocols.')
_IMAGE_SIZE = flags.DEFINE_integer('image_size', 0, "stats: images fitted to this size (0: the "
                                   "dataset's own).", lower_bound=0)
# train-classifier
_DATA = flags.DEFINE_string('data', None, 'train-classifier: a labelled dataset.')
_STEPS = flags.DEFINE_integer('steps', classifier.STEPS,
                              'train-classifier: Adam steps of batch 128.',
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
    metrics = checks.parse_metrics(_METRICS.value)
    if not metrics:
      raise checks.EvaluationError('--metrics names no metric; choose from '
                                   f'{list(checks.METRICS)} or {list(checks.PROTOCOLS)}.')
    if _WORKDIR.value:
      gan, state = sample_lib.load_generator(_WORKDIR.value)
      config, step, latent_dim = gan.config, int(state.step), gan.code_dim
      reference = _REFERENCE.value or config.dataset
      split = _REFERENCE_SPLIT.value or config.dataset_split
      data_dir = _DATA_DIR.value or config.data_dir
      image_size = config.image_size
      sample_fn = jax.jit(gan.sample)
      generator = lambda z: sample_fn(state, z)  # noqa: E731
    else:
      if not _REFERENCE.value:
        cli.fail('--samples needs --reference=DATASET.')
      reference, split, data_dir = _REFERENCE.value, _REFERENCE_SPLIT.value or 'train', _DATA_DIR.value
      arrays = sources.read_npz(_SAMPLES.value, 'samples file', error=ValueError)
      if 'samples' not in arrays:
        cli.fail(f'{_SAMPLES.value} has arrays {sorted(arrays)}, no "samples" (write it '
                 'with python -m gan_jax.sample or np.savez(path, samples=[N, H, W, C] in [-1, 1])).')
      # The plain metrics take --num_samples of them, each protocol its own count.
      limit = max([_NUM_SAMPLES.value]
                  + [p.num_samples for p in checks.selected_protocols(metrics)])
      samples = arrays['samples'][:limit]
      if samples.ndim == 3 and not sources.is_point_dataset(reference):
        samples = samples[..., None]  # [N, H, W]: one channel, as npz datasets.
      checks.check_samples(samples, sources.is_point_dataset(reference), from_file=True)
      samples = samples.astype(np.float32)
      if 'labels' in arrays:
        labels = arrays['labels'][:limit]
      image_size = samples.shape[1] if samples.ndim == 4 else 0
      short = [f'{p.name} needs {p.num_samples:,}' for p in checks.selected_protocols(metrics)
               if len(samples) < p.num_samples]
      if short:  # Before the reference statistics are computed.
        cli.fail(f'{_SAMPLES.value} holds {len(samples):,} samples: {"; ".join(short)}.')
    # The counts of a samples file are checked with its samples (Evaluator.evaluate).
    checks.check_request(metrics, reference, _FEATURES.value,
                         _NUM_SAMPLES.value if _WORKDIR.value else None, '--num_samples')
    evaluator = evaluator_lib.Evaluator(
        metrics, reference, _FEATURES.value, split, data_dir, image_size,
        num_reference=_NUM_REFERENCE.value, seed=_SEED.value, num_samples=_NUM_SAMPLES.value,
        preprocessing=_PREPROCESSING.value, reference_stats=_REFERENCE_STATS.value, log=print)
    if generator is None:
      result = evaluator.evaluate(samples, generator, latent_dim, labels)
      num_samples = len(samples)
    else:
      # Conditional GANs: every class in turn, so each gets the same number of samples.
      all_labels = list(range(config.num_classes)) if gan.conditional else None
      num_samples = evaluator.samples_needed(_NUM_SAMPLES.value)
      chunks = sample_lib.generate_chunks(gan, state, num_samples, _SEED.value,
                                          labels=all_labels)
      result = evaluator.evaluate_stream(chunks, num_samples, generator, latent_dim)
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
               'num_samples': num_samples, 'values': result.values,
               'protocols': result.protocols, 'pictures': pictures}, f, indent=2)
  print(format_table(result.values, result.protocols))
  for path in pictures.values():
    print(f'wrote {path}')
  print(f'wrote {output}')


def _stats():
  """Computes and caches the reference statistics of --protocols on --dataset."""
  if not _DATASET.value or not _FEATURES.value:
    cli.fail('stats needs --dataset=DATASET and --features=INCEPTION_WEIGHTS.npz.')
  try:
    names = checks.parse_metrics(_PROTOCOLS.value)
    plain = [name for name in names if name not in checks.PROTOCOLS]
    if plain or not names:
      raise checks.EvaluationError(f'--protocols takes protocols {list(checks.PROTOCOLS)}; '
                                   f'got {list(names)}.')
    split = _REFERENCE_SPLIT.value or 'train'
    source = sources.load_source(_DATASET.value, split, _DATA_DIR.value)
    image_size = _IMAGE_SIZE.value or int(source.__getitems__([0])[0]['image'].shape[0])
    evaluator = evaluator_lib.Evaluator(
        names, _DATASET.value, _FEATURES.value, split, _DATA_DIR.value, image_size,
        preprocessing=_PREPROCESSING.value, log=print)
  except (errors.Error, FileNotFoundError, ValueError) as e:
    cli.fail(f'{e}')
  for name, stats in evaluator.protocol_reference.items():
    path = stats_lib.cache_path(name, _DATASET.value, split, _DATA_DIR.value, image_size,
                                evaluator.extractor.preprocessing,
                                stats_lib.file_digest(_FEATURES.value))
    print(f'{name}: {stats.description}; {path}')


COMMANDS = {'train-classifier': _train_classifier, 'stats': _stats}


def main(argv):
  if len(argv) > 2 or (len(argv) == 2 and argv[1] not in COMMANDS):
    cli.fail(f'unknown command {argv[1:]}; the subcommands are {list(COMMANDS)}.')
  COMMANDS[argv[1]]() if len(argv) == 2 else _evaluate()


if __name__ == '__main__':
  app.run(main)
