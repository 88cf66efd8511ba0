"""The config keys of the GAN game and their checks: the objective and its terms, conditioning,
MIX+GAN, the semi-supervised GAN, the players (each architecture checks its own fields and the
image sizes it can make), the data and the periodic evaluation."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import ml_collections

from gan_jax import ada
from gan_jax import augment
from gan_jax import errors
from gan_jax import losses
from gan_jax import models
from gan_jax.config_checks import fail, is_int, is_number, refuse_regularizers
from gan_jax.data import sources
from gan_jax.evaluation import checks

OFFLINE_DATASETS = ('ring8', 'grid25', 'digits', 'npz:PATH')


def regularizer_defaults() -> ml_collections.ConfigDict:
  """config.regularizers: each of D's gradient penalties (gan_jax/losses.py GRADIENT_PENALTIES)
  with its weight (0 = off) and `every` (lazy regularisation: every k-th D update, times k)."""
  return ml_collections.ConfigDict({name: dict(weight=0.0, every=1)
                                    for name in sorted(losses.GRADIENT_PENALTIES)})


def ada_defaults() -> ml_collections.ConfigDict:
  """config.ada (augment='ada'): the pipeline's groups, the initial p, the target of r_t (0: p
  fixed), the adjustment interval in steps and the speed (thousands of real images for p to move
  by 1); the paper's defaults."""
  return ml_collections.ConfigDict(dict(pipeline=ada.DEFAULT_PIPELINE, p=0.0, target=0.6,
                                        interval=4, kimg=500.0))


def check(config) -> None:
  """The GAN game's checks (config.task == 'gan')."""
  _check_objective(config)
  _check_data_efficient(config)
  _check_variants(config)
  _check_players(config)
  _check_evals(config)


def _check_objective(config) -> None:
  if config.loss not in losses.OBJECTIVES:
    fail('loss', config.loss, f'choose one of {sorted(losses.OBJECTIVES)}')
  if not 0.0 <= config.label_smoothing < 1.0:
    fail('label_smoothing', config.label_smoothing, 'it must be in [0, 1)')
  if config.label_smoothing and not losses.OBJECTIVES[config.loss].supports_label_smoothing:
    fail('label_smoothing', config.label_smoothing,
         f'label smoothing applies to the cross-entropy losses only (minimax, non_saturating), '
         f'not to loss={config.loss!r}; set it to 0')
  penalties = ['none'] + sorted(losses.GRADIENT_PENALTIES)
  if config.gradient_penalty not in penalties:
    fail('gradient_penalty', config.gradient_penalty, f'choose one of {penalties}')
  if config.gradient_penalty != 'none' and not config.gp_weight > 0:
    fail('gp_weight', config.gp_weight, 'it must be positive when a gradient penalty is on')
  for name, spec in config.regularizers.items():
    if sorted(spec.keys()) != ['every', 'weight']:
      fail(f'regularizers.{name}', dict(spec), 'each regularizer has exactly `weight` and `every`')
    if not is_number(spec.weight) or not spec.weight >= 0:
      fail(f'regularizers.{name}.weight', spec.weight, 'it must be >= 0 (0 turns it off)')
    if not is_int(spec.every) or spec.every < 1:
      fail(f'regularizers.{name}.every', spec.every, 'it must be a positive integer')
    if spec.weight and name == config.gradient_penalty:
      fail(f'regularizers.{name}.weight', spec.weight, f'gradient_penalty={name!r} already adds '
           f'it (the short form, weight gp_weight); use one of the two')
  penalised = config.gradient_penalty != 'none' or any(
      s.weight for s in config.regularizers.values())
  if penalised and config.discriminator.get('norm') == 'batch':
    fail('discriminator.norm', 'batch',
         'a gradient penalty needs per-sample gradients, which batch norm couples across the '
         "batch; use 'layer' or 'none' (Gulrajani et al. 2017)")
  if not config.weight_clip >= 0:  # NaN too.
    fail('weight_clip', config.weight_clip, 'it must be >= 0 (0 turns clipping off)')


