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
fakes. The state is the TrainState of every game (gan_jax/games/base.py) with players 'g', 'd'
or 'g_ab', 'g_ba', 'd_a', 'd_b', and CycleGAN's pools in its extras; randomness (dropout, the
pool's coin flips) comes from named streams of the step's key. The losses are gan_jax/losses.py's.
"""

import dataclasses
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gan_jax import losses
from gan_jax import streams
from gan_jax.games import base

KINDS = ('pix2pix', 'cyclegan')
BCE = losses.OBJECTIVES['non_saturating']
LSGAN = losses.OBJECTIVES['least_squares']


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

  def apply(self, state: base.TrainState, name: str, x, key=None, params=None, batch_stats=None):
    """Player `name` on x in train mode (batch statistics of the batch, dropout from `key`, as
    both papers also do at test time); returns (output, new batch stats). Discriminators give
    their score map."""
    player = state.players[name]
    if batch_stats is not None:
      player = player.replace(batch_stats=batch_stats)
    out, stats = base.apply_module(self.modules()[name][0], player, x, train=True,
                                   rngs=None if key is None else {'dropout': key}, params=params)
    return (out.score if name.startswith('d') else out), stats

  def init(self, key) -> base.TrainState:
    players = {}
    for name, (module, shape) in sorted(self.modules().items()):
      variables = module.init({'params': streams.stream(key, name)},
                              jnp.zeros((1,) + tuple(shape)), train=False)
      players[name] = base.new_player(variables, self.optimizer(name))
    extras = {}
    if self.kind == 'cyclegan':
      pools = {d: init_pool(self.pool_size, s) for d, s in (('a', self.shape_a),
                                                             ('b', self.shape_b))}
      extras = {'pools': {d: p[0] for d, p in pools.items()},
                'pool_counts': {d: p[1] for d, p in pools.items()}}
    return base.TrainState(step=jnp.zeros((), jnp.int32), players=players, extras=extras)

  def translate(self, state: base.TrainState, x, direction: str = 'ab', key=None):
    """G_ab(x) (pix2pix: G(x)) or G_ba(x), in train mode as the papers test (batch statistics of
    the batch, dropout on when a key is given)."""
    name = 'g' if self.kind == 'pix2pix' else f'g_{direction}'
    return self.apply(state, name, x, key)[0]


def _update(translation: Translation, state: base.TrainState, name: str, grads,
            batch_stats) -> base.TrainState:
  player = base.apply_gradients(state.players[name], grads, translation.optimizer(name),
                                batch_stats)
  return state.replace(players={**state.players, name: player})


def make_train_step(translation: Translation) -> Callable:
  """train_step(state, batch) -> (state, metrics); batch {'a': [B, ...], 'b': [B, ...]} (pix2pix:
  a = inputs, b = their targets; CycleGAN: unpaired)."""

  def pix2pix_step(state: base.TrainState, batch):
    x, y = batch['a'], batch['b']
    dropout_key = streams.stream(streams.step_key(translation.seed, state.step), 'g/dropout')
    fake, _ = translation.apply(state, 'g', x, dropout_key)

    def d_loss_fn(params):
      real_logits, stats = translation.apply(state, 'd', jnp.concatenate([x, y], -1),
                                             params=params)
      fake_logits, stats = translation.apply(
          state, 'd', jnp.concatenate([x, jax.lax.stop_gradient(fake)], -1), params=params,
          batch_stats=stats)
      return 0.5 * BCE.d_loss(real_logits, fake_logits), (stats, real_logits, fake_logits)

    (d_loss, (d_stats, real_logits, fake_logits)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True)(state.params('d'))
    state = _update(translation, state, 'd', d_grads, d_stats)

    def g_loss_fn(params):
      fake, stats = translation.apply(state, 'g', x, dropout_key, params=params)
      logits, _ = translation.apply(state, 'd', jnp.concatenate([x, fake], -1))
      adversarial, reconstruction = BCE.g_loss(None, logits), losses.l1(fake, y)
      return adversarial + translation.l1_weight * reconstruction, (stats, adversarial,
                                                                    reconstruction)

    (g_loss, (g_stats, adversarial, reconstruction)), g_grads = jax.value_and_grad(
        g_loss_fn, has_aux=True)(state.params('g'))
    state = _update(translation, state, 'g', g_grads, g_stats)
    return state.replace(step=state.step + 1), {
        'd_loss': d_loss, 'd_real': jnp.mean(real_logits), 'd_fake': jnp.mean(fake_logits),
        'g_loss': g_loss, 'g_adversarial': adversarial, 'g_l1': reconstruction}

  def cyclegan_step(state: base.TrainState, batch):
    a, b = batch['a'], batch['b']
    key = streams.step_key(translation.seed, state.step)
    lam, lam_id = translation.cycle_weight, translation.cycle_weight * translation.identity_weight
    g_names = ('g_ab', 'g_ba')

    def g_loss_fn(params):
      stats = {name: state.players[name].batch_stats for name in g_names}

      def run(name, x):
        out, stats[name] = translation.apply(state, name, x, params=params[name],
                                             batch_stats=stats[name])
        return out

      fake_b = run('g_ab', a)
      rec_a = run('g_ba', fake_b)
      fake_a = run('g_ba', b)
      rec_b = run('g_ab', fake_a)
      adversarial = (losses.squared_error(translation.apply(state, 'd_b', fake_b)[0], 1.0)
                     + losses.squared_error(translation.apply(state, 'd_a', fake_a)[0], 1.0))
      cycle = losses.l1(rec_a, a) + losses.l1(rec_b, b)
      total = adversarial + lam * cycle
      identity = jnp.zeros(())
      if lam_id > 0:
        identity = losses.l1(run('g_ab', b), b) + losses.l1(run('g_ba', a), a)
        total = total + lam_id * identity
      return total, (stats, fake_a, fake_b, adversarial, cycle, identity)

    g_params = {name: state.params(name) for name in g_names}
    (g_loss, (g_stats, fake_a, fake_b, adversarial, cycle, identity)), g_grads = (
        jax.value_and_grad(g_loss_fn, has_aux=True)(g_params))
    for name in g_names:
      state = _update(translation, state, name, g_grads[name], g_stats[name])
    pools, counts = dict(state.extras['pools']), dict(state.extras['pool_counts'])
    metrics = {'g_loss': g_loss, 'g_adversarial': adversarial, 'g_cycle': cycle,
               'g_identity': identity}
    for domain, real, fake in (('a', a, fake_a), ('b', b, fake_b)):
      name = f'd_{domain}'
      pools[domain], counts[domain], fake = query_pool(
          pools[domain], counts[domain], jax.lax.stop_gradient(fake),
          streams.stream(key, f'pool/{domain}'))

      def d_loss_fn(d_params, real=real, fake=fake, name=name):
        real_logits, d_stats = translation.apply(state, name, real, params=d_params)
        fake_logits, d_stats = translation.apply(state, name, fake, params=d_params,
                                                 batch_stats=d_stats)
        return LSGAN.d_loss(real_logits, fake_logits), d_stats  # 1/2 [LS(., 1) + LS(., 0)]

      (metrics[f'{name}_loss'], d_stats), d_grads = jax.value_and_grad(
          d_loss_fn, has_aux=True)(state.params(name))
      state = _update(translation, state, name, d_grads, d_stats)
    return state.replace(step=state.step + 1,
                         extras={'pools': pools, 'pool_counts': counts}), metrics

  return pix2pix_step if translation.kind == 'pix2pix' else cyclegan_step
