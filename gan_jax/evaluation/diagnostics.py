"""Mode-collapse and memorisation diagnostics for image GANs.

  stacked_mnist_modes: Stacked MNIST (Metz et al. 2017; VEEGAN, PacGAN protocol): each RGB sample
      is three digits; the digit classifier labels each channel, giving one of 1,000 modes. Reports
      modes covered (at least one sample) and KL(generated mode distribution || uniform), and the
      fraction of samples whose three digits the classifier recognises with p > 0.9.
  birthday_paradox: Arora & Zhang 2017. If batches of s samples contain a near-duplicate pair with
      probability p, a generator drawing uniformly from N images has p ~ 1 - exp(-s(s-1) / 2N), so
      N ~ s(s-1) / (2 ln(1 / (1 - p))). "Near-duplicate" is calibrated on real data: closer than
      half the distance of the closest pair found in any batch of s real images (real data has
      none by this rule; Arora & Zhang judged by eye).
  neural_net_divergence: Arora et al. 2017's d_F for the log family: train a fresh small
      discriminator on half of the real and generated samples, then on the other halves
      E_real log D + E_fake log(1 - D) + log 4 (0 when it cannot tell them apart; at most log 4)
      and its held-out accuracy.
  nearest_training_images: for each sample, the closest training image (pixel L2), against the
      distance from real training images to their closest *other* training image: a median ratio
      well below 1 means the generator copies training images.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax.evaluation import classifier as classifier_lib
from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import metrics


def stacked_mnist_modes(samples: np.ndarray, digit_classifier: features_lib.FeatureExtractor,
                        batch_size: int = 1000) -> dict[str, float]:
  """samples [N, H, W, 3] in [-1, 1] -> modes covered of 1,000 and KL to uniform."""
  if samples.ndim != 4 or samples.shape[-1] != 3:
    raise ValueError(f'Stacked MNIST samples are RGB [N, H, W, 3], got {samples.shape}.')
  if digit_classifier.num_classes != 10:
    raise ValueError(f'stacked_modes needs a 10-class digit classifier, got '
                     f'{digit_classifier.num_classes} classes ({digit_classifier.name}).')
  digits, confident = [], np.ones(len(samples), bool)
  for channel in range(3):
    _, logits = digit_classifier(features_lib.in_batches(samples[..., channel:channel + 1],
                                                         batch_size))
    digits.append(logits.argmax(axis=1))
    confident &= np.exp(metrics.log_softmax(logits).max(axis=1)) > 0.9
  modes = 100 * digits[0] + 10 * digits[1] + digits[2]
  q = np.bincount(modes, minlength=1000) / len(modes)
  nonzero = q > 0
  return {'stacked_modes_covered': float(nonzero.sum()),
          'stacked_kl': float(np.sum(q[nonzero] * np.log(q[nonzero] * 1000))),
          # Samples whose three digits are all recognised with p > 0.9: the classifier labels
          # any blot with some digit, so low values mean the modes are counted on poor samples.
          'stacked_confident_fraction': float(confident.mean())}


def _closest_pairs(batch: np.ndarray, top: int) -> list[tuple[float, int, int]]:
  flat = batch.reshape(len(batch), -1)
  distances = metrics.pairwise_distances(flat, flat)
  rows, cols = np.triu_indices(len(batch), k=1)
  pair_distances = distances[rows, cols]
  order = np.argsort(pair_distances)[:top]
  return [(float(pair_distances[o]), int(rows[o]), int(cols[o])) for o in order]


def birthday_paradox(samples: np.ndarray, real: np.ndarray, batch_size: int = 400,
                     top_pairs: int = 16) -> tuple[dict[str, float], np.ndarray]:
  """Closest pairs within batches of `batch_size` samples (pixel L2).

  Returns the statistics and [2 * top_pairs, H, W, C]: the closest generated pairs over all
  batches, each image followed by its partner."""
  num_batches = len(samples) // batch_size
  num_real_batches = len(real) // batch_size
  if num_batches < 2 or num_real_batches < 1:
    raise ValueError(f'The birthday test needs at least {2 * batch_size} samples and '
                     f'{batch_size} real images (batch_size {batch_size}); got {len(samples)} '
                     f'and {len(real)}.')
  threshold = 0.5 * min(_closest_pairs(real[i * batch_size:(i + 1) * batch_size], 1)[0][0]
                        for i in range(num_real_batches))
  duplicates, pairs = 0, []
  for b in range(num_batches):
    batch = samples[b * batch_size:(b + 1) * batch_size]
    closest = _closest_pairs(batch, top_pairs)
    duplicates += closest[0][0] < threshold
    pairs += [(d, batch[i], batch[j]) for d, i, j in closest]
  pairs.sort(key=lambda p: p[0])
  p = duplicates / num_batches
  clipped = min(max(p, 0.5 / num_batches), 1 - 0.5 / num_batches)
  support = batch_size * (batch_size - 1) / (2 * np.log(1 / (1 - clipped)))
  stats = {'birthday_duplicate_rate': float(p),
           'birthday_support_estimate': float(support),
           # +1: no batch had a duplicate (support is at least this); -1: all did (at most this).
           'birthday_support_bound': float(1 if p == 0 else -1 if p == 1 else 0),
           'birthday_threshold': float(threshold),
           'birthday_closest_distance': float(pairs[0][0])}
  image = np.stack([image for _, a, b in pairs[:top_pairs] for image in (a, b)])
  return stats, image


def neural_net_divergence(real: np.ndarray, fake: np.ndarray, steps: int = 1000,
                          batch_size: int = 128, seed: int = 0) -> dict[str, float]:
  """Trains a fresh DigitCNN-sized binary discriminator on the first halves of `real` and
  `fake`, reports on the second halves (see the module docstring)."""
  n = min(len(real), len(fake)) // 2
  if n < batch_size:
    raise ValueError(f'nn_divergence needs at least {2 * batch_size} real and generated images, '
                     f'got {len(real)} and {len(fake)}.')
  size = real.shape[1]
  model = classifier_lib.DigitCNN(num_classes=1)
  key = jax.random.key(seed)
  params = model.init(key, jnp.zeros((1, size, size, real.shape[-1])))['params']
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)

  def logits_of(p, x, train=False, rng=None):
    return model.apply({'params': p}, x, train=train, rngs={'dropout': rng} if train else {})[1][:, 0]

  @jax.jit
  def train_step(params, opt_state, x_real, x_fake, step):
    def loss_fn(p):
      rng = jax.random.fold_in(key, step)
      lr, lf = logits_of(p, x_real, True, rng), logits_of(p, x_fake, True, rng)
      return (optax.sigmoid_binary_cross_entropy(lr, jnp.ones_like(lr)).mean() +
              optax.sigmoid_binary_cross_entropy(lf, jnp.zeros_like(lf)).mean())
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  rng = np.random.default_rng(seed)
  for step in range(steps):
    params, opt_state = train_step(params, opt_state, real[rng.integers(0, n, batch_size)],
                                   fake[rng.integers(0, n, batch_size)], step)
  logits = jax.jit(logits_of)
  held_real = np.concatenate([np.asarray(logits(params, real[i:i + 500]))
                              for i in range(n, 2 * n, 500)]).astype(np.float64)
  held_fake = np.concatenate([np.asarray(logits(params, fake[i:i + 500]))
                              for i in range(n, 2 * n, 500)]).astype(np.float64)
  log_d_real = -np.logaddexp(0, -held_real)  # log sigmoid
  log_1m_d_fake = -np.logaddexp(0, held_fake)
  accuracy = (np.mean(held_real > 0) + np.mean(held_fake < 0)) / 2
  return {'nn_divergence': float(log_d_real.mean() + log_1m_d_fake.mean() + np.log(4)),
          'nn_accuracy': float(accuracy)}


def nearest_training_images(samples: np.ndarray, train: np.ndarray, num_real: int = 1000,
                            num_shown: int = 16, seed: int = 0) -> tuple[dict[str, float], np.ndarray]:
  """Pixel-L2 nearest training image of each sample, against that of num_real training images
  (excluding themselves).

  Returns statistics and [2 * num_shown, H, W, C]: the samples closest to a training image, each
  followed by that training image."""
  flat_train = train.reshape(len(train), -1)
  sample_distances = metrics.pairwise_distances(samples.reshape(len(samples), -1), flat_train)
  nearest = sample_distances.argmin(axis=1)
  sample_nearest = sample_distances[np.arange(len(samples)), nearest]
  chosen = np.random.default_rng(seed).choice(len(train), min(num_real, len(train)), replace=False)
  real_distances = metrics.pairwise_distances(flat_train[chosen], flat_train)
  real_distances[np.arange(len(chosen)), chosen] = np.inf
  real_nearest = real_distances.min(axis=1)
  shown = np.argsort(sample_nearest)[:num_shown]
  image = np.stack([x for i in shown for x in (samples[i], train[nearest[i]])])
  return {'nearest_train_distance': float(np.median(sample_nearest)),
          'nearest_train_distance_real': float(np.median(real_nearest)),
          'memorization_ratio': float(np.median(sample_nearest) / np.median(real_nearest)),
          'closest_sample_distance': float(sample_nearest.min())}, image
