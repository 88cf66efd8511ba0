"""The GAN game: a generator and a discriminator (unconditional, conditional, MIX+GAN or
semi-supervised), their networks and how they are applied. The step is gan_step.py; the loss
terms gan_terms.py; building it from a config, its data and periodic work gan_game.py.

State: players 'generator' and 'discriminator'; extras {'ema': EMA of G's parameters} when
config.ema_decay > 0, and the trackers' statistics ('ada': p and r_t, 'lecam': D's mean outputs). D sees every image through `discriminate` (the augmentation hook).
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gan_jax import augment
from gan_jax import streams
from gan_jax.games import base
from gan_jax.models import mixture
from gan_jax.models.output import DiscriminatorOutput
from gan_jax.tracker import Tracker

G, D = 'generator', 'discriminator'


@dataclasses.dataclass(frozen=True)
class GAN:
  """The fixed parts of a run: both players' modules, their optimizers and the data shape."""
  config: Any
  data_shape: tuple[int, ...]  # One sample: (H, W, C) or (2,).
  generator: nn.Module
  discriminator: nn.Module
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  augmentation: augment.Augmentation = augment.Augmentation(augment.identity)
  trackers: tuple[Tracker, ...] = ()  # Statistics kept in extras (gan_jax/tracker.py).

  @property
  def conditional(self) -> bool:
    return self.config.conditioning != 'none'

  @property
  def semi_supervised(self) -> bool:
    """The semi-supervised GAN of Salimans et al. 2016 (config.labelled_examples > 0)."""
    return self.config.labelled_examples > 0

  @property
  def num_components(self) -> int:
    """K of MIX+GAN; 1 for one generator and one discriminator."""
    return self.config.mixture_components

  @property
  def code_dim(self) -> int:
    """Size of a latent code: z, plus one coordinate that picks the label of a conditional GAN or
    the component of a MIX+GAN generator (the two are not combined)."""
    return self.config.latent_dim + int(self.conditional or self.num_components > 1)

  def noise(self, key, num: int) -> jax.Array:
    """z ~ N(0, I), the generator's input in training: [num, latent_dim], or for MIX+GAN
    [K, num, latent_dim] (num samples from each component)."""
    shape = (num, self.config.latent_dim)
    return jax.random.normal(key, shape if self.num_components == 1
                             else (self.num_components,) + shape)

  def latents(self, key, num: int) -> jax.Array:
    """Latent codes ~ N(0, I) of shape [num, code_dim] (code_dim == latent_dim when unconditional)."""
    return jax.random.normal(key, (num, self.code_dim))

  def labels_of(self, codes) -> jax.Array:
    """The label a code picks: floor(K * Phi(u)) for its last coordinate u, uniform over the K
    classes when u ~ N(0, 1). This keeps sampling a function of the code alone (z -> image)."""
    u = jax.scipy.stats.norm.cdf(codes[:, -1])
    return jnp.clip(jnp.floor(u * self.config.num_classes), 0,
                    self.config.num_classes - 1).astype(jnp.int32)

  def random_labels(self, key, num: int):
    """Uniform labels for fakes during training (None for unconditional GANs)."""
    if not self.conditional:
      return None
    return jax.random.randint(key, (num,), 0, self.config.num_classes)

  def generate(self, state: base.TrainState, z, labels, key=None, train: bool = True,
               params=None):
    """G(z) -> (samples, new batch stats); train=True: batch statistics of the batch and G's
    random streams ('noise' inputs) from key. z: from `noise`; labels: int [B] or None. A MIX+GAN
    generator returns its K components' samples one after the other, [K * B, ...]."""
    rngs = None if key is None else {'noise': key}
    samples, batch_stats = base.apply_module(self.generator, state.players[G], z, labels,
                                             train=train, rngs=rngs, params=params)
    if self.num_components > 1:
      samples = samples.reshape((-1,) + samples.shape[2:])
    return samples, batch_stats

  def discriminate(self, state: base.TrainState, images, labels, key, params=None,
                   batch_stats=None) -> tuple[DiscriminatorOutput, Any]:
    """D(augment(x)) in train mode (the only mode training uses) -> (DiscriminatorOutput, new
    batch stats): the one place where D sees images. Streams of key: 'augment' for the
    augmentation, 'noise' for D's injected noise (MLP input_noise / hidden_noise)."""
    player = state.players[D]
    if batch_stats is not None:
      player = player.replace(batch_stats=batch_stats)
    images = self.augmentation.apply(images, streams.stream(key, 'augment'), state.extras)
    return base.apply_module(self.discriminator, player, images, labels, train=True,
                             rngs={'noise': streams.stream(key, 'noise')}, params=params)

  def classify(self, state: base.TrainState, x) -> jax.Array:
    """A semi-supervised D's class predictions [B]: D in inference mode (no injected noise,
    batch norm's running statistics)."""
    out, _ = base.apply_module(self.discriminator, state.players[D], x, None, train=False)
    return jnp.argmax(out.class_logits, -1)

  def sample(self, state: base.TrainState, codes, labels=None) -> jax.Array:
    """Samples for evaluation from latent codes [N, code_dim]: EMA parameters when present, batch
    norm's running statistics. Conditional GANs use `labels` when given, else the codes' labels."""
    params = state.extras.get('ema', state.params(G))
    z = codes[:, :self.config.latent_dim]
    if self.conditional and labels is None:
      labels = self.labels_of(codes)
    key = streams.seed_stream(self.config.seed, 'sample/noise')  # G's noise inputs, if any.
    if self.num_components == 1:
      return self.generate(state, z, labels, key, train=False, params=params)[0]
    # MIX+GAN: every component maps every z; each sample keeps the component its code draws.
    components = mixture.choose_components(mixture.mixture_weights(params), codes[:, -1])
    z = jnp.broadcast_to(z, (self.num_components,) + z.shape)
    samples = self.generate(state, z, labels, key, train=False, params=params)[0]
    samples = samples.reshape((self.num_components, z.shape[1]) + samples.shape[1:])
    return samples[components, jnp.arange(z.shape[1])]

  def init(self, key) -> base.TrainState:
    """A fresh state; jit it with out_shardings to create the parameters directly sharded."""
    g_key, d_key = jax.random.split(key)
    z = self.noise(jax.random.key(0), 1)
    labels = jnp.zeros((1,), jnp.int32) if self.conditional else None
    g_vars = self.generator.init(g_key, z, labels, train=False)
    d_vars = self.discriminator.init(d_key, jnp.zeros((1,) + self.data_shape), labels,
                                     train=False)
    extras = {tracker.name: tracker.init() for tracker in self.trackers}
    if self.config.ema_decay > 0:
      extras['ema'] = g_vars['params']
    return base.TrainState(step=jnp.zeros((), jnp.int32),
                           players={G: base.new_player(g_vars, self.g_tx),
                                    D: base.new_player(d_vars, self.d_tx)},
                           extras=extras)
