"""The augmentations of what D sees, chosen by name (config.augment).

Every image D scores passes through one augmentation (gan_jax/games/gan.py, `discriminate`):
reals, fakes and the inputs of gradient penalties alike, differentiably, so G is not taught to
produce augmented images (DiffAugment, ADA). An augmentation is
  apply(images [B, H, W, C], key, extras) -> images   (per-sample randomness from key)
  init_extras() -> dict                                what it keeps in the train state (ADA's p)
"""

from typing import Callable, NamedTuple


class Augmentation(NamedTuple):
  apply: Callable
  init_extras: Callable = dict


def identity(images, key, extras):
  del key, extras
  return images


AUGMENTATIONS = {'none': Augmentation(identity)}
