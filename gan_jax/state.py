"""The train state (a plain pytree) and the static description of a GAN that acts on it."""

import dataclasses
from typing import Any, Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gan_jax import models

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
  schedule 'linear_decay' lowers the learning rate linearly to 0 over num_updates updates."""
  spec = dict(spec)
  if schedule == 'linear_decay':
    spec['learning_rate'] = optax.linear_schedule(spec['learning_rate'], 0.0, num_updates)
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

  def latents(self, key, num: int) -> jax.Array:
    """z ~ N(0, I) of shape [num, latent_dim]."""
    return jax.random.normal(key, (num, self.config.latent_dim))

  def apply_generator(self, params, batch_stats, z, train: bool):
    """Returns (samples, new_batch_stats); in train mode batch norm uses the batch's statistics."""
    variables = {'params': params, 'batch_stats': batch_stats}
    if not train:
      return self.generator.apply(variables, z, train=False), batch_stats
    samples, updates = self.generator.apply(variables, z, train=True, mutable=['batch_stats'])
    return samples, updates.get('batch_stats', {})

  def apply_discriminator(self, params, batch_stats, x):
    """D in train mode (the only mode D is used in). Returns (logits, new_batch_stats)."""
    logits, updates = self.discriminator.apply(
        {'params': params, 'batch_stats': batch_stats}, x, train=True, mutable=['batch_stats'])
    return logits, updates.get('batch_stats', {})

  def sample(self, state: GANState, z) -> jax.Array:
    """Samples for evaluation: EMA parameters when present, batch norm's running statistics."""
    params = state.g_params if state.ema_params is None else state.ema_params
    return self.apply_generator(params, state.g_batch_stats, z, train=False)[0]

  def init(self, key) -> GANState:
    """A fresh state; jit it with out_shardings to create the parameters directly sharded."""
    g_key, d_key = jax.random.split(key)
    z = jnp.zeros((1, self.config.latent_dim))
    g_vars = self.generator.init(g_key, z, train=False)
    d_vars = self.discriminator.init(d_key, jnp.zeros((1,) + self.data_shape), train=False)
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
      generator=models.build_generator(config.generator, data_shape, config.compute_dtype),
      discriminator=models.build_discriminator(config.discriminator, config.compute_dtype),
      g_tx=make_optimizer(config.g_optimizer, config.lr_schedule, config.total_steps),
      d_tx=make_optimizer(config.d_optimizer, config.lr_schedule,
                          config.total_steps * config.n_critic),
  )
