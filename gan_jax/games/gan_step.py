"""The GAN game's train step: a pure function (state, batch) -> (state, metrics).

One step is `n_critic` discriminator updates, each on its own real batch and fresh fakes, then one
generator update on fresh z (Goodfellow et al. 2014, Algorithm 1; k = n_critic). Each player's
loss is the sum of its terms (gan_terms.py). Randomness: streams.step_key(seed, step), then named
streams, so the step is a function of (state, batch) alone. Conditional GANs draw the fakes'
labels uniformly; MIX+GAN players weigh all pairs of components.

The batch is plain: batch['image'] [n_critic * B, ...] (and 'label', 'labelled_image',
'labelled_label' alike); D update i reads records i, n_critic + i, 2 n_critic + i, ... (a reshape
to [B, n_critic] that keeps each device's records on the device when B is split over devices).
"""

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from gan_jax import losses
from gan_jax import streams
from gan_jax.games import base
from gan_jax.games import gan_terms
from gan_jax.games.gan import D, G, GAN
from gan_jax.models import mixture


def ema_decay_at(step, decay: float):
  """EMA decay with warm-up, min(decay, (1 + t) / (10 + t)), so early averages are not dominated by
  the random initialisation (as tf.train.ExponentialMovingAverage with num_updates)."""
  step = step.astype(jnp.float32)
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def critic_batches(batch: dict, n_critic: int) -> list[dict]:
  """The n_critic real batches of one step's plain batch [n_critic * B, ...]."""
  if n_critic == 1:
    return [batch]
  size = batch['image'].shape[0]
  if size % n_critic:
    raise ValueError(f'A step of n_critic={n_critic} D updates reads n_critic * batch_size records; '
                     f'this batch has {size} (make the pipeline with examples_per_step, e.g. '
                     'gan_game.make_pipeline).')
  split = {k: v.reshape((-1, n_critic) + v.shape[1:]) for k, v in batch.items()}
  return [{k: v[:, i] for k, v in split.items()} for i in range(n_critic)]


