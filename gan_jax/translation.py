"""Image-to-image translation: pix2pix (paired) and CycleGAN (unpaired), as pure train steps.

pix2pix (Isola et al. 2017, arXiv:1611.07004), one generator G: X -> Y and one discriminator D
that sees the input beside the output (a conditional PatchGAN on concat(x, y)):
  L_D = 1/2 [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)]
  L_G = BCE(D(x, G(x)), 1) + lambda_L1 * |G(x) - y|_1                          (lambda_L1 = 100)

CycleGAN (Zhu et al. 2017, arXiv:1703.10593), generators G_ab: A -> B and G_ba: B -> A and
discriminators D_a, D_b (D_b judges images of B), least-squares adversarial losses:
  L_G = LS(D_b(G_ab(a)), 1) + LS(D_a(G_ba(b)), 1)
        + lambda (|G_ba(G_ab(a)) - a|_1 + |G_ab(G_ba(b)) - b|_1)                  (lambda = 10)
        + lambda_id lambda (|G_ab(b) - b|_1 + |G_ba(a) - a|_1)                    (lambda_id = 0.5)
  L_D_b = 1/2 [LS(D_b(b), 1) + LS(D_b(pool_b(G_ab(a))), 0)], likewise L_D_a,
with LS(p, t) = mean (p - t)^2 and pool_x the history of 50 generated images (Shrivastava et
al. 2017): D sees an older fake in place of a new one half of the time once the pool is full.

The order of updates follows junyanz/pytorch-CycleGAN-and-pix2pix: pix2pix updates D, then G
against the updated D; CycleGAN updates both generators, then both discriminators on the same
fakes. The state is a plain pytree of named players ({'g', 'd'} or {'g_ab', 'g_ba', 'd_a',
'd_b'}) plus the pools; randomness (dropout, the pool's coin flips) is fold_in(seed, step).
"""

import dataclasses
from typing import Callable

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gan_jax import configuration
from gan_jax import losses
from gan_jax import models
from gan_jax import state as state_lib

KINDS = ('pix2pix', 'cyclegan')


@flax.struct.dataclass
class TranslationState:
  """Everything that changes during training, each entry a dict over the players' names."""
  step: jax.Array  # int32 scalar: generator updates done.
  params: dict
  batch_stats: dict  # {} for a player without batch norm.
  opt_state: dict
  pools: dict  # CycleGAN: {'a': [pool_size, H, W, C], 'b': ...}; {} for pix2pix.
  pool_counts: dict  # How many images each pool holds (up to pool_size).


def init_pool(pool_size: int, image_shape) -> tuple[jax.Array, jax.Array]:
  return jnp.zeros((pool_size,) + tuple(image_shape), jnp.float32), jnp.zeros((), jnp.int32)


def query_pool(pool, count, images, key):
  """The reference's ImagePool.query, image by image: while the pool is not full, a new image is
  stored and returned; then, with probability 1/2, a random stored image is returned and the new
  one takes its place, else the new image is returned. Returns (pool, count, images for D)."""
  if pool.shape[0] == 0:
    return pool, count, images

  def one(carry, inputs):
    pool, count = carry
    image, key = inputs
    coin_key, slot_key = jax.random.split(key)
    full = count >= pool.shape[0]
    swap = full & jax.random.bernoulli(coin_key, 0.5)
    slot = jnp.where(full, jax.random.randint(slot_key, (), 0, pool.shape[0]), count)
    returned = jnp.where(swap, pool[slot], image)
    stored = jnp.where(full & ~swap, pool[slot], image)  # Kept as it was unless swapped or filling.
    return (pool.at[slot].set(stored), jnp.minimum(count + 1, pool.shape[0])), returned

  keys = jax.random.split(key, images.shape[0])
  (pool, count), returned = jax.lax.scan(one, (pool, count), (images, keys))
  return pool, count, returned


def l1(x, y):
  return jnp.mean(jnp.abs(x - y))


