"""The image-to-image games (config.task 'pix2pix' or 'cyclegan') as the trainer runs them.

Every `sample_every` steps a grid of held-out images, one row each:
  pix2pix   input | G(input) | truth
  CycleGAN  a | G_AB(a) | G_BA(G_AB(a)) | b | G_BA(b) | G_AB(G_BA(b))   (colour_digits: b is
            colour_invert(a), the truth of G_AB(a))
and at every checkpoint, for the offline tasks, the held-out errors of
gan_jax/evaluation/translation.py with their baselines, as eval/* in metrics.jsonl.
"""

import math

import jax
import numpy as np

from gan_jax import errors
from gan_jax import models
from gan_jax import streams
from gan_jax.data import translation as data_lib
from gan_jax.evaluation import features
from gan_jax.evaluation import translation as metrics_lib
from gan_jax.games import base
from gan_jax.games import translation as translation_lib

GRID_ROWS = 8
TRANSLATE_STREAM = 'translate/dropout'  # pix2pix's dropout when it translates held-out images.


def build_translation(config, shape_a, shape_b) -> translation_lib.Translation:
  """The Translation of a pix2pix or CycleGAN config (validated) for the data's image shapes;
  ConfigError when the networks cannot take images of this size (checked by tracing the
  initialisation, before anything is compiled)."""
  t = config.translation

  def optimizer(spec):
    return base.make_optimizer(spec, config.lr_schedule, config.total_steps)

  try:
    translation = translation_lib.Translation(
        kind=config.task,
        generator=models.build_translator(config.generator, config.compute_dtype),
        discriminator=models.build_patch_discriminator(config.discriminator, config.compute_dtype),
        g_tx=optimizer(config.g_optimizer), d_tx=optimizer(config.d_optimizer),
        shape_a=tuple(shape_a), shape_b=tuple(shape_b), seed=config.seed,
        l1_weight=t.l1_weight, cycle_weight=t.cycle_weight, identity_weight=t.identity_weight,
        pool_size=t.pool_size)
    jax.eval_shape(translation.init, jax.random.key(0))
  except ValueError as e:
    raise errors.ConfigError(
        f'config.generator={dict(config.generator)}, config.discriminator='
        f'{dict(config.discriminator)} with images {tuple(shape_a)} -> {tuple(shape_b)} '
        f'(config.image_size={config.image_size}): {e}') from None
  return translation


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
  key = streams.seed_stream(translation.seed, TRANSLATE_STREAM)
  jitted = {d: jax.jit(lambda state, x, d=d: translation.translate(state, x, d, key))
            for d in ('ab', 'ba')}

  def translate_with(state):
    def translate(images, direction='ab'):
      return np.concatenate([np.asarray(jitted[direction](state, images[i:i + 250]))
                             for i in range(0, len(images), 250)])
    return translate

  return translate_with


def make_game(config) -> base.Game:
  data = data_lib.make_translation_data(config)
  translation = build_translation(config, data.shape_a, data.shape_b)

  def periodic(reporter) -> list[base.PeriodicWork]:
    return _periodic_work(config, translation, reporter)

  return base.Game(
      init=translation.init, train_step=translation_lib.make_train_step(translation),
      data=data.iterator, examples_per_step=config.batch_size,
      batch_bytes=config.batch_size * (math.prod(data.shape_a) + math.prod(data.shape_b)) * 4,
      run_info={'shape_a': data.shape_a, 'shape_b': data.shape_b}, periodic=periodic,
      description=(f'{config.task} ({config.translation.data}, {config.generator.name}) on '
                   f'{config.dataset}'))


def _periodic_work(config, translation, reporter) -> list[base.PeriodicWork]:
  heldout = data_lib.heldout_set(config)
  extractor = mean_image = None
  if config.translation.data == 'colour_digits' and config.evals.features:
    extractor = features.load_extractor(config.evals.features)
  if config.translation.data == 'inpaint' and heldout:
    mean_image = data_lib.mean_image(config)
  translate_with = make_translate_fn(translation)
  # No held-out records: the grid shows the first training records.
  grid_images = ({k: v[:GRID_ROWS] for k, v in heldout.items()} if heldout
                 else data_lib.first_records(config, GRID_ROWS))

  def write_samples(step, state):
    columns = grid_columns(translation, translate_with(state), grid_images)
    reporter.write_samples(step, side_by_side(columns), None, columns=len(columns))

  def evaluate(step, state):
    translate = translate_with(state)
    results = metrics_lib.evaluate(config.translation.data, heldout, translate,
                                   lambda x: translate(x, 'ba'), mean_image, extractor)
    if results:
      reporter.write_evaluation(step, results)

  work = [base.PeriodicWork('sample grid', config.sample_every, write_samples)]
  if heldout:
    work.append(base.PeriodicWork('held-out evaluation', config.checkpoint_every, evaluate))
  return work
