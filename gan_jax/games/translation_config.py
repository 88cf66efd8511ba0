"""The config section of the image-to-image games (config.task 'pix2pix' or 'cyclegan'): its
schema (config.translation) and its checks. The image size is checked against the networks by
translation_game.build_translation once the data's channels are known."""

import os

import ml_collections

from gan_jax import config_checks
from gan_jax import errors
from gan_jax import models
from gan_jax.config_checks import fail
from gan_jax.data import sources

# Where a translation task's pairs come from (config.translation.data), per task.
TRANSLATION_DATA = {
    'pix2pix': ('paired', 'superres', 'inpaint'),
    'cyclegan': ('unpaired', 'colour_digits'),
}
# Keys of the GAN game that translation tasks do not use, with the value they must keep (a value
# that would be silently ignored is refused instead).
UNUSED_BY_TRANSLATION = (('n_critic', 1), ('conditioning', 'none'), ('mixture_components', 1),
                         ('labelled_examples', 0), ('gradient_penalty', 'none'),
                         ('label_smoothing', 0.0), ('weight_clip', 0.0), ('ema_decay', 0.0),
                         ('train_subset', 0))
# The adversarial loss of each translation task, as in its paper (config.loss must name it).
TRANSLATION_LOSSES = {'pix2pix': 'non_saturating', 'cyclegan': 'least_squares'}


def defaults() -> ml_collections.ConfigDict:
  """config.translation. data: pix2pix 'paired' (an npz of `inputs` and `images`), 'superres'
  (input: the image box-downsampled by superres_factor, then bicubic-upsampled) or 'inpaint'
  (input: the image with an inpaint_size square set to grey); cyclegan 'unpaired' (domain A =
  config.dataset, domain B = dataset_b, split split_b) or 'colour_digits' (A = the first half of
  the training records as RGB, B = the second half with inverted, coloured strokes: a hidden
  truth). The last config.holdout_examples records are never trained on: sample grids and, for
  the offline tasks, the measured errors use them. Loss weights as in the papers."""
  return ml_collections.ConfigDict(dict(
      data='paired',
      dataset_b='',
      split_b='train',
      superres_factor=4,
      inpaint_size=12,
      l1_weight=100.0,  # pix2pix's lambda_L1.
      cycle_weight=10.0,  # CycleGAN's lambda.
      identity_weight=0.5,  # CycleGAN's identity loss weight, relative to lambda; 0 = off.
      pool_size=50))  # CycleGAN's history of generated images per discriminator; 0 = off.


def check(config) -> None:
  """The checks of a pix2pix or CycleGAN config."""
  t = config.translation
  config_checks.known_keys(t, defaults(), 'translation')
  task = config.task
  for key, needed in UNUSED_BY_TRANSLATION:
    if config[key] != needed:
      fail(key, config[key], f'task={task!r} does not use it; set it to {needed!r}')
  config_checks.refuse_regularizers(config, f'task={task!r} does not use it')
  for key, value in (('augment', config.augment), ('ada.p', config.ada.p),
                     ('lecam.weight', config.lecam.weight),
                     ('consistency.real', config.consistency.real),
                     ('consistency.fake', config.consistency.fake)):
    if value not in ('none', 0, 0.0):
      fail(key, value, f'data-efficient training (augmentations, ADA, LeCam, CR) is implemented '
           f'for the GAN game only, not for task={task!r}; turn it off')
  if config.loss != TRANSLATION_LOSSES[task]:
    fail('loss', config.loss, f'task={task!r} trains with its paper\'s loss, '
         f'{TRANSLATION_LOSSES[task]!r}')
  if config.evals.every:
    fail('evals.every', config.evals.every, f'task={task!r} measures its held-out errors at '
         'every checkpoint instead; set it to 0 (evals.features names the digit classifier)')
  if t.data not in TRANSLATION_DATA[task]:
    fail('translation.data', t.data, f'task={task!r} takes {list(TRANSLATION_DATA[task])}')
  if t.data == 'unpaired' and not t.dataset_b:
    fail('translation.dataset_b', t.dataset_b, "translation.data='unpaired' needs domain B's "
         'dataset (any config.dataset name)')
  for key in ('superres_factor', 'inpaint_size'):
    if not isinstance(t[key], int) or t[key] < 1:
      fail(f'translation.{key}', t[key], 'it must be a positive integer')
  if t.data == 'superres' and config.image_size % t.superres_factor:
    fail('translation.superres_factor', t.superres_factor,
         f'it must divide config.image_size={config.image_size}')
  if t.data == 'inpaint' and t.inpaint_size > config.image_size - 4:
    fail('translation.inpaint_size', t.inpaint_size,
         f'the square must fit inside the image (at most image_size - 4 = '
         f'{config.image_size - 4})')
  for key in ('l1_weight', 'cycle_weight', 'identity_weight'):
    if not t[key] >= 0:
      fail(f'translation.{key}', t[key], 'it must be >= 0')
  if not isinstance(t.pool_size, int) or t.pool_size < 0:
    fail('translation.pool_size', t.pool_size, 'it must be an integer >= 0 (0 = no pool)')
  if config.evals.features and not os.path.isfile(config.evals.features):
    fail('evals.features', config.evals.features, 'no such file; train one with `python -m '
         'gan_jax.evaluate train-classifier`')
  for role, build in (('generator', models.build_translator),
                      ('discriminator', models.build_patch_discriminator)):
    try:
      build(config[role])
    except ValueError as e:
      raise errors.ConfigError(str(e)) from None
  if (not isinstance(config.dataset, str) or not config.dataset
      or sources.is_point_dataset(config.dataset)):
    fail('dataset', config.dataset, 'translation needs an image dataset (npz:PATH, digits or a '
         'TFDS image dataset)')
