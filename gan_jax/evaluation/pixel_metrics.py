"""The metrics of sample sets that look at pixels or at the generator rather than at features:
mode statistics of 2-D mixtures, Stacked MNIST modes, the birthday test, the neural-net
divergence, memorisation, the augmentation leak, interpolations and latent arithmetic. Each
returns its numbers, its protocol line and its pictures; the Evaluator calls `evaluate`."""

from collections.abc import Callable, Iterator

import numpy as np

from gan_jax import errors
from gan_jax.evaluation import diagnostics, latent, leak, toy2d

EvaluationError = errors.EvaluationError


def evaluate(metrics, samples: np.ndarray | None, dataset: str, reference: np.ndarray | None,
             reference_name: str, extractor, generator: Callable | None, latent_dim: int,
             seed: int) -> tuple[dict, dict, dict]:
  """(values, protocols, images) of the pixel, generator and point metrics among `metrics`
  (samples None: none of them needs the samples)."""
  values, protocols, images = {}, {}, {}
  n = 0 if samples is None else len(samples)
  generated = f'{n} generated'
  if 'modes' in metrics:
    values.update(toy2d.mode_statistics(samples, dataset))
    protocols['modes'] = (f'{generated} points; high quality within 3 std of the nearest mode; '
                          'a mode is covered by >= 0.2 N / modes high-quality samples (PacGAN); '
                          'reverse KL of the high-quality samples over the modes vs uniform')
  if 'stacked_modes' in metrics:
    values.update(diagnostics.stacked_mnist_modes(samples, extractor))
    protocols['stacked_modes'] = (f'{generated} RGB samples, each channel labelled by '
                                  f'{extractor.name}; 1,000 modes; KL(generated || uniform)')
  if 'birthday' in metrics:
    stats, images['birthday_pairs'] = diagnostics.birthday_paradox(samples, reference)
    values.update(stats)
    protocols['birthday'] = (f'{generated} in batches of 400, pixel L2; duplicate = closer than '
                             'half the closest pair in any batch of 400 of '
                             f'{reference_name}')
  if 'nn_divergence' in metrics:
    values.update(diagnostics.neural_net_divergence(reference, samples, seed=seed))
    half = min(len(reference), n) // 2
    protocols['nn_divergence'] = (f'a fresh CNN discriminator, 1,000 Adam steps on {half} real '
                                  f'+ {half} generated, scored on {half} + {half} others; '
                                  f'real: {reference_name}')
  if 'memorization' in metrics:
    stats, images['nearest_training'] = diagnostics.nearest_training_images(
        samples[:2000], reference)
    values.update(stats)
    protocols['memorization'] = (f'{min(n, 2000)} generated, pixel L2 to the nearest of '
                                 f'{reference_name}; real baseline: 1,000 of them to '
                                 'their nearest other image; medians')
  if 'leak' in metrics:
    values.update(leak.augmentation_leak(samples, reference, seed=seed))
    protocols['leak'] = (f'{generated}: fraction whose nearest of {reference_name} in pixel '
                         'L2 is closest after undoing a 90-degree rotation / mirror (geometric) '
                         'or a luma flip (negated); real: 1,000 of them against the others')
  if 'interpolation' in metrics:
    images.update(_interpolations(generator, latent_dim, seed))
    protocols['interpolation'] = '8 random pairs of z, 10 steps, lerp and slerp'
  if 'arithmetic' in metrics:
    stats, images['arithmetic'] = _arithmetic(generator, latent_dim, extractor, seed)
    values.update(stats)
    protocols['arithmetic'] = ('thin digit + (thick - thin) for each class, 10 exemplars a term '
                               f'among 4,000 samples; classes from {extractor.name}; ink = '
                               'mean brightness')
  return values, protocols, images


def _require(generator, what):
  if generator is None:
    raise EvaluationError(f'{what} needs the generator: evaluate a workdir, not a sample file.')

def _interpolations(generator, latent_dim, seed) -> dict[str, np.ndarray]:
  _require(generator, 'interpolation')
  rng = np.random.default_rng(seed)
  z0, z1 = rng.standard_normal((2, 8, latent_dim)).astype(np.float32)
  return {f'interpolation_{method}': np.asarray(generator(
      latent.interpolation_latents(z0, z1, 10, method))) for method in latent.INTERPOLATIONS}

def _arithmetic(generator, latent_dim, extractor, seed):
  _require(generator, 'arithmetic')
  z = np.random.default_rng(seed).standard_normal((4000, latent_dim)).astype(np.float32)
  images = np.concatenate(list(batched(generator, z)))
  return latent.stroke_arithmetic(generator, z, images, extractor)


def batched(generator: Callable, z: np.ndarray, batch_size: int = 500) -> Iterator[np.ndarray]:
  for i in range(0, len(z), batch_size):
    yield np.asarray(generator(z[i:i + batch_size]))
