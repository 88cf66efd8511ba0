"""train_and_evaluate(config, workdir): the training loop.

Builds the mesh, the data pipeline and the state (restoring the latest checkpoint in the workdir
if there is one), then runs the jitted step, reporting every `log_every` steps, drawing samples
from a fixed z every `sample_every` steps and checkpointing every `checkpoint_every` steps and at
the end, and evaluating every `evals.every` steps. Metrics are fetched from the device only when
they are reported; the next batch is read and put on the devices while the current step runs
(Grain prefetches and decodes on its own threads before that). With steps_per_call K, one
dispatch runs K steps (lax.scan) and the loop advances K steps at a time.
"""

import json
import os

import jax
import numpy as np
from absl import logging

from gan_jax import checkpointing
from gan_jax import configuration
from gan_jax import data as data_lib
from gan_jax import reporting
from gan_jax import sharding
from gan_jax import state as state_lib
from gan_jax import step as step_lib
from gan_jax.evaluation import evaluator as evaluator_lib

# The fixed z of the sample pictures comes from this stream of the seed (train steps use
# fold_in(seed, step) with step < 2**31 - 2).
FIXED_Z_STREAM = 2**31 - 1
EVAL_Z_STREAM = 2**31 - 2  # The z of periodic evaluations.
RUN_INFO = 'run_info.json'


def fixed_latents(gan: state_lib.GAN, num: int):
  return gan.latents(jax.random.fold_in(jax.random.key(gan.config.seed), FIXED_Z_STREAM), num)


def write_run_info(workdir: str, config, data_shape) -> None:
  """config.json and run_info.json: what `gan_jax.sample` needs to rebuild the models."""
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort(indent=2))
  with open(os.path.join(workdir, RUN_INFO), 'w') as f:
    json.dump({'data_shape': list(data_shape)}, f)


def train_and_evaluate(config, workdir: str) -> state_lib.GANState:
  """Trains (or resumes training) to config.total_steps; returns the final state."""
  mesh = sharding.make_mesh()
  configuration.validate(config, num_data_shards=mesh.devices.size)
  is_main = jax.process_index() == 0
  os.makedirs(workdir, exist_ok=True)

  pipeline = data_lib.make_pipeline(config)
  gan = state_lib.build_gan(config, pipeline.data_shape)
  state = sharding.create_state(gan.init, jax.random.key(config.seed), mesh)
  checkpointer = checkpointing.Checkpointer(workdir, config.keep_checkpoints)
  if checkpointer.latest_step() is not None:
    logging.info('Resuming from %s (step %d).', checkpointer.directory, checkpointer.latest_step())
    state = checkpointer.restore(state, pipeline.iterator)
  start_step = int(state.step)
  if is_main:  # After a successful restore, so a failed resume leaves the workdir as it was.
    write_run_info(workdir, config, pipeline.data_shape)

  steps_per_call = config.steps_per_call
  if start_step % steps_per_call:
    raise configuration.ConfigError(
        f'config.steps_per_call={steps_per_call} does not divide the step {start_step} of the '
        f'checkpoint in {checkpointer.directory}; resume with a steps_per_call that divides it.')
  train_step = step_lib.make_train_step(gan)
  if steps_per_call > 1:
    train_step = step_lib.scan_steps(train_step)
  train_step = sharding.jit_train_step(train_step, mesh, config.n_critic, steps_per_call)
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

  reporter = reporting.Reporter(workdir, config.total_steps,
                                images_per_step=config.batch_size * config.n_critic,
                                start_step=start_step, enabled=is_main)
  logging.info('Training %s / %s on %s from step %d to %d on %d device(s).',
               config.generator.name, config.loss, config.dataset, start_step, config.total_steps,
               mesh.devices.size)
  batch = next_batch() if start_step < config.total_steps else None
  for step in range(start_step + steps_per_call, config.total_steps + 1, steps_per_call):
    state, metrics = train_step(state, batch)  # Dispatched asynchronously.
    is_last = step == config.total_steps
    if step % config.log_every == 0 or is_last:
      reporter.write_metrics(step, jax.device_get(metrics))
    if step % config.sample_every == 0 or is_last:
      samples = jax.device_get(sample_fn(state, fixed_z, fixed_labels))
      reporter.write_samples(step, samples, real_points)
    if evaluator and (step % config.evals.every == 0 or is_last):
      generator = lambda z, state=state: sample_fn(state, z)
      samples = np.concatenate(list(evaluator_lib.batched(generator, eval_z)))
      eval_labels = np.asarray(gan.labels_of(eval_z)) if gan.conditional else None
      result = evaluator.evaluate(samples, generator, gan.code_dim, eval_labels)
      reporter.write_evaluation(step, result.values, result.images)
    if heldout is not None and (step % config.checkpoint_every == 0 or is_last):
      images, labels = heldout
      predictions = np.concatenate([np.asarray(classify_fn(state, images[i:i + 500]))
                                    for i in range(0, len(images), 500)])
      reporter.write_evaluation(step, {'test_accuracy': float(np.mean(predictions == labels))})
    if step % config.checkpoint_every == 0 or is_last:
      checkpointer.save(step, state, pipeline.iterator)  # The iterator is at the consumed batches.
    if not is_last:  # Reading and transferring the next batch overlaps the running step.
      batch = next_batch()

  checkpointer.wait_until_finished()
  checkpointer.close()
  reporter.close()
  return state
