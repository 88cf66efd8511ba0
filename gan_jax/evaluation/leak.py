"""Leak measure of the augmentations D sees (ADA, DiffAugment): whether G's samples look like
augmented images (rotated, mirrored or luma-flipped digits) rather than like the data.

For each sample x and each of the 16 transforms g = (an element of the dihedral group of the
square: 4 rotations by 90 degrees, each mirrored or not) x (luma flip or not: x - 2 mean_c(x),
the negative for grey images), the pixel L2 distance of g(x) to its nearest reference image is
found; the sample's orientation is the g whose image is nearest. A sample counts as `geometric`
when that g rotates or mirrors, as `negated` when it luma-flips: undoing the transform brings it
closer to the data than it was. A generator without a leak scores the rate of real images the
same test calls transformed, reported beside it (1,000 reference images against the others).
"""

import jax
import jax.numpy as jnp
import numpy as np

BASELINE_IMAGES = 1000


def dihedral(images: jax.Array) -> list[jax.Array]:
  """The 8 images of [N, H, W, C] under the dihedral group, the identity first."""
  rotations = [jnp.rot90(images, k, axes=(1, 2)) for k in range(4)]
  return rotations + [r[:, :, ::-1] for r in rotations]


def luma_flip(images: jax.Array) -> jax.Array:
  """ADA's luma flip: the colour reflected about the grey axis (grey images: -x)."""
  return images - 2 * jnp.mean(images, axis=-1, keepdims=True)


@jax.jit
def _best_transforms(samples, reference):
  """[N] index of the nearest transform: 0..7 the dihedral group, 8..15 the same luma-flipped."""
  ref = reference.reshape(len(reference), -1)
  ref_norms = jnp.sum(ref**2, axis=1)
  distances = []
  for flipped in (False, True):
    for image in dihedral(luma_flip(samples) if flipped else samples):
      flat = image.reshape(len(image), -1)
      nearest = jnp.min(ref_norms[None, :] - 2 * flat @ ref.T, axis=1)
      distances.append(nearest + jnp.sum(flat**2, axis=1))
  return jnp.argmin(jnp.stack(distances, 1), axis=1)


def transformed_fractions(samples: np.ndarray, reference: np.ndarray,
                          batch_size: int = 500) -> dict[str, float]:
  """{'geometric': fraction of samples whose nearest transform rotates or mirrors, 'negated':
  fraction whose nearest transform luma-flips}."""
  reference = jnp.asarray(reference, jnp.float32)
  best = np.concatenate([np.asarray(_best_transforms(jnp.asarray(samples[i:i + batch_size],
                                                                 jnp.float32), reference))
                         for i in range(0, len(samples), batch_size)])
  return {'geometric': float(np.mean(best % 8 != 0)), 'negated': float(np.mean(best >= 8))}


def augmentation_leak(samples: np.ndarray, reference: np.ndarray, seed: int = 0) -> dict:
  """The leak metric: the fractions of generated samples that look transformed, and the same for
  real images (BASELINE_IMAGES of the reference, held out from it)."""
  if samples.shape[1] != samples.shape[2]:
    raise ValueError(f'the leak measure rotates images by 90 degrees, so they must be square; '
                     f'got {samples.shape[1]}x{samples.shape[2]}.')
  order = np.random.default_rng(seed).permutation(len(reference))
  count = min(BASELINE_IMAGES, len(reference) // 2)
  held, rest = order[:count], order[count:]
  fake = transformed_fractions(samples, reference)
  real = transformed_fractions(reference[held], reference[rest])
  return {'leak_geometric': fake['geometric'], 'leak_negated': fake['negated'],
          'leak_geometric_real': real['geometric'], 'leak_negated_real': real['negated']}
