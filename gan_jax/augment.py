"""The augmentations of what D sees, chosen by name (config.augment): 'none' or a DiffAugment
policy (gan_jax/diffaugment.py) such as 'color,translation,cutout'.

Every image D scores passes through one augmentation (gan_jax/games/gan.py, `discriminate`):
reals, fakes and the inputs of gradient penalties alike, differentiably, so G is not taught to
produce augmented images (DiffAugment, ADA). An augmentation is
  apply(images [B, H, W, C], key, extras) -> images   (per-sample randomness from key)
  init_extras() -> dict                                what it keeps in the train state (ADA's p)
"""

import itertools
from typing import Callable, NamedTuple

from gan_jax import diffaugment


class Augmentation(NamedTuple):
  apply: Callable
  init_extras: Callable = dict


def identity(images, key, extras):
  del key, extras
  return images


def _diffaugment(policy: tuple[str, ...]) -> Augmentation:
  return Augmentation(lambda images, key, extras: diffaugment.diff_augment(images, key, policy))


# 'none', and DiffAugment by its paper's policy strings: 'color', 'translation', 'cutout',
# 'color,translation', ..., 'color,translation,cutout' (the order of the paper's code).
AUGMENTATIONS = {'none': Augmentation(identity)} | {
    ','.join(policy): _diffaugment(policy) for size in (1, 2, 3)
    for policy in itertools.combinations(diffaugment.POLICIES, size)}