def make_train_step(gan: GAN, one_call: bool | None = None, phase: tuple | None = None) -> Callable:
  """Returns train_step(state, batch) -> (state, metrics) for this GAN (not jitted; see sharding).

  phase: gan_terms.lazy_phase of the steps this function will take, so the lazy terms are chosen
  at trace time (the trainer compiles one step per phase); None decides them by the state's step
  under lax.cond (any step: for notebooks and steps_per_call > 1).

  one_call: whether each D update scores [reals; fakes] in one call of D rather than two. The
  default: where D keeps no batch statistics (no batch norm, spectral norm or other state; one D,
  not MIX+GAN's stacks), which changes no value (but the random draws of a D that injects noise;
  on a 2-core CPU the two forms ran equally fast within the noise of the measurement)."""
  config = gan.config
  d_terms, g_terms = gan_terms.d_terms(config), gan_terms.g_terms(config)
  g_needs_real = gan_terms.g_needs_real_scores(config)
  period = gan_terms.lazy_period(config)
  stream = streams.stream

  stateless_d = gan.num_components == 1 and not jax.tree.leaves(jax.eval_shape(
      gan.init, jax.random.key(0)).players[D].batch_stats)
  if one_call is None:
    one_call = stateless_d
  elif one_call and not stateless_d:
    raise ValueError('one_call=True needs a D without batch statistics (and not MIX+GAN): one '
                     'call would compute them over reals and fakes together.')

  def interleave(a, b):
    """[a_0, b_0, a_1, b_1, ...]: each device's records stay on it when B is split."""
    return jnp.stack([a, b], 1).reshape((-1,) + a.shape[1:])

  def halves(out):
    return tuple(jax.tree.map(lambda x, h=h: x.reshape((-1, 2) + x.shape[1:])[:, h], out)
                 for h in (0, 1))

  def labels_of(real):
    return real['label'] if gan.conditional else None

  d_due, g_due = phase if phase is not None else ((None,) * config.n_critic, None)

  def discriminator_update(state, real: dict, key, update_count, due):
    """One update of D on a real batch and fakes from the current G."""
    images, labels = real['image'], labels_of(real)
    fake_labels = gan.random_labels(stream(key, 'fake_labels'), images.shape[0])
    fake, _ = gan.generate(state, gan.noise(stream(key, 'z'), images.shape[0]), fake_labels,
                           stream(key, 'generator'))
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(params):
      if one_call:  # D keeps no statistics: scoring [reals; fakes] at once changes no value.
        both, stats = gan.discriminate(state, interleave(images, fake),
                                       None if labels is None else
                                       interleave(labels, fake_labels),
                                       stream(key, 'real_and_fake'), params)
        real_out, fake_out = halves(both)
      else:  # Batch norm: each batch with its own statistics, reals first.
        real_out, stats = gan.discriminate(state, images, labels, stream(key, 'real'), params)
        fake_out, stats = gan.discriminate(state, fake, fake_labels, stream(key, 'fake'), params,
                                           stats)
      labelled = None
      if gan.semi_supervised:
        labelled, stats = gan.discriminate(state, real['labelled_image'], None,
                                           stream(key, 'labelled'), params, stats)
      critic = lambda x, y, name: gan.discriminate(state, x, y, stream(key, f'penalty/{name}'),
                                                   params)[0].score
      inputs = gan_terms.DInputs(real_out, fake_out, images, fake, labels, fake_labels, critic,
                                 stream(key, 'penalty'), params, state.params(G), labelled,
                                 real.get('labelled_label'), state.extras)
      loss, metrics = gan_terms.total(d_terms, inputs, update_count, due)
      metrics.update(d_real=jnp.mean(real_out.score), d_fake=jnp.mean(fake_out.score))
      if labelled is not None:
        metrics['d_class_accuracy'] = jnp.mean(
            jnp.argmax(labelled.class_logits, -1) == real['labelled_label'])
      elif real_out.class_logits is not None:
        metrics['d_class_accuracy'] = jnp.mean(jnp.argmax(real_out.class_logits, -1) == labels)
      scores = jax.lax.stop_gradient((real_out.score, fake_out.score))
      return loss, (stats, metrics, scores)

    grads, (stats, metrics, scores) = jax.grad(loss_fn, has_aux=True)(state.params(D))
    player = base.apply_gradients(state.players[D], grads, gan.d_tx, stats)
    if config.weight_clip > 0:  # WGAN (Arjovsky et al. 2017): clip every parameter of the critic.
      player = player.replace(params=jax.tree.map(
          lambda p: jnp.clip(p, -config.weight_clip, config.weight_clip), player.params))
    metrics['d_grad_norm'] = optax.global_norm(grads)
    return state.replace(players={**state.players, D: player}), metrics, scores

  def generator_update(state, real: dict, key):
    """One update of G against the current D."""
    batch_size = real['image'].shape[0]
    z = gan.noise(stream(key, 'z'), batch_size)
    fake_labels = gan.random_labels(stream(key, 'fake_labels'), batch_size)

    def loss_fn(params):
      fake, stats = gan.generate(state, z, fake_labels, stream(key, 'generator'), params=params)
      fake_out, _ = gan.discriminate(state, fake, fake_labels, stream(key, 'fake'))
      real_out = None
      if g_needs_real:
        real_out, _ = gan.discriminate(state, real['image'], labels_of(real),
                                       stream(key, 'real'))
      inputs = gan_terms.GInputs(real_out, fake_out, fake_labels, state.params(D), params)
      loss, metrics = gan_terms.total(g_terms, inputs, state.step % period + 1, g_due)
      return loss, (stats, metrics)

    grads, (stats, metrics) = jax.grad(loss_fn, has_aux=True)(state.params(G))
    player = base.apply_gradients(state.players[G], grads, gan.g_tx, stats)
    metrics['g_grad_norm'] = optax.global_norm(grads)
    return state.replace(players={**state.players, G: player}), metrics

  def train_step(state: base.TrainState, batch) -> tuple[base.TrainState, dict]:
    key = streams.step_key(config.seed, state.step)
    reals = critic_batches(batch, config.n_critic)
    phase_step = state.step % period  # The lazy schedule repeats every period steps.
    # A Python loop, unrolled in the compiled step: XLA:CPU runs convolutions inside a while
    # loop (lax.scan) about 50x slower, and n_critic is small.
    real_scores, fake_scores = [], []
    for i, real in enumerate(reals):  # metrics: the last update's.
      state, metrics, (real_score, fake_score) = discriminator_update(
          state, real, stream(key, f'discriminator/{i}'), phase_step * config.n_critic + i + 1,
          d_due[i])
      real_scores.append(real_score)
      fake_scores.append(fake_score)
    state, g_metrics = generator_update(state, reals[-1], stream(key, 'generator'))
    metrics.update(g_metrics)

    extras = dict(state.extras)
    for tracker in gan.trackers:  # ADA's p, LeCam's anchors (gan_jax/tracker.py).
      extras[tracker.name], tracked = tracker.update(extras[tracker.name], real_scores,
                                                     fake_scores, state.step)
      metrics.update(tracked)
    if 'ema' in extras:
      decay = ema_decay_at(state.step, config.ema_decay)
      extras['ema'] = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, extras['ema'],
                                   state.params(G))
    if gan.num_components > 1:  # MIX+GAN: how spread the mixtures are (log K = uniform).
      metrics.update(g_mixture_entropy=losses.entropy(mixture.mixture_weights(state.params(G))),
                     d_mixture_entropy=losses.entropy(mixture.mixture_weights(state.params(D))))
    return state.replace(step=state.step + 1, extras=extras), metrics

  return train_step

