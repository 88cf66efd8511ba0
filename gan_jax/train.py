"""train_and_evaluate(config, workdir): the training loop.

Builds the mesh, the data pipeline and the state (restoring the latest checkpoint in the workdir
if there is one), then runs the jitted step, reporting every `log_every` steps, drawing samples
from a fixed z every `sample_every` steps and checkpointing every `checkpoint_every` steps and at
the end, and evaluating every `evals.every` steps (after the checkpoint of that step; a failed
evaluation is logged and training goes on). Metrics are fetched from the device only when they
are reported; the next batch is read and put on the devices while the current step runs (Grain
prefetches and decodes on its own threads before that). With steps_per_call K, one dispatch runs
K steps (lax.scan) and the loop advances K steps at a time.
"""

import math
import os

import jax
import ml_collections
import numpy as np
from absl import logging

from gan_jax import configuration
from gan_jax import data as data_lib
from gan_jax import divergence
from gan_jax import loop
from gan_jax import preemption
from gan_jax import reporting
from gan_jax import runs
from gan_jax import sharding
from gan_jax import state as state_lib
from gan_jax import step as step_lib
from gan_jax import train_translation
from gan_jax.evaluation import evaluator as evaluator_lib

# The fixed z of the sample pictures comes from this stream of the seed (train steps use
# fold_in(seed, step) with step < 2**31 - 2).
FIXED_Z_STREAM = 2**31 - 1
EVAL_Z_STREAM = 2**31 - 2  # The z of periodic evaluations.


def fixed_latents(gan: state_lib.GAN, num: int):
  return gan.latents(jax.random.fold_in(jax.random.key(gan.config.seed), FIXED_Z_STREAM), num)


def train_and_evaluate(config, workdir: str):
  """Trains (or resumes training) to config.total_steps; returns the final state. Image-to-image
  tasks (config.task 'pix2pix' or 'cyclegan') have their own loop (train_translation.py).

  Before anything compiles: the config is validated for the mesh, the workdir and everything the
  run writes there is checked to be writable, the workdir is locked against a second run, and a
  workdir with checkpoints must have been trained with a config that agrees on every key that
  defines the run (gan_jax/runs.py).

  Divergence (gan_jax/divergence.py) stops the run, or with config.on_nonfinite='rollback'
  restarts it from the last checkpoint (all of whose values were finite) with both learning rates
  times config.rollback_lr_factor, at most config.max_rollbacks times. The rollbacks are logged
  and kept in WORKDIR/rollbacks.json, whose learning-rate scale a resumed run applies too.
  """
  mesh = sharding.make_mesh()
  configuration.validate(config, num_data_shards=mesh.devices.size)
  is_main = jax.process_index() == 0
  runs.prepare(workdir, is_main)
  train_loop = train_translation.train_and_evaluate if config.task != 'gan' else _train_gan
  with runs.Lock(workdir, enabled=is_main):
    changed = runs.check_resume(workdir, config)
    rollbacks = runs.read_rollbacks(workdir)
    while True:
      scale = float(np.prod([r['lr_factor'] for r in rollbacks]))
      segment = loop.Segment(mesh, config, scale, changed)
      changed = {}  # A rollback's restart changes only the learning-rate scale.
      try:
        return train_loop(_scale_learning_rates(config, scale), workdir, segment)
      except divergence.DivergenceError as e:
        restart_step = e.last_checkpoint
        if (config.on_nonfinite != 'rollback' or restart_step is None
            or len(rollbacks) >= config.max_rollbacks):
          raise
        rollbacks.append({'diverged': str(e), 'restart_step': restart_step,
                          'lr_factor': config.rollback_lr_factor})
        logging.warning('%s\nRollback %d of at most %d: restarting from step %d with the '
                        'learning rates times %g.', e, len(rollbacks), config.max_rollbacks,
                        restart_step, scale * config.rollback_lr_factor)
        if is_main:
          runs.write_json(os.path.join(workdir, runs.ROLLBACKS), rollbacks)


def _scale_learning_rates(config, scale: float):
  if scale == 1.0:
    return config
  config = ml_collections.ConfigDict(config.to_dict())
  for key in ('g_optimizer', 'd_optimizer'):
    config[key].learning_rate = config[key].learning_rate * scale
  return config