def least_squares(logits, target: float):
  """LS(p, t) = mean (p - t)^2, CycleGAN's adversarial loss (LSGAN's a = 0, b = c = 1, without
  the 1/2 of gan_jax.losses.least_squares_*)."""
  return jnp.mean((logits - target)**2)


@dataclasses.dataclass(frozen=True)
class Translation:
  """The fixed parts of a pix2pix or CycleGAN run: modules, optimizers, shapes and weights."""
  kind: str  # 'pix2pix' or 'cyclegan'.
  generator: nn.Module  # G (pix2pix) or the template of G_ab and G_ba (their output channels).
  discriminator: nn.Module
  g_tx: optax.GradientTransformation  # The generators' optimizer (each has its own state).
  d_tx: optax.GradientTransformation  # The discriminators' optimizer.
  shape_a: tuple[int, ...]  # One input image (H, W, C) of domain A (pix2pix: the input).
  shape_b: tuple[int, ...]  # One image of domain B (pix2pix: the target).
  seed: int = 0
  l1_weight: float = 100.0  # pix2pix's lambda_L1.
  cycle_weight: float = 10.0  # CycleGAN's lambda.
  identity_weight: float = 0.5  # CycleGAN's lambda_id, relative to lambda (0 = off).
  pool_size: int = 50

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f'Translation kind {self.kind!r} is unknown; choose one of {KINDS}.')
    if (self.kind == 'cyclegan' and self.identity_weight > 0
        and self.shape_a[-1] != self.shape_b[-1]):
      raise ValueError(f'The identity loss maps each domain to itself, so both need the same '
                       f'channels, not {self.shape_a[-1]} (A) and {self.shape_b[-1]} (B); set '
                       'identity_weight=0 or give both domains the same channels.')

  def modules(self) -> dict:
    """Each player's module and the shape of the image it reads."""
    if self.kind == 'pix2pix':
      d_channels = self.shape_a[-1] + self.shape_b[-1]
      return {'g': (self.generator.clone(output_channels=self.shape_b[-1]), self.shape_a),
              'd': (self.discriminator, self.shape_b[:-1] + (d_channels,))}
    return {'g_ab': (self.generator.clone(output_channels=self.shape_b[-1]), self.shape_a),
            'g_ba': (self.generator.clone(output_channels=self.shape_a[-1]), self.shape_b),
            'd_a': (self.discriminator, self.shape_a),
            'd_b': (self.discriminator, self.shape_b)}

  def optimizer(self, name: str) -> optax.GradientTransformation:
    return self.g_tx if name.startswith('g') else self.d_tx

  def apply(self, state: TranslationState, name: str, x, key=None, params=None, train=True):
    """Player `name` on x; returns (output, new batch stats). train=True: batch statistics of
    the batch and dropout from `key`, as both papers also do at test time."""
    module = self.modules()[name][0]
    variables = {'params': state.params[name] if params is None else params,
                 'batch_stats': state.batch_stats[name]}
    rngs = {} if key is None else {'dropout': key}
    if not train:
      return module.apply(variables, x, train=False), state.batch_stats[name]
    out, updates = module.apply(variables, x, train=True, mutable=['batch_stats'], rngs=rngs)
    return out, updates.get('batch_stats', {})

  def init(self, key) -> TranslationState:
    params, batch_stats, opt_state = {}, {}, {}
    for i, (name, (module, shape)) in enumerate(sorted(self.modules().items())):
      variables = module.init({'params': jax.random.fold_in(key, i)},
                              jnp.zeros((1,) + tuple(shape)), train=False)
      params[name] = variables['params']
      batch_stats[name] = variables.get('batch_stats', {})
      opt_state[name] = self.optimizer(name).init(params[name])
    pools, counts = {}, {}
    if self.kind == 'cyclegan':
      for domain, shape in (('a', self.shape_a), ('b', self.shape_b)):
        pools[domain], counts[domain] = init_pool(self.pool_size, shape)
    return TranslationState(step=jnp.zeros((), jnp.int32), params=params,
                            batch_stats=batch_stats, opt_state=opt_state, pools=pools,
                            pool_counts=counts)

  def translate(self, state: TranslationState, x, direction: str = 'ab', key=None):
    """G_ab(x) (pix2pix: G(x)) or G_ba(x), in train mode as the papers test (batch statistics of
    the batch, dropout on when a key is given)."""
    name = 'g' if self.kind == 'pix2pix' else f'g_{direction}'
    return self.apply(state, name, x, key)[0]


