"""Latent-space tools: interpolation and vector arithmetic (Radford et al. 2016, section 6).

  lerp(z0, z1, t)  = (1 - t) z0 + t z1
  slerp(z0, z1, t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1, cos w = z0.z1 / |z0||z1|
                     (White 2016: stays at the norm typical of Gaussian z, where lerp's midpoints
                     fall inside the shell G was trained on)

Vector arithmetic, the "man with glasses - man + woman = woman with glasses" of DCGAN, on digits:
the classifier names each sample's class and the ink (mean brightness) measures stroke
thickness; "thin b + (thick - thin)" should give a thick b of the same class. As in the paper,
each term is a mean of exemplars' z (10 here: with 3, the stroke vector still carried class).
"""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.evaluation import features as features_lib


def lerp(z0, z1, t):
  return (1.0 - t) * z0 + t * z1


def slerp(z0, z1, t):
  unit0 = z0 / jnp.linalg.norm(z0, axis=-1, keepdims=True)
  unit1 = z1 / jnp.linalg.norm(z1, axis=-1, keepdims=True)
  omega = jnp.arccos(jnp.clip(jnp.sum(unit0 * unit1, axis=-1, keepdims=True), -1.0, 1.0))
  sin_omega = jnp.sin(omega)
  safe = sin_omega > 1e-6  # Parallel endpoints: fall back to lerp.
  w0 = jnp.where(safe, jnp.sin((1.0 - t) * omega) / jnp.where(safe, sin_omega, 1.0), 1.0 - t)
  w1 = jnp.where(safe, jnp.sin(t * omega) / jnp.where(safe, sin_omega, 1.0), t)
  return w0 * z0 + w1 * z1


INTERPOLATIONS = {'lerp': lerp, 'slerp': slerp}


def interpolation_latents(z0: jax.Array, z1: jax.Array, num_steps: int, method: str) -> jax.Array:
  """[R, Z] endpoints -> [R * num_steps, Z], row r going from z0[r] to z1[r]."""
  t = jnp.linspace(0.0, 1.0, num_steps)[None, :, None]
  path = INTERPOLATIONS[method](z0[:, None, :], z1[:, None, :], t)
  return path.reshape(-1, z0.shape[-1])


def ink(images: np.ndarray) -> np.ndarray:
  """Mean brightness in [0, 1] of each image in [-1, 1]."""
  return ((np.asarray(images) + 1.0) / 2.0).reshape(len(images), -1).mean(axis=1)


def stroke_arithmetic(generate, z: np.ndarray, images: np.ndarray,
                      digit_classifier: features_lib.FeatureExtractor, exemplars: int = 10
                      ) -> tuple[dict[str, float], np.ndarray]:
  """thin digit + (thick - thin): the stroke vector added to each class's thin exemplars.

  z [N, Z] are latent codes with G(z) = images; generate: z [M, Z] -> images. The stroke vector is
  the mean over classes of (mean z of the `exemplars` thickest - mean z of the thinnest confident
  samples of the class), so it carries thickness but no class. Returns statistics and 2 rows of
  images: each class's thin exemplar mean, then the same plus the stroke vector."""
  _, logits = digit_classifier(features_lib.in_batches(images, 1000))
  probabilities = np.exp(logits - logits.max(1, keepdims=True))
  probabilities /= probabilities.sum(1, keepdims=True)
  labels, confidence = probabilities.argmax(1), probabilities.max(1)
  thickness = ink(images)
  classes = range(digit_classifier.num_classes)

  def exemplar_mean(cls, thick):
    members = np.flatnonzero((labels == cls) & (confidence > 0.9))
    if len(members) < 2 * exemplars:
      raise ValueError(f'arithmetic: only {len(members)} confident samples of class {cls} among '
                       f'{len(z)}; it needs {2 * exemplars}.')
    ranked = members[np.argsort(thickness[members])]
    return z[ranked[-exemplars:] if thick else ranked[:exemplars]].mean(axis=0)

  thin = np.stack([exemplar_mean(c, False) for c in classes])
  stroke = np.mean([exemplar_mean(c, True) for c in classes], axis=0) - thin.mean(axis=0)
  rows = np.asarray(generate(np.concatenate([thin, thin + stroke])))
  _, result_logits = digit_classifier([rows[len(thin):]])
  return {
      'arithmetic_class_kept': float(np.mean(result_logits.argmax(1) == np.arange(len(thin)))),
      'arithmetic_ink_ratio': float(np.mean(ink(rows[len(thin):]) / ink(rows[:len(thin)]))),
  }, rows
