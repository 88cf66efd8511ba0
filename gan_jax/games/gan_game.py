"""The GAN game as the trainer runs it: its networks and optimizers from the config, its data
pipeline, and its periodic work. Every `sample_every` steps a grid of samples from a fixed z
(conditional GANs: the classes 0, 1, ..., K-1 in turn; 2-D data: drawn over the real points);
every `evals.every` steps the evaluator's metrics of the EMA generator; at every checkpoint a
semi-supervised D's test accuracy on the held-out records.
"""

import math
from typing import Sequence

import jax
import numpy as np

from gan_jax import augment
from gan_jax import data as data_lib
from gan_jax import models
from gan_jax import streams
from gan_jax.evaluation import checks
from gan_jax.evaluation import evaluator as evaluator_lib
from gan_jax.games import base
from gan_jax.games import gan_step
from gan_jax.games import gan_terms
from gan_jax.games.gan import GAN

SAMPLE_GRID_STREAM, EVAL_STREAM = 'sample_grid/z', 'evaluation/z'


def build_gan(config, data_shape: Sequence[int]) -> GAN:
  """The GAN a config describes, for data of the given per-sample shape."""
  augmentation = augment.build(config)
  return GAN(
      config=config,
      data_shape=tuple(int(d) for d in data_shape),
      generator=models.build_generator(config.generator, data_shape, config.compute_dtype,
                                       config.num_classes, config.conditioning,
                                       config.mixture_components),
      discriminator=models.build_discriminator(
          config.discriminator, config.compute_dtype, config.num_classes,
          'semi_supervised' if config.labelled_examples > 0 else config.conditioning,
          config.mixture_components),
      g_tx=base.make_optimizer(config.g_optimizer, config.lr_schedule, config.total_steps),
      d_tx=base.make_optimizer(config.d_optimizer, config.lr_schedule,
                               config.total_steps * config.n_critic),
      augmentation=augmentation,
      trackers=augmentation.trackers + tuple(gan_terms.trackers(config)),
  )


def fixed_latents(gan: GAN, num: int):
  """The z of the sample grids (the same at every step and on resume)."""
  return gan.latents(streams.seed_stream(gan.config.seed, SAMPLE_GRID_STREAM), num)


def examples_per_step(config) -> int:
  """Records one GAN step reads: a real batch for each of the n_critic D updates."""
  return config.batch_size * config.n_critic


def make_pipeline(config, process_index=None, process_count=None):
  """The data pipeline of the GAN game: batches of examples_per_step(config) records."""
  return data_lib.make_pipeline(config, process_index, process_count,
                                examples_per_step=examples_per_step(config))


def make_game(config) -> base.Game:
  pipeline = make_pipeline(config)
  gan = build_gan(config, pipeline.data_shape)
  examples = examples_per_step(config)

  def periodic(reporter) -> list[base.PeriodicWork]:
    return _periodic_work(config, gan, pipeline, reporter)

  phased = None
  period = gan_terms.lazy_period(config)
  if period > 1:
    phases = [gan_terms.lazy_phase(config, s) for s in range(period)]  # Repeats every period.
    phased = base.PhasedSteps(
        period, lambda step: phases[step % period],
        lambda phase: gan_step.make_train_step(gan, phase=phase))
  return base.Game(
      init=gan.init, train_step=gan_step.make_train_step(gan), data=pipeline.iterator,
      examples_per_step=examples,
      batch_bytes=examples * math.prod(pipeline.data_shape) * 4,
      run_info={'data_shape': pipeline.data_shape}, periodic=periodic,
      description=f'{config.generator.name} / {config.loss} on {config.dataset}', phased=phased)


def _periodic_work(config, gan: GAN, pipeline, reporter) -> list[base.PeriodicWork]:
  """The sample grid, the evaluations and the test accuracy; the evaluator loads its feature
  network and reference here, before the step compiles."""
  sample_fn = jax.jit(gan.sample)
  fixed_z = fixed_latents(gan, config.num_sample_images)
  fixed_labels = (np.arange(config.num_sample_images) % config.num_classes
                  if gan.conditional else None)
  real_points = None
  if pipeline.is_points:
    real_points = data_lib.sources.mixture_points(config.dataset, config.num_sample_images, seed=1)

  def write_samples(step, state):
    reporter.write_samples(step, jax.device_get(sample_fn(state, fixed_z, fixed_labels)),
                           real_points)

  work = [base.PeriodicWork('sample grid', config.sample_every, write_samples)]
  if config.evals.every:
    evaluator = evaluator_lib.Evaluator(
        checks.parse_metrics(config.evals.metrics), config.dataset, config.evals.features,
        config.dataset_split, config.data_dir, config.image_size, config.evals.num_reference,
        seed=config.seed, num_samples=config.evals.num_samples)
    eval_z = np.asarray(gan.latents(streams.seed_stream(config.seed, EVAL_STREAM),
                                    evaluator.samples_needed(config.evals.num_samples)))
    eval_labels = np.asarray(gan.labels_of(eval_z)) if gan.conditional else None

    def evaluate(step, state):
      generator = lambda z: sample_fn(state, z)  # noqa: E731
      chunks = ((np.asarray(generator(eval_z[i:i + 500])),
                 None if eval_labels is None else eval_labels[i:i + 500])
                for i in range(0, len(eval_z), 500))
      result = evaluator.evaluate_stream(chunks, len(eval_z), generator, gan.code_dim)
      reporter.write_evaluation(step, result.values, result.images)

    work.append(base.PeriodicWork('evaluation', config.evals.every, evaluate))
  if gan.semi_supervised and config.holdout_examples:  # D's test accuracy at every checkpoint.
    images, labels = data_lib.pipeline.holdout_set(config)
    classify_fn = jax.jit(gan.classify)

    def test_accuracy(step, state):
      predictions = np.concatenate([np.asarray(classify_fn(state, images[i:i + 500]))
                                    for i in range(0, len(images), 500)])
      reporter.write_evaluation(step, {'test_accuracy': float(np.mean(predictions == labels))})

    work.append(base.PeriodicWork('test accuracy', config.checkpoint_every, test_accuracy))
  return work