def build_translation(config, shape_a, shape_b) -> Translation:
  """The Translation of a pix2pix or CycleGAN config (validated) for the data's image shapes;
  ConfigError when the networks cannot take images of this size (checked by tracing the
  initialisation, before anything is compiled)."""
  t = config.translation

  def optimizer(spec):
    return state_lib.make_optimizer(spec, config.lr_schedule, config.total_steps)

  try:
    translation = Translation(
        kind=config.task,
        generator=models.build_translator(config.generator, config.compute_dtype),
        discriminator=models.build_patch_discriminator(config.discriminator, config.compute_dtype),
        g_tx=optimizer(config.g_optimizer), d_tx=optimizer(config.d_optimizer),
        shape_a=tuple(shape_a), shape_b=tuple(shape_b), seed=config.seed,
        l1_weight=t.l1_weight, cycle_weight=t.cycle_weight, identity_weight=t.identity_weight,
        pool_size=t.pool_size)
    jax.eval_shape(translation.init, jax.random.key(0))
  except ValueError as e:
    raise configuration.ConfigError(
        f'config.generator={dict(config.generator)}, config.discriminator='
        f'{dict(config.discriminator)} with images {tuple(shape_a)} -> {tuple(shape_b)} '
        f'(config.image_size={config.image_size}): {e}') from None
  return translation


def _update(translation: Translation, state: TranslationState, name: str,
            grads) -> tuple[dict, dict]:
  updates, opt_state = translation.optimizer(name).update(grads, state.opt_state[name],
                                                          state.params[name])
  return optax.apply_updates(state.params[name], updates), opt_state


