"""What every discriminator returns: one structure, whatever the architecture."""

from typing import NamedTuple, Optional

import jax


class DiscriminatorOutput(NamedTuple):
  """D(x): `score` the real/fake logit per sample [B] (PatchGAN: per patch [B, h, w]; MIX+GAN:
  every component's, [K, B]); `class_logits` [B, K] where D classifies (AC-GAN, semi-supervised);
  `features` phi(x) [B, F], the last hidden features (feature matching), where D has them."""
  score: jax.Array
  class_logits: Optional[jax.Array] = None
  features: Optional[jax.Array] = None
