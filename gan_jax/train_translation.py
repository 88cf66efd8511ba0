"""train_and_evaluate for the image-to-image tasks (config.task 'pix2pix' or 'cyclegan').

The same loop as gan_jax/train.py over a TranslationState: all players, their optimizer states and
CycleGAN's history pools in one pytree, one jitted step on the mesh (batch split over `data`),
Orbax checkpoints holding the state and the Grain iterator (a resumed run continues exactly).
Every `sample_every` steps it saves a grid of held-out images, one row each:
  pix2pix   input | G(input) | truth
  CycleGAN  a | G_AB(a) | G_BA(G_AB(a)) | b | G_BA(b) | G_AB(G_BA(b))   (colour_digits: b is
            colour_invert(a), the truth of G_AB(a))
and at every checkpoint, for the offline tasks, the held-out errors of
gan_jax/evaluation/translation.py with their baselines, as eval/* in metrics.jsonl.
"""

import math

import jax
import numpy as np
from absl import logging

from gan_jax import loop
from gan_jax import preemption
from gan_jax import reporting
from gan_jax import sharding
from gan_jax import translation as translation_lib
from gan_jax.data import translation as data_lib
from gan_jax.evaluation import features
from gan_jax.evaluation import translation as metrics_lib

GRID_ROWS = 8
EVAL_KEY_STREAM = 2**31 - 2  # Dropout of pix2pix's G when it translates held-out images.


def grid_columns(translation, translate, images: dict) -> list[np.ndarray]:
  """The columns of the sample grid (see the module docstring)."""
  a, b = images['a'], images['b']
  if translation.kind == 'pix2pix':
    return [a, translate(a, 'ab'), b]
  fake_b, fake_a = translate(a, 'ab'), translate(b, 'ba')
  return [a, fake_b, translate(fake_b, 'ba'), b, fake_a, translate(fake_a, 'ab')]


def side_by_side(columns: list[np.ndarray]) -> np.ndarray:
  """Columns of images [N, H, W, C_i] -> [N * len(columns), H, W, C] row by row (grey images
  copied to RGB when any column is RGB), for reporting.image_grid(..., columns=len(columns))."""
  channels = max(c.shape[-1] for c in columns)
  columns = [np.repeat(c, channels // c.shape[-1], axis=-1) for c in columns]
  return np.stack(columns, axis=1).reshape((-1,) + columns[0].shape[1:])


def make_translate_fn(translation):
  """translate(images, direction) -> host float32 images, in batches of 250, under jit; pix2pix's
  dropout from a fixed key (the papers translate in train mode: batch statistics, dropout on)."""
  key = jax.random.fold_in(jax.random.key(translation.seed), EVAL_KEY_STREAM)
  jitted = {d: jax.jit(lambda state, x, d=d: translation.translate(state, x, d, key))
            for d in ('ab', 'ba')}

  def translate_with(state):
    def translate(images, direction='ab'):
      return np.concatenate([np.asarray(jitted[direction](state, images[i:i + 250]))
                             for i in range(0, len(images), 250)])
    return translate

  return translate_with


def train_and_evaluate(config, workdir: str,
                       segment: loop.Segment) -> translation_lib.TranslationState:
  """Trains (or resumes training) to config.total_steps; returns the final state. Called by
  gan_jax.train.train_and_evaluate, which validated the config and locked the workdir."""
  mesh, is_main = segment.mesh, segment.is_main
  data = data_lib.make_translation_data(config)
  translation = translation_lib.build_translation(config, data.shape_a, data.shape_b)
  heldout = data_lib.heldout_set(config)
  extractor = mean_image = None
  if config.translation.data == 'colour_digits' and config.evals.features:
    extractor = features.load_extractor(config.evals.features)
  if config.translation.data == 'inpaint' and heldout:
    mean_image = data_lib.mean_image(config)

  batch_bytes = (config.batch_size * (math.prod(data.shape_a) + math.prod(data.shape_b)) * 4
                 // mesh.devices.size)
  state, checkpointer = loop.create_or_restore(translation.init, config, workdir, segment,
                                               data.iterator, batch_bytes,
                                               shape_a=data.shape_a, shape_b=data.shape_b)
  start_step = int(state.step)

  train_step = sharding.jit_train_step(translation_lib.make_train_step(translation), mesh,
                                       state_sharding=jax.tree.map(lambda x: x.sharding, state))
  batch_sharding = sharding.batch_sharding(mesh)
  next_batch = lambda: sharding.global_batch(next(data.iterator), batch_sharding)
  translate_with = make_translate_fn(translation)
  grid_images = {k: v[:GRID_ROWS] for k, v in heldout.items()}

  def write_samples(step, state):
    columns = grid_columns(translation, translate_with(state), grid_images)
    reporter.write_samples(step, side_by_side(columns), None, columns=len(columns))

  def evaluate(step, state):
    translate = translate_with(state)
    results = metrics_lib.evaluate(config.translation.data, heldout, translate,
                                   lambda x: translate(x, 'ba'), mean_image, extractor)
    if results:
      reporter.write_evaluation(step, results)

  reporter = reporting.Reporter(workdir, config.total_steps, images_per_step=config.batch_size,
                                start_step=start_step, enabled=is_main)
  logging.info('Training %s (%s, %s) on %s from step %d to %d on %d device(s).', config.task,
               config.translation.data, config.generator.name, config.dataset, start_step,
               config.total_steps, mesh.devices.size)
  batch = None
  if start_step < config.total_steps:
    batch = next_batch()
    train_step = loop.compile_step(train_step, state, batch)
  with preemption.StopRequest() as stop, loop.closing(checkpointer, reporter):
    for step in range(start_step + 1, config.total_steps + 1):
      if not grid_images:  # No held-out records: the grid shows the first batch of this run.
        grid_images = {k: np.asarray(v)[:GRID_ROWS] for k, v in batch.items()}
      state, metrics = train_step(state, batch)  # Dispatched asynchronously.
      is_last = step == config.total_steps
      stopping = stop.requested(step)  # SIGTERM / SIGINT: checkpoint this step and return.
      saving = step % config.checkpoint_every == 0 or is_last or stopping
      loop.report_and_check(config, step, state, metrics, reporter, checkpointer, is_last, saving)
      if saving:
        checkpointer.save(step, state, data.iterator)
      if stopping:
        loop.finish_stop(checkpointer, step)
        break
      if step % config.sample_every == 0 or is_last:
        loop.periodic(reporter, step, 'sample grid', lambda: write_samples(step, state))
      if heldout and (step % config.checkpoint_every == 0 or is_last):
        loop.periodic(reporter, step, 'held-out evaluation', lambda: evaluate(step, state))
      if not is_last:
        batch = next_batch()

  return state