def _check_data_efficient(config) -> None:
  """The augmentation, ADA's p, LeCam, consistency regularisation and the training subset."""
  if config.augment not in augment.AUGMENTATIONS:
    fail('augment', config.augment, f'choose one of {sorted(augment.AUGMENTATIONS)}')
  spec = config.ada
  try:
    ada.parse_pipeline(spec.pipeline if isinstance(spec.pipeline, str) else '')
  except ValueError as e:
    fail('ada.pipeline', spec.pipeline, str(e))
  if not is_number(spec.p) or not 0 <= spec.p <= 1:
    fail('ada.p', spec.p, 'it must be in [0, 1]')
  if not is_number(spec.target) or not 0 <= spec.target < 1:
    fail('ada.target', spec.target, 'it must be in [0, 1) (0 keeps p fixed at ada.p)')
  if not is_int(spec.interval) or spec.interval < 1:
    fail('ada.interval', spec.interval, 'it must be a positive integer (steps)')
  if not is_number(spec.kimg) or not spec.kimg > 0:
    fail('ada.kimg', spec.kimg, 'it must be positive (thousands of real images)')
  if config.augment != 'ada' and spec.p:
    fail('ada.p', spec.p, f"it is used by augment='ada' only (augment={config.augment!r})")
  if config.augment == 'ada' and not spec.p and not spec.target:
    fail('ada.target', spec.target, 'with ada.p = 0 as well, ADA would never augment; set a '
         'target (0.6 in the paper) or a fixed p')
  if not is_number(config.lecam.weight) or not config.lecam.weight >= 0:
    fail('lecam.weight', config.lecam.weight, 'it must be >= 0 (0 turns LeCam off)')
  if not is_number(config.lecam.decay) or not 0 <= config.lecam.decay < 1:
    fail('lecam.decay', config.lecam.decay, 'it must be in [0, 1)')
  for side in ('real', 'fake'):
    if not is_number(config.consistency[side]) or not config.consistency[side] >= 0:
      fail(f'consistency.{side}', config.consistency[side], 'it must be >= 0 (0 turns it off)')
  if config.train_subset and config.labelled_examples:
    fail('train_subset', config.train_subset, 'the semi-supervised GAN draws its labelled '
         'records from all training records; set train_subset to 0')


def _check_variants(config) -> None:
  """Conditioning, MIX+GAN and the semi-supervised GAN."""
  if config.conditioning not in models.CONDITIONINGS:
    fail('conditioning', config.conditioning, f'choose one of {list(models.CONDITIONINGS)}')
  if not is_int(config.num_classes) or config.num_classes < 0:
    fail('num_classes', config.num_classes, 'it must be an integer >= 0')
  if config.conditioning != 'none' and config.num_classes < 2:
    fail('num_classes', config.num_classes,
         f'conditioning={config.conditioning!r} needs the number of classes of the dataset\'s '
         'labels (>= 2), e.g. 10 for digits')
  if not is_int(config.mixture_components) or config.mixture_components < 1:
    fail('mixture_components', config.mixture_components, 'it must be an integer >= 1 (1 = one '
         'generator and one discriminator)')
  if config.mixture_components > 1:
    if not config.mixture_entropy >= 0:  # NaN too.
      fail('mixture_entropy', config.mixture_entropy, 'it must be >= 0')
    for key, off in (('conditioning', 'none'), ('gradient_penalty', 'none'), ('weight_clip', 0.0)):
      if config[key] != off:
        fail(key, config[key], f'MIX+GAN (mixture_components > 1) is implemented for '
             f'unconditional players without gradient penalty or weight clipping; set {key} to '
             f'{off!r} or mixture_components to 1')
    refuse_regularizers(config, 'MIX+GAN (mixture_components > 1) is implemented without '
                         'gradient penalties')
  for key in ('labelled_examples', 'holdout_examples'):
    if not is_int(config[key]) or config[key] < 0:
      fail(key, config[key], 'it must be an integer >= 0')
  if config.labelled_examples:
    if config.num_classes < 2 or config.labelled_examples % config.num_classes:
      fail('labelled_examples', config.labelled_examples,
           f'the semi-supervised GAN takes the same number of labelled examples of each of the '
           f'num_classes={config.num_classes} classes (num_classes >= 2), so it must be a '
           f'multiple of num_classes')
    for key, needed in (('conditioning', 'none'), ('mixture_components', 1),
                        ('loss', 'non_saturating'), ('gradient_penalty', 'none')):
      if config[key] != needed:
        fail(key, config[key], f'the semi-supervised GAN (labelled_examples > 0) needs {key} = '
             f'{needed!r}: G is unconditional, D is a K+1-class classifier trained with '
             'cross-entropy, G uses feature matching')
    refuse_regularizers(config, 'the semi-supervised GAN (labelled_examples > 0) is '
                         'implemented without gradient penalties')
  if not config.ac_weight > 0:
    fail('ac_weight', config.ac_weight, 'it must be positive')


