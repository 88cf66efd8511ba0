"""python -m gan_jax.sample --workdir=DIR --num_samples=N --output=FILE.npz [--seed=S]
                          [--labels=all|3|0,4,7]

Writes `samples` (float32 in [-1, 1]: NHWC images, or [N, 2] points) drawn from the latest
checkpoint in DIR, with the EMA generator when the run kept one. The same seed gives the same
samples. Conditional GANs also write `labels` [N]: with --labels, sample i gets the i-th label of
the list, cycling (`all`: 0, 1, ..., K-1, 0, ...); without, labels are drawn uniformly. Also usable
from Python: `load_generator(workdir)` and `generate(...)`.
"""


from collections.abc import Iterator

import jax
import numpy as np
from absl import app, flags

from gan_jax import checkpointing
from gan_jax import cli
from gan_jax import errors
from gan_jax import runs
from gan_jax import sharding
from gan_jax.games import base
from gan_jax.games import gan_game
from gan_jax.games.gan import GAN


def load_generator(workdir: str) -> tuple[GAN, base.TrainState]:
  """The GAN and the state of the latest checkpoint of a training workdir."""
  config, info = runs.read_run_info(workdir)
  if config.task != 'gan':
    raise FileNotFoundError(f'{workdir!r} holds a {config.task} run, which translates images '
                            'rather than sampling them; use python -m gan_jax.translate.')
  data_shape = info['data_shape']
  checkpointer = checkpointing.Checkpointer(workdir, config.keep_checkpoints, read_only=True)
  if checkpointer.latest_step() is None:
    raise FileNotFoundError(f'No checkpoint in {checkpointer.directory}.')
  gan = gan_game.build_gan(config, data_shape)
  template = sharding.create_state(gan.init, jax.random.key(config.seed), sharding.make_mesh())
  state, _ = checkpointer.restore_latest_good(template, data_iterator=None, move_damaged=False)
  checkpointer.close()
  return gan, state


def parse_labels(text: str, num_classes: int) -> list[int]:
  """'all' -> [0, ..., K-1]; '3' or '0,4,7' -> those labels, each checked to be in [0, K)."""
  if num_classes == 0:
    raise ValueError('--labels needs a conditional GAN; this run has config.conditioning=none.')
  if text == 'all':
    return list(range(num_classes))
  try:
    labels = [int(t) for t in text.split(',')]
  except ValueError:
    raise ValueError(f"--labels={text!r}: give 'all' or comma-separated integers.") from None
  bad = [y for y in labels if not 0 <= y < num_classes]
  if bad:
    raise ValueError(f'--labels={text!r}: {bad} are not classes of this run (0..{num_classes - 1}).')
  return labels


def generate_chunks(gan: GAN, state: base.TrainState, num_samples: int, seed: int,
                    batch_size: int = 500, labels: list[int] | None = None
                    ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
  """num_samples samples from latent codes drawn with `seed`, batch by batch: (images float32,
  labels or None for unconditional GANs). labels: cycled over the samples; None draws them from
  the codes. Only one batch of images is held at a time."""
  codes = np.asarray(gan.latents(jax.random.key(seed), num_samples))
  sample_labels = None
  if gan.conditional:
    sample_labels = (np.asarray(gan.labels_of(codes)) if labels is None
                     else np.resize(np.asarray(labels, np.int32), num_samples))
  sample_fn = jax.jit(gan.sample)
  for i in range(0, num_samples, batch_size):
    batch_labels = None if sample_labels is None else sample_labels[i:i + batch_size]
    images = np.asarray(sample_fn(state, codes[i:i + batch_size], batch_labels), np.float32)
    yield images, batch_labels
    del images  # Not held while the next batch is made.


def generate(gan: GAN, state: base.TrainState, num_samples: int, seed: int,
             batch_size: int = 500, labels: list[int] | None = None
             ) -> tuple[np.ndarray, np.ndarray | None]:
  """generate_chunks, concatenated: (samples [N, ...], labels [N] or None)."""
  chunks = list(generate_chunks(gan, state, num_samples, seed, batch_size, labels))
  images = np.concatenate([images for images, _ in chunks])
  return images, None if chunks[0][1] is None else np.concatenate([y for _, y in chunks])


def main(argv):
  del argv
  args = flags.FLAGS
  if not args.workdir or not args.output:
    cli.fail('--workdir and --output are required.')
  cli.check_output(args.output)
  try:
    gan, state = load_generator(args.workdir)
  except (FileNotFoundError, errors.Error) as e:
    cli.fail(f'{e}')
  try:
    num_classes = gan.config.num_classes if gan.conditional else 0
    labels = parse_labels(args.labels, num_classes) if args.labels else None
  except ValueError as e:
    cli.fail(f'{e}')
  samples, labels = generate(gan, state, args.num_samples, args.seed, args.batch_size, labels)
  arrays = {'samples': samples} if labels is None else {'samples': samples, 'labels': labels}
  np.savez(args.output, **arrays)
  print(f'Wrote {samples.shape} samples from step {int(state.step)} to {args.output}'
        f'{" with their labels" if labels is not None else ""}.')


if __name__ == '__main__':
  # Defined here, not at import, so that gan_jax.evaluate can import this module's functions.
  flags.DEFINE_string('workdir', None, 'A training workdir.')
  flags.DEFINE_integer('num_samples', 1000, 'How many samples.', lower_bound=1)
  flags.DEFINE_string('output', None, 'The .npz file to write.')
  flags.DEFINE_integer('seed', 0, 'Seed of the latent codes.', lower_bound=0)
  flags.DEFINE_integer('batch_size', 500, 'Samples generated per call.', lower_bound=1)
  flags.DEFINE_string('labels', None, "Conditional GANs: 'all' or comma-separated labels, cycled.")
  app.run(main)