def make_train_step(translation: Translation) -> Callable:
  """train_step(state, batch) -> (state, metrics); batch {'a': [B, ...], 'b': [B, ...]} (pix2pix:
  a = inputs, b = their targets; CycleGAN: unpaired)."""
  seed_key = jax.random.key(translation.seed)
  bce = losses.OBJECTIVES['non_saturating']

  def pix2pix_step(state: TranslationState, batch):
    x, y = batch['a'], batch['b']
    dropout_key = jax.random.fold_in(jax.random.fold_in(seed_key, state.step), 0)
    fake, g_stats = translation.apply(state, 'g', x, dropout_key)

    def d_loss_fn(params):
      real_logits, stats = translation.apply(state, 'd', jnp.concatenate([x, y], -1),
                                             params=params)
      state_ = state.replace(batch_stats={**state.batch_stats, 'd': stats})
      fake_logits, stats = translation.apply(
          state_, 'd', jnp.concatenate([x, jax.lax.stop_gradient(fake)], -1), params=params)
      return 0.5 * bce.d_loss(real_logits, fake_logits), (stats, real_logits, fake_logits)

    (d_loss, (d_stats, real_logits, fake_logits)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True)(state.params['d'])
    d_params, d_opt = _update(translation, state, 'd', d_grads)
    state = state.replace(params={**state.params, 'd': d_params},
                          batch_stats={**state.batch_stats, 'd': d_stats},
                          opt_state={**state.opt_state, 'd': d_opt})

    def g_loss_fn(params):
      fake, stats = translation.apply(state, 'g', x, dropout_key, params=params)
      logits, _ = translation.apply(state, 'd', jnp.concatenate([x, fake], -1))
      adversarial, reconstruction = bce.g_loss(logits), l1(fake, y)
      return adversarial + translation.l1_weight * reconstruction, (stats, adversarial,
                                                                    reconstruction)

    (g_loss, (g_stats, adversarial, reconstruction)), g_grads = jax.value_and_grad(
        g_loss_fn, has_aux=True)(state.params['g'])
    g_params, g_opt = _update(translation, state, 'g', g_grads)
    state = state.replace(step=state.step + 1, params={**state.params, 'g': g_params},
                          batch_stats={**state.batch_stats, 'g': g_stats},
                          opt_state={**state.opt_state, 'g': g_opt})
    return state, {'d_loss': d_loss, 'd_real': jnp.mean(real_logits),
                   'd_fake': jnp.mean(fake_logits), 'g_loss': g_loss,
                   'g_adversarial': adversarial, 'g_l1': reconstruction}

  def cyclegan_step(state: TranslationState, batch):
    a, b = batch['a'], batch['b']
    key = jax.random.fold_in(seed_key, state.step)
    lam, lam_id = translation.cycle_weight, translation.cycle_weight * translation.identity_weight

    def g_loss_fn(params):
      run = lambda name, x, stats: translation.apply(
          state.replace(batch_stats=stats), name, x, params=params[name])
      stats = dict(state.batch_stats)
      fake_b, stats['g_ab'] = run('g_ab', a, stats)
      rec_a, stats['g_ba'] = run('g_ba', fake_b, stats)
      fake_a, stats['g_ba'] = run('g_ba', b, stats)
      rec_b, stats['g_ab'] = run('g_ab', fake_a, stats)
      adversarial = (least_squares(translation.apply(state, 'd_b', fake_b)[0], 1.0)
                     + least_squares(translation.apply(state, 'd_a', fake_a)[0], 1.0))
      cycle = l1(rec_a, a) + l1(rec_b, b)
      total = adversarial + lam * cycle
      identity = jnp.zeros(())
      if lam_id > 0:
        same_b, stats['g_ab'] = run('g_ab', b, stats)
        same_a, stats['g_ba'] = run('g_ba', a, stats)
        identity = l1(same_b, b) + l1(same_a, a)
        total = total + lam_id * identity
      return total, (stats, fake_a, fake_b, adversarial, cycle, identity)

    g_names = ('g_ab', 'g_ba')
    g_params = {name: state.params[name] for name in g_names}
    (g_loss, (stats, fake_a, fake_b, adversarial, cycle, identity)), g_grads = (
        jax.value_and_grad(g_loss_fn, has_aux=True)(g_params))
    params, opt_state = dict(state.params), dict(state.opt_state)
    for name in g_names:
      params[name], opt_state[name] = _update(translation, state, name, g_grads[name])
    pools, counts = dict(state.pools), dict(state.pool_counts)
    metrics = {'g_loss': g_loss, 'g_adversarial': adversarial, 'g_cycle': cycle,
               'g_identity': identity}
    for i, (domain, real, fake) in enumerate((('a', a, fake_a), ('b', b, fake_b))):
      name = f'd_{domain}'
      pools[domain], counts[domain], fake = query_pool(
          pools[domain], counts[domain], jax.lax.stop_gradient(fake), jax.random.fold_in(key, i))

      def d_loss_fn(d_params, real=real, fake=fake, name=name):
        real_logits, d_stats = translation.apply(state.replace(batch_stats=stats), name, real,
                                                 params=d_params)
        fake_logits, d_stats = translation.apply(
            state.replace(batch_stats={**stats, name: d_stats}), name, fake, params=d_params)
        return 0.5 * (least_squares(real_logits, 1.0) + least_squares(fake_logits, 0.0)), d_stats

      (metrics[f'{name}_loss'], stats[name]), d_grads = jax.value_and_grad(
          d_loss_fn, has_aux=True)(state.params[name])
      params[name], opt_state[name] = _update(translation, state, name, d_grads)
    return state.replace(step=state.step + 1, params=params, batch_stats=stats,
                         opt_state=opt_state, pools=pools, pool_counts=counts), metrics

  return pix2pix_step if translation.kind == 'pix2pix' else cyclegan_step