def _check_players(config) -> None:
  """The registries' own checks (known name, fields, norm, conditioning), then the data the
  players can take and the image sizes they can make (traced, not compiled)."""
  for role, build in (
      ('generator', lambda spec: models.build_generator(
          spec, (4, 4, 1), num_classes=config.num_classes, conditioning=config.conditioning)),
      ('discriminator', lambda spec: models.build_discriminator(
          spec, num_classes=config.num_classes, conditioning=config.conditioning))):
    try:
      build(config[role])
    except ValueError as e:
      raise errors.ConfigError(str(e)) from None
  if not isinstance(config.dataset, str) or not config.dataset:
    fail('dataset', config.dataset, f'name an offline dataset {list(OFFLINE_DATASETS)} or a '
         'TFDS image dataset')
  if sources.is_point_dataset(config.dataset):
    if config.augment != 'none':
      fail('augment', config.augment, f'dataset {config.dataset!r} holds 2-D points; the '
           "augmentations transform images: set it to 'none'")
    for role in ('generator', 'discriminator'):
      if config[role].name != 'mlp':
        fail(f'{role}.name', config[role].name,
             f'dataset {config.dataset!r} holds 2-D points, which only the mlp models take')
    return
  conditioning = 'semi_supervised' if config.labelled_examples else config.conditioning
  for role in ('generator', 'discriminator'):
    problem = _size_problem(role, json.dumps(config[role].to_dict(), sort_keys=True),
                            config.image_size, config.num_classes, conditioning)
    if problem:
      raise errors.ConfigError(f'config.image_size={config.image_size!r} with config.{role}='
                               f'{config[role].to_dict()}: {problem}')


@functools.lru_cache(maxsize=256)
def _size_problem(role: str, spec_json: str, image_size: int, num_classes: int,
                  conditioning: str) -> str:
  """Why this architecture cannot make or read image_size images ('' when it can): its own
  ValueError when its initialisation is traced at that size."""
  spec = json.loads(spec_json)
  shape = (image_size, image_size, 1)
  labels = jnp.zeros((1,), jnp.int32) if conditioning != 'none' else None
  try:
    if role == 'generator':
      module = models.build_generator(spec, shape, num_classes=num_classes,
                                      conditioning='none' if conditioning == 'semi_supervised'
                                      else conditioning)
      jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros((1, 4)), labels,
                                         train=False))
    else:
      module = models.build_discriminator(spec, num_classes=num_classes,
                                          conditioning=conditioning)
      jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros((1,) + shape),
                                         None if conditioning == 'semi_supervised' else labels,
                                         train=False))
  except (ValueError, TypeError) as e:  # The architecture's own message.
    return f'{type(e).__name__}: {e}' if isinstance(e, TypeError) else str(e)
  return ''


def _check_evals(config) -> None:
  evals = config.evals
  if not is_int(evals.every) or evals.every < 0:
    fail('evals.every', evals.every, 'it must be an integer >= 0 (0 turns evaluation off)')
  if not evals.every:
    return
  for key in ('num_samples', 'num_reference'):
    if not is_int(evals[key]) or evals[key] <= 0:
      fail(f'evals.{key}', evals[key], 'it must be a positive integer')
  try:
    metrics = checks.parse_metrics(evals.metrics)
    if not metrics:
      raise checks.EvaluationError('evals.every > 0 needs at least one metric in evals.metrics.')
    checks.check_request(metrics, config.dataset, evals.features, evals.num_samples,
                            'config.evals.num_samples')
    labelled = [m for m in metrics if m in checks.LABELLED_METRICS]
    if labelled and config.conditioning == 'none':
      raise checks.EvaluationError(f'{labelled[0]} needs a conditional GAN; set '
                                      'config.conditioning and config.num_classes.')
  except checks.EvaluationError as e:
    raise errors.ConfigError(f'config.evals.metrics={evals.metrics!r}: {e}') from None
  if evals.features and not os.path.isfile(evals.features):
    fail('evals.features', evals.features, 'no such file; train one with `python -m '
         'gan_jax.evaluate train-classifier` or convert InceptionV3 weights')