def _train_gan(config, workdir: str, segment: loop.Segment) -> state_lib.GANState:
  """The GAN task's loop (see the module docstring and gan_jax/loop.py)."""
  mesh, is_main = segment.mesh, segment.is_main
  pipeline = data_lib.make_pipeline(config)
  gan = state_lib.build_gan(config, pipeline.data_shape)
  steps_per_call = config.steps_per_call
  images_per_call = config.batch_size * config.n_critic * steps_per_call
  state, checkpointer = loop.create_or_restore(
      gan.init, config, workdir, segment, pipeline.iterator,
      batch_bytes=images_per_call * math.prod(pipeline.data_shape) * 4 // mesh.devices.size,
      data_shape=pipeline.data_shape)
  start_step = int(state.step)

  if start_step % steps_per_call:
    raise configuration.ConfigError(
        f'config.steps_per_call={steps_per_call} does not divide the step {start_step} of the '
        f'checkpoint in {checkpointer.directory}; resume with a steps_per_call that divides it.')
  train_step = step_lib.make_train_step(gan)
  if steps_per_call > 1:
    train_step = step_lib.scan_steps(train_step)
  train_step = sharding.jit_train_step(train_step, mesh, config.n_critic, steps_per_call,
                                       jax.tree.map(lambda x: x.sharding, state))
  batch_sharding = sharding.batch_sharding(mesh, config.n_critic, steps_per_call)

  def next_batch():
    """The next call's batch on the devices: [steps_per_call, n_critic, B, ...] without the
    leading axes of size 1."""
    batches = [next(pipeline.iterator) for _ in range(steps_per_call)]
    batch = batches[0] if steps_per_call == 1 else jax.tree.map(lambda *b: np.stack(b), *batches)
    return sharding.global_batch(batch, batch_sharding)

  sample_fn = jax.jit(gan.sample)
  fixed_z = fixed_latents(gan, config.num_sample_images)
  # Conditional GANs: the sample grid cycles through the classes 0, 1, ..., K-1, 0, ...
  fixed_labels = (np.arange(config.num_sample_images) % config.num_classes
                  if gan.conditional else None)
  real_points = None
  if pipeline.is_points:
    real_points = data_lib.sources.mixture_points(config.dataset, config.num_sample_images, seed=1)

  evaluator = None
  if config.evals.every:  # Loads the feature extractor and the reference before compiling.
    evaluator = evaluator_lib.Evaluator(
        evaluator_lib.parse_metrics(config.evals.metrics), config.dataset, config.evals.features,
        config.dataset_split, config.data_dir, config.image_size, config.evals.num_reference,
        seed=config.seed)
    eval_z = np.asarray(gan.latents(jax.random.fold_in(jax.random.key(config.seed), EVAL_Z_STREAM),
                                    config.evals.num_samples))

  heldout = None
  if gan.semi_supervised and config.holdout_examples:  # D's test accuracy at every checkpoint.
    heldout = data_lib.pipeline.holdout_set(config)
    classify_fn = jax.jit(gan.classify)

  def write_samples(step, state):
    reporter.write_samples(step, jax.device_get(sample_fn(state, fixed_z, fixed_labels)),
                           real_points)

  def evaluate(step, state):
    generator = lambda z: sample_fn(state, z)
    samples = np.concatenate(list(evaluator_lib.batched(generator, eval_z)))
    eval_labels = np.asarray(gan.labels_of(eval_z)) if gan.conditional else None
    result = evaluator.evaluate(samples, generator, gan.code_dim, eval_labels)
    reporter.write_evaluation(step, result.values, result.images)

  def test_accuracy(step, state):
    images, labels = heldout
    predictions = np.concatenate([np.asarray(classify_fn(state, images[i:i + 500]))
                                  for i in range(0, len(images), 500)])
    reporter.write_evaluation(step, {'test_accuracy': float(np.mean(predictions == labels))})

  reporter = reporting.Reporter(workdir, config.total_steps,
                                images_per_step=config.batch_size * config.n_critic,
                                start_step=start_step, enabled=is_main)
  logging.info('Training %s / %s on %s from step %d to %d on %d device(s).',
               config.generator.name, config.loss, config.dataset, start_step, config.total_steps,
               mesh.devices.size)
  batch = None
  if start_step < config.total_steps:
    batch = next_batch()
    train_step = loop.compile_step(train_step, state, batch)
  with preemption.StopRequest() as stop, loop.closing(checkpointer, reporter):
    for step in range(start_step + steps_per_call, config.total_steps + 1, steps_per_call):
      state, metrics = train_step(state, batch)  # Dispatched asynchronously.
      is_last = step == config.total_steps
      stopping = stop.requested(step)  # SIGTERM / SIGINT: checkpoint this step and return.
      saving = step % config.checkpoint_every == 0 or is_last or stopping
      loop.report_and_check(config, step, state, metrics, reporter, checkpointer, is_last, saving)
      if saving:  # The iterator is at the consumed batches.
        checkpointer.save(step, state, pipeline.iterator)
      if stopping:
        loop.finish_stop(checkpointer, step)
        break
      if step % config.sample_every == 0 or is_last:
        loop.periodic(reporter, step, 'sample grid', lambda: write_samples(step, state))
      if evaluator and (step % config.evals.every == 0 or is_last):
        loop.periodic(reporter, step, 'evaluation', lambda: evaluate(step, state))
      if heldout is not None and (step % config.checkpoint_every == 0 or is_last):
        loop.periodic(reporter, step, 'test accuracy', lambda: test_accuracy(step, state))
      if not is_last:  # Reading and transferring the next batch overlaps the running step.
        batch = next_batch()

  return state
