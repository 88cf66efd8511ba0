"""The train step: a pure function (state, batch) -> (state, metrics).

One step is `n_critic` discriminator updates, each on its own real batch and fresh fakes, then one
generator update on fresh z (Goodfellow et al. 2014, Algorithm 1; k = n_critic). Randomness is
fold_in(PRNGKey(seed), step), split per update, so the step is a function of (state, batch) alone.
Conditional GANs draw the fakes' labels uniformly; MIX+GAN players weigh all pairs of components.
"""

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from gan_jax import losses
from gan_jax.models import mixture
from gan_jax.state import GAN, GANState


def ema_decay_at(step, decay: float):
  """EMA decay with warm-up, min(decay, (1 + t) / (10 + t)), so early averages are not dominated by
  the random initialisation (as tf.train.ExponentialMovingAverage with num_updates)."""
  step = step.astype(jnp.float32)
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def make_train_step(gan: GAN) -> Callable:
  """Returns train_step(state, batch) -> (state, metrics) for this GAN (not jitted; see sharding).

  batch['image']: real samples of shape [n_critic, B, *data_shape], or [n_critic * B, *data_shape];
  likewise batch['label'] for conditional GANs, and batch['labelled_image'] /
  batch['labelled_label'] for the semi-supervised GAN.
  """
  config = gan.config
  objective = losses.OBJECTIVES[config.loss]
  penalty = losses.GRADIENT_PENALTIES.get(config.gradient_penalty)
  seed_key = jax.random.key(config.seed)

  def class_loss(class_logits, labels, weight):
    """Cross-entropy of D's class prediction: AC-GAN's L_C (Odena et al. 2017; both players add
    it with weight config.ac_weight) or the semi-supervised GAN's supervised loss."""
    return weight * jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))

  def by_generator(fake_logits):
    """MIX+GAN: D's logits on the fakes of all generators [Kd, Kg * B] -> [Kd, Kg, B]."""
    return fake_logits.reshape(fake_logits.shape[0], gan.num_components, -1)

  def discriminator_update(state: GANState, real: dict, key) -> tuple[GANState, dict]:
    """One update of D on a real batch and fakes from the current G."""
    d_batch_stats = state.d_batch_stats
    images = real['image']
    labels = real['label'] if gan.conditional else None
    z_key, penalty_key = jax.random.split(key)
    noise_keys = [jax.random.fold_in(key, i) for i in (3, 4, 5)]  # D's own noise, if it has any.
    fake_labels = gan.random_labels(jax.random.fold_in(key, 2), images.shape[0])
    fake, _ = gan.apply_generator(state.g_params, state.g_batch_stats,
                                  gan.noise(z_key, images.shape[0]), fake_labels, train=True)
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(params):
      real_logits, real_classes, batch_stats = gan.apply_discriminator(
          params, d_batch_stats, images, labels, noise_keys[0])
      fake_logits, fake_classes, batch_stats = gan.apply_discriminator(
          params, batch_stats, fake, fake_labels, noise_keys[1])
      if gan.num_components > 1:
        loss = losses.mixture_d_loss(objective, real_logits, by_generator(fake_logits),
                                     mixture.mixture_weights(params),
                                     mixture.mixture_weights(state.g_params),
                                     config.label_smoothing, config.mixture_entropy)
      else:
        loss = objective.d_loss(real_logits, fake_logits, config.label_smoothing)
      aux = {'d_loss': loss, 'd_real': jnp.mean(real_logits), 'd_fake': jnp.mean(fake_logits)}
      if gan.semi_supervised:
        # Salimans et al. 2016 (and their code): L_D = L_supervised + 1/2 L_unsupervised, the
        # unsupervised part being the GAN loss of the K+1-class D on unlabelled and fake images.
        _, labelled_classes, batch_stats = gan.apply_discriminator(
            params, batch_stats, real['labelled_image'], None, noise_keys[2])
        aux['d_class_loss'] = class_loss(labelled_classes, real['labelled_label'], 1.0)
        aux['d_class_accuracy'] = jnp.mean(
            jnp.argmax(labelled_classes, -1) == real['labelled_label'])
        loss = 0.5 * loss + aux['d_class_loss']
      elif real_classes is not None:  # AC-GAN.
        aux['d_class_loss'] = (class_loss(real_classes, labels, config.ac_weight)
                               + class_loss(fake_classes, fake_labels, config.ac_weight))
        aux['d_class_accuracy'] = jnp.mean(jnp.argmax(real_classes, -1) == labels)
        loss = loss + aux['d_class_loss']
      if penalty is not None:  # Conditional critics are penalised at the real labels.
        critic = lambda x: gan.apply_discriminator(params, d_batch_stats, x, labels,
                                                   noise_keys[0])[0]
        aux['gradient_penalty'] = penalty(critic, images, fake, penalty_key)
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

  def generator_loss(g_params, state: GANState, z, fake_labels, real_images, key):
    """G's loss against the current D; returns (loss, (new G batch stats, the adversarial loss))."""
    fake, g_batch_stats = gan.apply_generator(g_params, state.g_batch_stats, z, fake_labels,
                                              train=True)
    if gan.semi_supervised:
      # Feature matching (Salimans et al. 2016, sec. 3.1): ||E f(x) - E f(G(z))||^2 on D's last
      # hidden features f, here averaged over the features as in their code.
      real_features = gan.discriminator_features(state.d_params, state.d_batch_stats,
                                                 real_images, jax.random.fold_in(key, 3))
      fake_features = gan.discriminator_features(state.d_params, state.d_batch_stats, fake,
                                                 jax.random.fold_in(key, 4))
      loss = jnp.mean((jnp.mean(real_features, 0) - jnp.mean(fake_features, 0))**2)
      return loss, (g_batch_stats, loss)
    fake_logits, fake_classes, _ = gan.apply_discriminator(
        state.d_params, state.d_batch_stats, fake, fake_labels, jax.random.fold_in(key, 4))
    if gan.num_components > 1:
      loss = losses.mixture_g_loss(objective, by_generator(fake_logits),
                                   mixture.mixture_weights(state.d_params),
                                   mixture.mixture_weights(g_params), config.mixture_entropy)
    else:
      loss = objective.g_loss(fake_logits)
    if fake_classes is None:
      return loss, (g_batch_stats, loss)
    return loss + class_loss(fake_classes, fake_labels, config.ac_weight), (g_batch_stats, loss)

  def train_step(state: GANState, batch) -> tuple[GANState, dict]:
    key = jax.random.fold_in(seed_key, state.step)
    d_keys = jax.random.split(jax.random.fold_in(key, 0), config.n_critic)
    g_key, g_label_key = jax.random.fold_in(key, 1), jax.random.fold_in(key, 2)
    reals = {k: v.reshape((config.n_critic, -1) + (gan.data_shape if k.endswith('image') else ()))
             for k, v in batch.items()}

    # A Python loop, unrolled in the compiled step: XLA:CPU runs convolutions inside a while
    # loop (lax.scan) about 50x slower, and n_critic is small.
    for i in range(config.n_critic):  # metrics: the last update's.
      real = {k: v[i] for k, v in reals.items()}
      state, metrics = discriminator_update(state, real, d_keys[i])

    batch_size = real['image'].shape[0]
    z = gan.noise(g_key, batch_size)
    fake_labels = gan.random_labels(g_label_key, batch_size)
    (_, (g_batch_stats, g_loss)), g_grads = jax.value_and_grad(generator_loss, has_aux=True)(
        state.g_params, state, z, fake_labels, real['image'], g_key)
    updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, updates)

    ema_params = state.ema_params
    if ema_params is not None:
      decay = ema_decay_at(state.step, config.ema_decay)
      ema_params = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema_params, g_params)

    metrics.update(g_loss=g_loss, g_grad_norm=optax.global_norm(g_grads))
    if gan.num_components > 1:  # MIX+GAN: how spread the mixtures are (log K = uniform).
      metrics.update(g_mixture_entropy=losses.entropy(mixture.mixture_weights(g_params)),
                     d_mixture_entropy=losses.entropy(mixture.mixture_weights(state.d_params)))
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
