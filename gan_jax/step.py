"""The train step: a pure function (state, batch) -> (state, metrics).

One step is `n_critic` discriminator updates, each on its own real batch and fresh fakes, then one
generator update on fresh z (Goodfellow et al. 2014, Algorithm 1; k = n_critic). Randomness is
fold_in(PRNGKey(seed), step), split per update, so the step is a function of (state, batch) alone.
"""

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from gan_jax import losses
from gan_jax.state import GAN, GANState


def ema_decay_at(step, decay: float):
  """EMA decay with warm-up, min(decay, (1 + t) / (10 + t)), so early averages are not dominated by
  the random initialisation (as tf.train.ExponentialMovingAverage with num_updates)."""
  step = step.astype(jnp.float32)
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def make_train_step(gan: GAN) -> Callable:
  """Returns train_step(state, batch) -> (state, metrics) for this GAN (not jitted; see sharding).

  batch['image']: real samples of shape [n_critic, B, *data_shape], or [n_critic * B, *data_shape].
  """
  config = gan.config
  objective = losses.OBJECTIVES[config.loss]
  penalty = losses.GRADIENT_PENALTIES.get(config.gradient_penalty)
  seed_key = jax.random.key(config.seed)

  def discriminator_update(state: GANState, real, key) -> tuple[GANState, dict]:
    """One update of D on a real batch and fakes from the current G."""
    d_batch_stats = state.d_batch_stats
    z_key, penalty_key = jax.random.split(key)
    fake, _ = gan.apply_generator(state.g_params, state.g_batch_stats,
                                  gan.latents(z_key, real.shape[0]), train=True)
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(params):
      real_logits, batch_stats = gan.apply_discriminator(params, d_batch_stats, real)
      fake_logits, batch_stats = gan.apply_discriminator(params, batch_stats, fake)
      loss = objective.d_loss(real_logits, fake_logits, config.label_smoothing)
      aux = {'d_loss': loss, 'd_real': jnp.mean(real_logits), 'd_fake': jnp.mean(fake_logits)}
      if penalty is not None:
        critic = lambda x: gan.apply_discriminator(params, d_batch_stats, x)[0]
        aux['gradient_penalty'] = penalty(critic, real, fake, penalty_key)
        loss = loss + config.gp_weight * aux['gradient_penalty']
      return loss, (batch_stats, aux)

    grads, (d_batch_stats, metrics) = jax.grad(loss_fn, has_aux=True)(state.d_params)
    updates, d_opt_state = gan.d_tx.update(grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, updates)
    if config.weight_clip > 0:  # WGAN (Arjovsky et al. 2017): clip every parameter of the critic.
      d_params = jax.tree.map(lambda p: jnp.clip(p, -config.weight_clip, config.weight_clip),
                              d_params)
    metrics['d_grad_norm'] = optax.global_norm(grads)
    return state.replace(d_params=d_params, d_batch_stats=d_batch_stats,
                         d_opt_state=d_opt_state), metrics

  def train_step(state: GANState, batch) -> tuple[GANState, dict]:
    key = jax.random.fold_in(seed_key, state.step)
    d_keys = jax.random.split(jax.random.fold_in(key, 0), config.n_critic)
    g_key = jax.random.fold_in(key, 1)
    real = batch['image'].reshape((config.n_critic, -1) + gan.data_shape)

    # A Python loop, unrolled in the compiled step: XLA:CPU runs convolutions inside a while
    # loop (lax.scan) about 50x slower, and n_critic is small.
    for i in range(config.n_critic):
      state, metrics = discriminator_update(state, real[i], d_keys[i])  # metrics: the last one's.
    d_params, d_batch_stats = state.d_params, state.d_batch_stats

    z = gan.latents(g_key, real.shape[1])

    def g_loss_fn(g_params):
      fake, g_batch_stats = gan.apply_generator(g_params, state.g_batch_stats, z, train=True)
      fake_logits, _ = gan.apply_discriminator(d_params, d_batch_stats, fake)
      return objective.g_loss(fake_logits), g_batch_stats

    (g_loss, g_batch_stats), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(state.g_params)
    updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, updates)

    ema_params = state.ema_params
    if ema_params is not None:
      decay = ema_decay_at(state.step, config.ema_decay)
      ema_params = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema_params, g_params)

    metrics.update(g_loss=g_loss, g_grad_norm=optax.global_norm(g_grads))
    return state.replace(step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
                         g_opt_state=g_opt_state, ema_params=ema_params), metrics

  return train_step


def scan_steps(train_step: Callable) -> Callable:
  """Several steps in one call: (state, batches [K, ...]) -> (state, the last step's metrics).

  A lax.scan over the leading axis of the batches; equal to K calls of train_step. It saves K - 1
  dispatches per call, which helps small models on accelerators; on CPU, XLA runs convolutions
  inside the loop many times slower (benchmarks/RESULTS.md), so keep steps_per_call = 1 there."""

  def multi_step(state, batches):
    state, metrics = jax.lax.scan(train_step, state, batches)
    return state, jax.tree.map(lambda m: m[-1], metrics)

  return multi_step
