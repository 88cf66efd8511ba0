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

from gan_jax import config_checks
from gan_jax import errors
from gan_jax import models
from gan_jax import sharding
from gan_jax.config_checks import fail as _fail
from gan_jax.games import gan_config
from gan_jax.games import translation_config

OPTIMIZERS = ('adam', 'adamw', 'rmsprop', 'sgd', 'lion')
LR_SCHEDULES = ('constant', 'linear_decay', 'constant_then_linear_decay')
TASKS = ('gan', 'pix2pix', 'cyclegan')  # The games (gan_jax/games).
MAX_STEPS = 2**31 - 2  # The step counter is an int32 (step + 1 must fit).
MAX_SAMPLE_IMAGES = 10_000


ConfigError = errors.ConfigError


def base_config() -> ml_collections.ConfigDict:
  """Defaults: DCGAN with the non-saturating loss on the offline `digits` data."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  # 'gan' (a generator of samples), or image-to-image translation (gan_jax/games/translation.py):
  # 'pix2pix' (paired) or 'cyclegan' (unpaired), configured by config.translation.
  c.task = 'gan'
  # Data: 'ring8', 'grid25', 'digits', 'npz:PATH' or any TFDS image dataset name ('mnist', ...).
  c.dataset = 'digits'
  c.dataset_split = 'train'  # TFDS split.
  c.data_dir = ''  # TFDS data_dir; '' means TFDS's default (~/tensorflow_datasets or $TFDS_DATA_DIR).
  # Train on a fixed subset of N training records (0 = all), drawn by train_subset_seed, the same
  # for every config.seed (data-efficient training: e.g. 800 of MNIST's digits).
  c.train_subset = 0
  c.train_subset_seed = 0
  c.image_size = 32  # Images are padded or resized to image_size x image_size; unused for 2-D points.
  c.total_steps = 2000
  c.batch_size = 64  # Real images per discriminator update (a step uses n_critic * batch_size).
  c.latent_dim = 100

  # Objective and loss terms (gan_jax/losses.py, gan_jax/games/gan_terms.py).
  c.loss = 'non_saturating'  # Or minimax, wasserstein, least_squares, hinge, rpgan, ragan.
  c.label_smoothing = 0.0  # One-sided: real target = 1 - label_smoothing (cross-entropy losses).
  c.gradient_penalty = 'none'  # Short form of one regularizer: 'none', 'wgan_gp', 'r1' or 'r2'.
  c.gp_weight = 10.0  # Its weight: lambda of WGAN-GP, gamma of R1 / R2.
  # D's gradient penalties by name, each {weight (0 = off), every (lazy: every k-th D update,
  # times k)}, e.g. --config.regularizers.r1.weight=1 --config.regularizers.r2.weight=1.
  c.regularizers = gan_config.regularizer_defaults()
  c.weight_clip = 0.0  # WGAN weight clipping of D's parameters to [-c, c]; 0 = off.
  c.n_critic = 1  # Discriminator updates per generator update.
  # What D's inputs pass through (gan_jax/augment.py): reals, fakes, penalties. 'none', a
  # DiffAugment policy ('color,translation,cutout', ..., Zhao et al. 2020) or 'ada' (Karras et
  # al. 2020), configured by config.ada: the groups of its pipeline, the initial p, the target of
  # r_t = E[sign(D(real))] (0 keeps p fixed), every how many steps p is adjusted and in how many
  # thousand real images it can move by 1 (the paper's 0.6, 4, 500).
  c.augment = 'none'
  c.ada = gan_config.ada_defaults()
  # LeCam (Tseng et al. 2021): weight (0 = off) of E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2]
  # with a_R, a_F moving averages (decay) of D's real and fake outputs.
  c.lecam = ml_collections.ConfigDict(dict(weight=0.0, decay=0.99))
  # Consistency regularisation, weights of ||D(x) - D(T(x))||^2 on reals and on fakes (T: flip and
  # translation): CR (Zhang et al. 2020) is real > 0; balanced CR (Zhao et al. 2021) both (10, 10).
  c.consistency = ml_collections.ConfigDict(dict(real=0.0, fake=0.0))

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

  # Image-to-image translation (task 'pix2pix' or 'cyclegan'; gan_jax/games/translation_config.py).
  c.translation = translation_config.defaults()

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
  if not config_checks.is_number(lr) or not 0 < lr < math.inf:
    _fail(f'{key}.learning_rate', lr, 'it must be a positive, finite number')
  for arg, (low, high, low_ok) in _OPTIMIZER_RANGES.items():
    value = spec.get(arg)
    if value is None:
      continue
    if not config_checks.is_number(value) or not (low <= value < high if low_ok else low < value < high):
      _fail(f'{key}.{arg}', value, f'optax.{name} takes {arg} in {"[" if low_ok else "("}{low:g}, '
            f'{high:g})')


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
  config_checks.finite(config)
  if config.total_steps > MAX_STEPS:
    _fail('total_steps', config.total_steps, f'the step counter is a 32-bit integer; at most '
          f'{MAX_STEPS:,}')
  if config.num_sample_images > MAX_SAMPLE_IMAGES:
    _fail('num_sample_images', config.num_sample_images, f'a picture of more than '
          f'{MAX_SAMPLE_IMAGES:,} samples is unreadable; draw many samples with python -m '
          'gan_jax.sample instead')
  if not isinstance(config.seed, int) or not 0 <= config.seed < 2**31:
    _fail('seed', config.seed, 'it must be an integer in [0, 2**31)')
  if not isinstance(config.holdout_examples, int) or config.holdout_examples < 0:
    _fail('holdout_examples', config.holdout_examples, 'it must be an integer >= 0')
  if config.batch_size % num_data_shards:
    _fail('batch_size', config.batch_size,
          f'it must be divisible by the {num_data_shards} devices of the data axis')

  if config.param_sharding not in sharding.PARAM_SHARDINGS:
    _fail('param_sharding', config.param_sharding, f'choose one of {list(sharding.PARAM_SHARDINGS)}')
  if config.compute_dtype not in models.COMPUTE_DTYPES:
    _fail('compute_dtype', config.compute_dtype, f'choose one of {list(models.COMPUTE_DTYPES)}')
  for key in ('total_steps', 'log_every', 'sample_every', 'checkpoint_every', 'evals.every'):
    value = config.evals.every if key == 'evals.every' else config[key]
    if isinstance(value, int) and value % config.steps_per_call:
      _fail(key, value, f'it must be a multiple of steps_per_call={config.steps_per_call}, since '
            'the trainer only sees the state between calls')
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

  for key in ('train_subset', 'train_subset_seed'):
    if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] < 0:
      _fail(key, config[key], 'it must be an integer >= 0' + (' (0 = all records)'
                                                              if key == 'train_subset' else ''))
  for section in ('evals', 'regularizers', 'translation', 'ada', 'lecam', 'consistency'):
    config_checks.known_keys(config[section], base_config()[section], section)

  if config.task not in TASKS:
    _fail('task', config.task, f'choose one of {list(TASKS)}')
  if config.task == 'gan':
    gan_config.check(config)
  else:
    translation_config.check(config)
