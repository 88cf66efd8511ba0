"""The config schema: every key a run may set, its default, and the checks made before compiling.

Config files in `configs/` start from `base_config()` and change what their experiment needs, so
every config has the same keys; a key that is not in the schema is an error (on the command line
ml_collections refuses it, in code `validate` does).
"""

import difflib
import importlib.util
import inspect
import math
import os
from typing import Sequence

import ml_collections
import optax

from gan_jax import errors
from gan_jax import losses
from gan_jax import models
from gan_jax.data import sources
from gan_jax.evaluation import evaluator

OPTIMIZERS = ('adam', 'adamw', 'rmsprop', 'sgd', 'lion')
LR_SCHEDULES = ('constant', 'linear_decay', 'constant_then_linear_decay')
TASKS = ('gan', 'pix2pix', 'cyclegan')
# Where a translation task's pairs come from (config.translation.data), per task.
TRANSLATION_DATA = {
    'pix2pix': ('paired', 'superres', 'inpaint'),
    'cyclegan': ('unpaired', 'colour_digits'),
}
MAX_STEPS = 2**31 - 3  # Train steps are fold_in(seed, step); 2**31 - 2 and - 1 are other streams.
MAX_SAMPLE_IMAGES = 10_000
OFFLINE_DATASETS = ('ring8', 'grid25', 'digits', 'npz:PATH')


ConfigError = errors.ConfigError


