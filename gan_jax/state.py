"""The train state (a plain pytree) and the static description of a GAN that acts on it."""

import dataclasses
from typing import Any, Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gan_jax import models
from gan_jax.models import mixture

PyTree = Any


@flax.struct.dataclass
class GANState:
  """Everything that changes during training. No PRNG key is stored: step randomness is
  fold_in(PRNGKey(config.seed), step), so a restored state continues the same random stream."""
  step: jax.Array  # int32 scalar: generator updates done.
  g_params: PyTree
  g_batch_stats: PyTree  # {} when G has no batch norm.
  g_opt_state: PyTree
  d_params: PyTree
  d_batch_stats: PyTree
  d_opt_state: PyTree
  ema_params: PyTree  # EMA of g_params (None when config.ema_decay == 0).


def make_optimizer(spec, schedule: str, num_updates: int) -> optax.GradientTransformation:
  """optax.<name>(**kwargs) from a config entry such as {name: 'adam', learning_rate: 2e-4};
  schedule 'linear_decay' lowers the learning rate linearly to 0 over num_updates updates,
  'constant_then_linear_decay' keeps it for the first half of them, then lowers it linearly to 0
  (CycleGAN's and pix2pix's n_epochs + n_epochs_decay)."""
  spec = dict(spec)
  if schedule == 'linear_decay':
    spec['learning_rate'] = optax.linear_schedule(spec['learning_rate'], 0.0, num_updates)
  elif schedule == 'constant_then_linear_decay':
    half = num_updates // 2
    spec['learning_rate'] = optax.linear_schedule(spec['learning_rate'], 0.0,
                                                  num_updates - half, transition_begin=half)
  return getattr(optax, spec.pop('name'))(**spec)


@dataclasses.dataclass(frozen=True)
class GAN:
  """The fixed parts of a run: both players' modules, their optimizers and the data shape."""
  config: Any
  data_shape: tuple[int, ...]  # One sample: (H, W, C) or (2,).
  generator: nn.Module
  discriminator: nn.Module
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation

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

  def apply_generator(self, params, batch_stats, z, labels, train: bool):
    """Returns (samples, new_batch_stats); in train mode batch norm uses the batch's statistics.
    z: from `noise`; labels: int [B], or None for unconditional GANs. A MIX+GAN generator returns
    its K components' samples one after the other, [K * B, ...]."""
    variables = {'params': params, 'batch_stats': batch_stats}
    if train:
      samples, updates = self.generator.apply(variables, z, labels, train=True,
                                              mutable=['batch_stats'])
      batch_stats = updates.get('batch_stats', {})
    else:
      samples = self.generator.apply(variables, z, labels, train=False)
    if self.num_components > 1:
      samples = samples.reshape((-1,) + samples.shape[2:])
    return samples, batch_stats

  def apply_discriminator(self, params, batch_stats, x, labels, noise_key=None):
    """D in train mode (the only mode D is used in). Returns (logits [B], class_logits [B, K] or
    None, new_batch_stats); class logits come from AC-GAN and semi-supervised discriminators. A
    MIX+GAN discriminator returns every component's logits, [K, B]. noise_key feeds D's 'noise'
    stream when D injects noise (MLP input_noise / hidden_noise)."""
    out, updates = self.discriminator.apply(
        {'params': params, 'batch_stats': batch_stats}, x, labels, train=True,
        mutable=['batch_stats'], rngs={} if noise_key is None else {'noise': noise_key})
    logits, class_logits = out if isinstance(out, tuple) else (out, None)
    return logits, class_logits, updates.get('batch_stats', {})

  def discriminator_features(self, params, batch_stats, x, noise_key=None):
    """D's last hidden features phi(x) [B, F] (what feature matching compares)."""
    _, state = self.discriminator.apply(
        {'params': params, 'batch_stats': batch_stats}, x, None, train=True,
        mutable=['batch_stats', 'intermediates'],
        rngs={} if noise_key is None else {'noise': noise_key})
    return state['intermediates']['features'][0]

  def classify(self, state: GANState, x) -> jax.Array:
    """A semi-supervised D's class predictions [B]: D in inference mode (no injected noise,
    batch norm's running statistics)."""
    _, class_logits = self.discriminator.apply(
        {'params': state.d_params, 'batch_stats': state.d_batch_stats}, x, None, train=False)
    return jnp.argmax(class_logits, -1)

  def sample(self, state: GANState, codes, labels=None) -> jax.Array:
    """Samples for evaluation from latent codes [N, code_dim]: EMA parameters when present, batch
    norm's running statistics. Conditional GANs use `labels` when given, else the codes' labels."""
    params = state.g_params if state.ema_params is None else state.ema_params
    z = codes[:, :self.config.latent_dim]
    if self.conditional and labels is None:
      labels = self.labels_of(codes)
    if self.num_components == 1:
      return self.apply_generator(params, state.g_batch_stats, z, labels, train=False)[0]
    # MIX+GAN: every component maps every z; each sample keeps the component its code draws.
    components = mixture.choose_components(mixture.mixture_weights(params), codes[:, -1])
    z = jnp.broadcast_to(z, (self.num_components,) + z.shape)
    samples = self.apply_generator(params, state.g_batch_stats, z, labels, train=False)[0]
    samples = samples.reshape((self.num_components, z.shape[1]) + samples.shape[1:])
    return samples[components, jnp.arange(z.shape[1])]

  def init(self, key) -> GANState:
    """A fresh state; jit it with out_shardings to create the parameters directly sharded."""
    g_key, d_key = jax.random.split(key)
    z = self.noise(jax.random.key(0), 1)
    labels = jnp.zeros((1,), jnp.int32) if self.conditional else None
    g_vars = self.generator.init(g_key, z, labels, train=False)
    d_vars = self.discriminator.init(d_key, jnp.zeros((1,) + self.data_shape), labels, train=False)
    g_params, d_params = g_vars['params'], d_vars['params']
    return GANState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_params,
        g_batch_stats=g_vars.get('batch_stats', {}),
        g_opt_state=self.g_tx.init(g_params),
        d_params=d_params,
        d_batch_stats=d_vars.get('batch_stats', {}),
        d_opt_state=self.d_tx.init(d_params),
        ema_params=g_params if self.config.ema_decay > 0 else None,
    )


def build_gan(config, data_shape: Sequence[int]) -> GAN:
  """The GAN a config describes, for data of the given per-sample shape."""
  return GAN(
      config=config,
      data_shape=tuple(int(d) for d in data_shape),
      generator=models.build_generator(config.generator, data_shape, config.compute_dtype,
                                       config.num_classes, config.conditioning,
                                       config.mixture_components),
      discriminator=models.build_discriminator(
          config.discriminator, config.compute_dtype, config.num_classes,
          'semi_supervised' if config.labelled_examples > 0 else config.conditioning,
          config.mixture_components),
      g_tx=make_optimizer(config.g_optimizer, config.lr_schedule, config.total_steps),
      d_tx=make_optimizer(config.d_optimizer, config.lr_schedule,
                          config.total_steps * config.n_critic),
  )
