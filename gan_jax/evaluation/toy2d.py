"""Mode coverage on the 2-D mixtures, the VEEGAN / PacGAN protocol.

A sample is high-quality when it lies within 3 standard deviations of its nearest mode's centre.
A mode is covered when at least a fifth of the samples a perfect generator would put there are
high-quality samples of that mode (PacGAN, Lin et al. 2018: 20 of 2,500 samples for 25 modes).
The reverse KL is KL(q || uniform) of q, the distribution of the high-quality samples over the
modes (VEEGAN, Srivastava et al. 2017): 0 for a perfect generator, log(modes / k) for one that
covers k modes evenly.
"""

import numpy as np

from gan_jax.data.sources import MIXTURES


def mode_statistics(samples: np.ndarray, dataset: str) -> dict[str, float]:
  """samples [N, 2] -> {'modes_covered', 'num_modes', 'high_quality_fraction', 'reverse_kl'}."""
  centers, std = MIXTURES[dataset]
  samples = np.asarray(samples, np.float64)
  distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
  nearest = distances.argmin(axis=1)
  high_quality = distances[np.arange(len(samples)), nearest] <= 3.0 * std
  counts = np.bincount(nearest[high_quality], minlength=len(centers))
  threshold = 0.2 * len(samples) / len(centers)
  q = counts / max(counts.sum(), 1)
  nonzero = q > 0
  reverse_kl = np.sum(q[nonzero] * np.log(q[nonzero] * len(centers))) if nonzero.any() else np.inf
  return {'modes_covered': float(np.sum(counts >= threshold)),
          'num_modes': float(len(centers)),
          'high_quality_fraction': float(high_quality.mean()),
          'reverse_kl': float(reverse_kl)}