def base_config() -> ml_collections.ConfigDict:
  """Defaults: DCGAN with the non-saturating loss on the offline `digits` data."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  # 'gan' (a generator of samples), or image-to-image translation (gan_jax/translation.py):
  # 'pix2pix' (paired) or 'cyclegan' (unpaired), configured by config.translation.
  c.task = 'gan'
  # Data: 'ring8', 'grid25', 'digits', 'npz:PATH' or any TFDS image dataset name ('mnist', ...).
  c.dataset = 'digits'
  c.dataset_split = 'train'  # TFDS split.
  c.data_dir = ''  # TFDS data_dir; '' means TFDS's default (~/tensorflow_datasets or $TFDS_DATA_DIR).
  c.image_size = 32  # Images are padded or resized to image_size x image_size; unused for 2-D points.
  c.total_steps = 2000
  c.batch_size = 64  # Real images per discriminator update (a step uses n_critic * batch_size).
  c.latent_dim = 100

  # Objective (gan_jax/losses.py).
  c.loss = 'non_saturating'
  c.label_smoothing = 0.0  # One-sided: real target = 1 - label_smoothing (cross-entropy losses).
  c.gradient_penalty = 'none'  # 'none', 'wgan_gp' or 'r1'.
  c.gp_weight = 10.0  # lambda of WGAN-GP, gamma of R1.
  c.weight_clip = 0.0  # WGAN weight clipping of D's parameters to [-c, c]; 0 = off.
  c.n_critic = 1  # Discriminator updates per generator update.

  # Conditional GANs (labels y from the dataset): 'concat', 'projection' or 'acgan'
  # (gan_jax.models.CONDITIONINGS); num_classes K, labels 0..K-1; ac_weight scales AC-GAN's
  # class cross-entropy in both players' losses.
  c.conditioning = 'none'
  c.num_classes = 0
  c.ac_weight = 1.0

  # MIX+GAN (Arora et al. 2017): K generators and K discriminators with learned mixture weights
  # and an entropy regulariser of weight mixture_entropy on each player's weights; 1 = one GAN.
  c.mixture_components = 1
  c.mixture_entropy = 0.1

  # Semi-supervised GAN (Salimans et al. 2016): labelled_examples N > 0 makes D a K-class
  # classifier (K = num_classes, plus the implicit fake class) trained on N labelled training
  # records (N / K per class, fixed by the seed) and on all training records unlabelled; G learns
  # by feature matching. The last holdout_examples records of the dataset are never trained on;
  # the trainer reports D's test accuracy on them (eval/test_accuracy) at every checkpoint.
  c.labelled_examples = 0
  c.holdout_examples = 0

  # Players: a registered architecture by name plus that module's fields.
  c.generator = ml_collections.ConfigDict(dict(name='dcgan', width=64, norm='batch'))
  c.discriminator = ml_collections.ConfigDict(dict(name='dcgan', width=64, norm='batch'))
  # Optimizers: any of OPTIMIZERS, with optax's keyword arguments (separate ones allow TTUR).
  c.g_optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999))
  c.d_optimizer = ml_collections.ConfigDict(dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999))
  # Or 'linear_decay': to 0 at total_steps, for both players; 'constant_then_linear_decay':
  # constant for the first half of total_steps, then linearly to 0 (CycleGAN, pix2pix).
  c.lr_schedule = 'constant'
  c.ema_decay = 0.999  # EMA of G's parameters, used for samples; 0 = off.

  # Image-to-image translation (task 'pix2pix' or 'cyclegan'; gan_jax/data/translation.py).
  # data: pix2pix 'paired' (an npz of `inputs` and `images`), 'superres' (input: the image
  # box-downsampled by superres_factor, then bicubic-upsampled) or 'inpaint' (input: the image
  # with an inpaint_size square set to grey); cyclegan 'unpaired' (domain A = config.dataset,
  # domain B = dataset_b, split split_b) or 'colour_digits' (A = the first half of the training
  # records as RGB, B = the second half with inverted, coloured strokes: a hidden truth).
  # The last config.holdout_examples records are never trained on: sample grids and, for the
  # offline tasks, the measured errors use them. Loss weights as in the papers.
  c.translation = ml_collections.ConfigDict(dict(
      data='paired',
      dataset_b='',
      split_b='train',
      superres_factor=4,
      inpaint_size=12,
      l1_weight=100.0,  # pix2pix's lambda_L1.
      cycle_weight=10.0,  # CycleGAN's lambda.
      identity_weight=0.5,  # CycleGAN's identity loss weight, relative to lambda; 0 = off.
      pool_size=50))  # CycleGAN's history of generated images per discriminator; 0 = off.

  # Speed (benchmarks/RESULTS.md). compute_dtype 'bfloat16': layers compute in bfloat16 while
  # parameters, optimizer states, batch-norm statistics and losses stay float32 (mixed precision,
  # for GPUs and TPUs). steps_per_call K: K train steps per dispatch, a lax.scan over K batches,
  # to hide per-step dispatch on accelerators; keep 1 on CPU, where XLA runs convolutions inside
  # a loop far slower. log/sample/checkpoint/eval intervals and total_steps must be multiples of K.
  c.compute_dtype = 'float32'
  # 'replicated' train state, or 'fsdp': large arrays of the state split over the devices
  # (gan_jax/sharding.py); the same steps with less memory per device, for large models.
  c.param_sharding = 'replicated'
  c.steps_per_call = 1

  # Non-finite losses or parameters (checked every log_every steps and before each checkpoint):
  # 'stop' the run naming the step and the player, or 'rollback': restart from the last
  # checkpoint with both learning rates times rollback_lr_factor, at most max_rollbacks times.
  c.on_nonfinite = 'stop'
  c.rollback_lr_factor = 0.5
  c.max_rollbacks = 3

  # Bookkeeping.
  c.log_every = 50
  c.checkpoint_every = 500
  c.keep_checkpoints = 3
  c.sample_every = 500
  c.num_sample_images = 64

  # Periodic evaluation (gan_jax/evaluation/evaluator.py) of the EMA generator against the
  # training data, into metrics.jsonl and TensorBoard as eval/*; every = 0 turns it off.
  c.evals = ml_collections.ConfigDict(dict(
      every=0,
      metrics='',  # Comma-separated, e.g. 'fid,kid,pr,dc,classes' or 'modes' for 2-D data.
      features='',  # Weights of the feature extractor (classifier or InceptionV3 .npz).
      num_samples=2000,
      num_reference=10_000))
  return c


def from_file(path, arg: str = '') -> ml_collections.ConfigDict:
  """get_config(arg) of a config file (what --config=PATH[:ARG] names); ConfigError when the file
  is missing, does not parse, has no get_config or refuses the argument."""
  path = os.fspath(path)
  where = f'--config={path}{":" + arg if arg else ""}'
  if not path.endswith('.py') or not os.path.isfile(path):
    raise ConfigError(f'{where}: {"no such file" if not os.path.exists(path) else "not a .py file"}'
                      f'; name a config file such as configs/dcgan.py (optionally with :ARG).')
  spec = importlib.util.spec_from_file_location(f'gan_jax_config_{os.path.basename(path)[:-3]}',
                                                path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except SyntaxError as e:
    raise ConfigError(f'{where}: the file does not parse: line {e.lineno}: {e.msg}.') from None
  if not callable(getattr(module, 'get_config', None)):
    raise ConfigError(f'{where}: the file has no get_config(arg) function; start from one of '
                      'configs/*.py.')
  try:
    config = module.get_config(arg) if arg else module.get_config()
  except errors.Error:
    raise
  except Exception as e:  # pylint: disable=broad-except (a bug in the config file: say where)
    raise ConfigError(f'{where}: get_config raised {type(e).__name__}: {e}') from e
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f'{where}: get_config returned {type(config).__name__}, not a ConfigDict '
                      'from gan_jax.configuration.base_config().')
  return config


def config_arg(config_file: str, arg: str, choices: Sequence[str] = ()) -> str:
  """The ARG of configs/NAME.py:ARG, refused unless it is one of `choices` (the first is the
  default when no argument is given); a file with no choices takes no argument."""
  name = f'configs/{os.path.basename(config_file)}'
  if not choices:
    if arg:
      raise ConfigError(f'{name}:{arg}: {name} takes no argument; drop ":{arg}".')
    return ''
  arg = arg or choices[0]
  if arg not in choices:
    raise ConfigError(f'{name}:{arg}: unknown argument {arg!r}; {name} takes '
                      f'{" or ".join(repr(c) for c in choices)}.')
  return arg


def check_override_keys(config: ml_collections.ConfigDict, keys: Sequence[str]) -> None:
  """ConfigError for a --config.KEY override whose KEY (dotted) is not in the config, with the
  closest keys it has."""
  for key in keys:
    node, parts = config, key.split('.')
    for i, part in enumerate(parts):
      if isinstance(node, ml_collections.ConfigDict) and part in node:
        node = node[part]
        continue
      prefix = '.'.join(parts[:i])
      names = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
      close = difflib.get_close_matches(part, names, n=3)
      where = f'config.{prefix}' if prefix else 'the config'
      hint = (f'did you mean {", ".join(repr(n) for n in close)}? ' if close else '')
      raise ConfigError(f'--config.{key}: {where} has no key {part!r}; {hint}the keys are those '
                        'of gan_jax.configuration.base_config() (README, "Useful keys").')


def _fail(key, value, allowed):
  raise ConfigError(f'config.{key}={value!r} is not allowed: {allowed}.')


# The ranges of optax's hyperparameters, by argument name: (low, high, whether low is allowed);
# high is never allowed (a decay of 1 never forgets, a beta of 1 divides by zero in Adam's bias
# correction). None (e.g. sgd's momentum) means off.
_OPTIMIZER_RANGES = {'b1': (0.0, 1.0, True), 'b2': (0.0, 1.0, True), 'decay': (0.0, 1.0, True),
                     'momentum': (0.0, 1.0, True), 'eps': (0.0, math.inf, False),
                     'eps_root': (0.0, math.inf, True), 'weight_decay': (0.0, math.inf, True),
                     'initial_scale': (0.0, math.inf, True)}


def _check_optimizer(config, key):
  spec = dict(config[key])
  name = spec.pop('name', None)
  if name not in OPTIMIZERS:
    _fail(f'{key}.name', name, f'choose one of {list(OPTIMIZERS)}')
  accepted = set(inspect.signature(getattr(optax, name)).parameters)
  unknown = sorted(set(spec) - accepted)
  if unknown:
    raise ConfigError(f'config.{key} has keys {unknown} that optax.{name} does not take; '
                      f'it takes {sorted(accepted)}.')
  lr = spec.get('learning_rate')
  if not _is_number(lr) or not 0 < lr < math.inf:
    _fail(f'{key}.learning_rate', lr, 'it must be a positive, finite number')
  for arg, (low, high, low_ok) in _OPTIMIZER_RANGES.items():
    value = spec.get(arg)
    if value is None:
      continue
    if not _is_number(value) or not (low <= value < high if low_ok else low < value < high):
      _fail(f'{key}.{arg}', value, f'optax.{name} takes {arg} in {"[" if low_ok else "("}{low:g}, '
            f'{high:g})')


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_finite(config, prefix: str = '') -> None:
  """Every float of the config (nested ones too) is finite: inf and NaN would only show up as
  a diverged run after compiling."""
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      _check_finite(value, f'{prefix}{key}.')
    elif isinstance(value, float) and not math.isfinite(value):
      _fail(f'{prefix}{key}', value, 'it must be a finite number')


def _check_evals(config):
  evals = config.evals
  unknown = sorted(set(evals.keys()) - set(base_config().evals.keys()))
  if unknown:
    raise ConfigError(f'Unknown keys {unknown} in config.evals; it has '
                      f'{sorted(base_config().evals.keys())}.')
  if not isinstance(evals.every, int) or evals.every < 0:
    _fail('evals.every', evals.every, 'it must be an integer >= 0 (0 turns evaluation off)')
  if not evals.every:
    return
  for key in ('num_samples', 'num_reference'):
    if not isinstance(evals[key], int) or evals[key] <= 0:
      _fail(f'evals.{key}', evals[key], 'it must be a positive integer')
  try:
    metrics = evaluator.parse_metrics(evals.metrics)
    if not metrics:
      raise evaluator.EvaluationError('evals.every > 0 needs at least one metric in evals.metrics.')
    evaluator.check_request(metrics, config.dataset, evals.features, evals.num_samples,
                            'config.evals.num_samples')
    if 'label_agreement' in metrics and config.conditioning == 'none':
      raise evaluator.EvaluationError('label_agreement needs a conditional GAN; set '
                                      'config.conditioning and config.num_classes.')
  except evaluator.EvaluationError as e:
    raise ConfigError(f'config.evals.metrics={evals.metrics!r}: {e}') from None
  if evals.features and not os.path.isfile(evals.features):
    _fail('evals.features', evals.features, 'no such file; train one with `python -m '
          'gan_jax.evaluate train-classifier` or convert InceptionV3 weights')


# Keys of the GAN task that translation tasks do not use, with the value they must keep (a value
# that would be silently ignored is refused instead).
_UNUSED_BY_TRANSLATION = (('n_critic', 1), ('conditioning', 'none'), ('mixture_components', 1),
                          ('labelled_examples', 0), ('gradient_penalty', 'none'),
                          ('label_smoothing', 0.0), ('weight_clip', 0.0), ('ema_decay', 0.0),
                          ('steps_per_call', 1))
# The adversarial loss of each translation task, as in its paper (config.loss must name it).
TRANSLATION_LOSSES = {'pix2pix': 'non_saturating', 'cyclegan': 'least_squares'}


def _check_translation(config) -> None:
  """The checks of a pix2pix or CycleGAN config (the image size is checked against the
  networks by gan_jax.translation once the data's channels are known)."""
  t = config.translation
  unknown = sorted(set(t.keys()) - set(base_config().translation.keys()))
  if unknown:
    raise ConfigError(f'Unknown keys {unknown} in config.translation; it has '
                      f'{sorted(base_config().translation.keys())}.')
  task = config.task
  for key, needed in _UNUSED_BY_TRANSLATION:
    if config[key] != needed:
      _fail(key, config[key], f'task={task!r} does not use it; set it to {needed!r}')
  if config.loss != TRANSLATION_LOSSES[task]:
    _fail('loss', config.loss, f'task={task!r} trains with its paper\'s loss, '
          f'{TRANSLATION_LOSSES[task]!r}')
  if config.evals.every:
    _fail('evals.every', config.evals.every, f'task={task!r} measures its held-out errors at '
          'every checkpoint instead; set it to 0 (evals.features names the digit classifier)')
  if t.data not in TRANSLATION_DATA[task]:
    _fail('translation.data', t.data, f'task={task!r} takes {list(TRANSLATION_DATA[task])}')
  if t.data == 'unpaired' and not t.dataset_b:
    _fail('translation.dataset_b', t.dataset_b, "translation.data='unpaired' needs domain B's "
          'dataset (any config.dataset name)')
  for key in ('superres_factor', 'inpaint_size'):
    if not isinstance(t[key], int) or t[key] < 1:
      _fail(f'translation.{key}', t[key], 'it must be a positive integer')
  if t.data == 'superres' and config.image_size % t.superres_factor:
    _fail('translation.superres_factor', t.superres_factor,
          f'it must divide config.image_size={config.image_size}')
  if t.data == 'inpaint' and t.inpaint_size > config.image_size - 4:
    _fail('translation.inpaint_size', t.inpaint_size,
          f'the square must fit inside the image (at most image_size - 4 = '
          f'{config.image_size - 4})')
  for key in ('l1_weight', 'cycle_weight', 'identity_weight'):
    if not t[key] >= 0:
      _fail(f'translation.{key}', t[key], 'it must be >= 0')
  if not isinstance(t.pool_size, int) or t.pool_size < 0:
    _fail('translation.pool_size', t.pool_size, 'it must be an integer >= 0 (0 = no pool)')
  if config.evals.features and not os.path.isfile(config.evals.features):
    _fail('evals.features', config.evals.features, 'no such file; train one with `python -m '
          'gan_jax.evaluate train-classifier`')
  for role, build in (('generator', models.build_translator),
                      ('discriminator', models.build_patch_discriminator)):
    try:
      build(config[role])
    except ValueError as e:
      raise ConfigError(str(e)) from None
  if not isinstance(config.dataset, str) or not config.dataset or sources.is_point_dataset(config.dataset):
    _fail('dataset', config.dataset, 'translation needs an image dataset (npz:PATH, digits or a '
          'TFDS image dataset)')


def validate(config, num_data_shards: int = 1) -> None:
  """Raises ConfigError for any value that cannot work; cheap, so it runs before compilation.

  num_data_shards: the size of the mesh's data axis (the batch must split evenly over it).
  """
  unknown = sorted(set(config.keys()) - set(base_config().keys()))
  if unknown:
    raise ConfigError(f'Unknown config keys {unknown}; the keys are those of '
                      'gan_jax.configuration.base_config().')
  missing = sorted(set(base_config().keys()) - set(config.keys()))
  if missing:
    raise ConfigError(f'Config is missing keys {missing}; start config files from '
                      'gan_jax.configuration.base_config().')

  for key in ('total_steps', 'batch_size', 'latent_dim', 'n_critic', 'log_every',
              'checkpoint_every', 'keep_checkpoints', 'sample_every', 'num_sample_images',
              'steps_per_call', 'image_size'):
    value = config[key]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
      _fail(key, value, 'it must be a positive integer')
  _check_finite(config)
  if config.total_steps > MAX_STEPS:
    _fail('total_steps', config.total_steps, f'the step counter is a 32-bit integer and the '
          f'random streams of evaluation use the steps above it; at most {MAX_STEPS:,}')
  if config.num_sample_images > MAX_SAMPLE_IMAGES:
    _fail('num_sample_images', config.num_sample_images, f'a picture of more than '
          f'{MAX_SAMPLE_IMAGES:,} samples is unreadable; draw many samples with python -m '
          'gan_jax.sample instead')
  if not isinstance(config.seed, int) or not 0 <= config.seed < 2**31:
    _fail('seed', config.seed, 'it must be an integer in [0, 2**31)')
  if config.batch_size % num_data_shards:
    _fail('batch_size', config.batch_size,
          f'it must be divisible by the {num_data_shards} devices of the data axis')

  if config.param_sharding not in ('replicated', 'fsdp'):
    _fail('param_sharding', config.param_sharding, "choose 'replicated' or 'fsdp'")
  if config.compute_dtype not in models.COMPUTE_DTYPES:
    _fail('compute_dtype', config.compute_dtype, f'choose one of {list(models.COMPUTE_DTYPES)}')
  for key in ('total_steps', 'log_every', 'sample_every', 'checkpoint_every', 'evals.every'):
    value = config.evals.every if key == 'evals.every' else config[key]
    if isinstance(value, int) and value % config.steps_per_call:
      _fail(key, value, f'it must be a multiple of steps_per_call={config.steps_per_call}, since '
            'the trainer only sees the state between calls')
  if config.loss not in losses.OBJECTIVES:
    _fail('loss', config.loss, f'choose one of {sorted(losses.OBJECTIVES)}')
  if not 0.0 <= config.label_smoothing < 1.0:
    _fail('label_smoothing', config.label_smoothing, 'it must be in [0, 1)')
  if config.label_smoothing and not losses.OBJECTIVES[config.loss].supports_label_smoothing:
    _fail('label_smoothing', config.label_smoothing,
          f'label smoothing applies to the cross-entropy losses only (minimax, non_saturating), '
          f'not to loss={config.loss!r}; set it to 0')
  penalties = ['none'] + sorted(losses.GRADIENT_PENALTIES)
  if config.gradient_penalty not in penalties:
    _fail('gradient_penalty', config.gradient_penalty, f'choose one of {penalties}')
  if config.gradient_penalty != 'none':
    if not config.gp_weight > 0:
      _fail('gp_weight', config.gp_weight, 'it must be positive when a gradient penalty is on')
    if config.discriminator.get('norm') == 'batch':
      _fail('discriminator.norm', 'batch',
            'a gradient penalty needs per-sample gradients, which batch norm couples across the '
            "batch; use 'layer' or 'none' (Gulrajani et al. 2017)")
  if not config.weight_clip >= 0:  # NaN too.
    _fail('weight_clip', config.weight_clip, 'it must be >= 0 (0 turns clipping off)')
  if not 0.0 <= config.ema_decay < 1.0:
    _fail('ema_decay', config.ema_decay, 'it must be in [0, 1) (0 turns the EMA off)')
  if config.on_nonfinite not in ('stop', 'rollback'):
    _fail('on_nonfinite', config.on_nonfinite, "choose 'stop' or 'rollback'")
  if not 0.0 < config.rollback_lr_factor < 1.0:
    _fail('rollback_lr_factor', config.rollback_lr_factor, 'it must be in (0, 1)')
  if not isinstance(config.max_rollbacks, int) or config.max_rollbacks < 0:
    _fail('max_rollbacks', config.max_rollbacks, 'it must be an integer >= 0')
  if config.lr_schedule not in LR_SCHEDULES:
    _fail('lr_schedule', config.lr_schedule, f'choose one of {list(LR_SCHEDULES)}')
  _check_optimizer(config, 'g_optimizer')
  _check_optimizer(config, 'd_optimizer')

  if config.conditioning not in models.CONDITIONINGS:
    _fail('conditioning', config.conditioning, f'choose one of {list(models.CONDITIONINGS)}')
  if not isinstance(config.num_classes, int) or config.num_classes < 0:
    _fail('num_classes', config.num_classes, 'it must be an integer >= 0')
  if config.conditioning != 'none' and config.num_classes < 2:
    _fail('num_classes', config.num_classes,
          f'conditioning={config.conditioning!r} needs the number of classes of the dataset\'s '
          'labels (>= 2), e.g. 10 for digits')
  if not isinstance(config.mixture_components, int) or config.mixture_components < 1:
    _fail('mixture_components', config.mixture_components, 'it must be an integer >= 1 (1 = one '
          'generator and one discriminator)')
  if config.mixture_components > 1:
    if not config.mixture_entropy >= 0:  # NaN too.
      _fail('mixture_entropy', config.mixture_entropy, 'it must be >= 0')
    for key, off in (('conditioning', 'none'), ('gradient_penalty', 'none'), ('weight_clip', 0.0)):
      if config[key] != off:
        _fail(key, config[key], f'MIX+GAN (mixture_components > 1) is implemented for '
              f'unconditional players without gradient penalty or weight clipping; set {key} to '
              f'{off!r} or mixture_components to 1')
  for key in ('labelled_examples', 'holdout_examples'):
    if not isinstance(config[key], int) or config[key] < 0:
      _fail(key, config[key], 'it must be an integer >= 0')
  if config.labelled_examples:
    if config.num_classes < 2 or config.labelled_examples % config.num_classes:
      _fail('labelled_examples', config.labelled_examples,
            f'the semi-supervised GAN takes the same number of labelled examples of each of the '
            f'num_classes={config.num_classes} classes (num_classes >= 2), so it must be a '
            f'multiple of num_classes')
    for key, needed in (('conditioning', 'none'), ('mixture_components', 1),
                        ('loss', 'non_saturating'), ('gradient_penalty', 'none')):
      if config[key] != needed:
        _fail(key, config[key], f'the semi-supervised GAN (labelled_examples > 0) needs {key} = '
              f'{needed!r}: G is unconditional, D is a K+1-class classifier trained with '
              'cross-entropy, G uses feature matching')
  if not config.ac_weight > 0:
    _fail('ac_weight', config.ac_weight, 'it must be positive')

  if config.task not in TASKS:
    _fail('task', config.task, f'choose one of {list(TASKS)}')
  if config.task != 'gan':
    _check_translation(config)
    return

  # The registries' own checks (known name, fields, norm, conditioning); building is cheap.
  for role, build in (
      ('generator', lambda spec: models.build_generator(
          spec, (4, 4, 1), num_classes=config.num_classes, conditioning=config.conditioning)),
      ('discriminator', lambda spec: models.build_discriminator(
          spec, num_classes=config.num_classes, conditioning=config.conditioning))):
    try:
      build(config[role])
    except ValueError as e:
      raise ConfigError(str(e)) from None

  _check_evals(config)
  if not isinstance(config.dataset, str) or not config.dataset:
    _fail('dataset', config.dataset, f'name an offline dataset {list(OFFLINE_DATASETS)} or a '
          'TFDS image dataset')
  if sources.is_point_dataset(config.dataset):
    for role in ('generator', 'discriminator'):
      if config[role].name != 'mlp':
        _fail(f'{role}.name', config[role].name,
              f'dataset {config.dataset!r} holds 2-D points, which only the mlp models take')
  elif {'dcgan', 'sngan'} & {config.generator.name, config.discriminator.name}:
    try:
      models.spatial_plan(config.image_size)
    except ValueError as e:
      raise ConfigError(f'config.image_size={config.image_size!r}: {e}') from None
