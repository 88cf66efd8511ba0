"""The supervised-only baseline of the semi-supervised GAN (configs/semisup.py): its discriminator,
trained with cross-entropy on the same labelled records only (same selection, noise, weight norm,
optimizer, batch and steps), tested on the same held-out records. Prints a table.

  python benchmarks/supervised_baseline.py --dataset=npz:../shared/data/mnist8k.npz
"""

import argparse
import pathlib
import sys

import jax
import numpy as np
import optax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from gan_jax import configuration  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax.data import pipeline, sources  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax.games import gan_game  # pylint: disable=g-import-not-at-top,wrong-import-position


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--dataset', required=True, help='config.dataset, e.g. npz:PATH')
  parser.add_argument('--config', default='configs/semisup.py')
  args = parser.parse_args()
  config = configuration.from_file(args.config)
  config.dataset = args.dataset
  source = sources.load_source(config.dataset, config.dataset_split, config.data_dir)
  num_train = pipeline.training_records(config, len(source))
  labelled = pipeline.labelled_subset(source, num_train, config.labelled_examples,
                                      config.num_classes, config.seed)
  images = np.stack([pipeline.fit_to_size(labelled[i]['image'], config.image_size)
                     for i in range(len(labelled))]).astype(np.float32) / 127.5 - 1.0
  labels = np.array([labelled[i]['label'] for i in range(len(labelled))])
  test_images, test_labels = pipeline.holdout_set(config)

  gan = gan_game.build_gan(config, images.shape[1:])
  state = jax.jit(gan.init)(jax.random.key(config.seed))
  d_params = state.params('discriminator')
  opt_state = gan.d_tx.init(d_params)

  @jax.jit
  def step(d_params, opt_state, batch_images, batch_labels, key):
    def loss(params):
      out, _ = gan.discriminate(state, batch_images, None, key, params)
      return optax.softmax_cross_entropy_with_integer_labels(out.class_logits,
                                                             batch_labels).mean()
    grads = jax.grad(loss)(d_params)
    updates, opt_state = gan.d_tx.update(grads, opt_state, d_params)
    return optax.apply_updates(d_params, updates), opt_state

  print('| step | supervised-only test accuracy |\n| --- | --- |')
  rng = np.random.default_rng(config.seed)
  for i in range(1, config.total_steps + 1):
    batch = rng.integers(0, len(images), config.batch_size)  # Labelled batches, as in the GAN.
    d_params, opt_state = step(d_params, opt_state, images[batch], labels[batch],
                               jax.random.fold_in(jax.random.key(config.seed), i))
    if i % config.checkpoint_every == 0:
      predictions = gan.classify(state.with_player('discriminator', params=d_params), test_images)
      print(f'| {i} | {float(np.mean(np.asarray(predictions) == test_labels)):.3f} |')


if __name__ == '__main__':
  main()
