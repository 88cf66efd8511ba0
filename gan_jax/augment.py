"""The augmentations of what D sees, chosen by name (config.augment): 'none' or a DiffAugment
policy (gan_jax/diffaugment.py) such as 'color,translation,cutout', or 'ada' (gan_jax/ada.py:
the pipeline config.ada.pipeline at probability p, fixed or adapted to D's overfitting).

Every image D scores passes through one augmentation (gan_jax/games/gan.py, `discriminate`):
reals, fakes and the inputs of gradient penalties alike, differentiably, so G is not taught to
produce augmented images (DiffAugment, ADA). An augmentation is
  apply(images [B, H, W, C], key, extras) -> images   (per-sample randomness from key)
  trackers                what it keeps in the train state (ADA's p; gan_jax/tracker.py)
and AUGMENTATIONS maps each name to a function config -> Augmentation.

The consistency regularisers (CR, bCR) compare D on an image and on `consistency_transform` of it.
"""

import itertools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gan_jax import ada
from gan_jax import diffaugment
from gan_jax import streams
from gan_jax.tracker import Tracker


class Augmentation(NamedTuple):
  apply: Callable
  trackers: tuple[Tracker, ...] = ()


def identity(images, key, extras):
  del key, extras
  return images


def _diffaugment(policy: tuple[str, ...]) -> Callable:
  return lambda config: Augmentation(
      lambda images, key, extras: diffaugment.diff_augment(images, key, policy))


def _ada(config) -> Augmentation:
  """ADA at p = extras['ada']['p'], from config.ada.p, adapted every config.ada.interval steps
  toward r_t = config.ada.target (target 0: p stays fixed)."""
  groups = ada.parse_pipeline(config.ada.pipeline)
  p0, target, interval, kimg = (float(config.ada.p), float(config.ada.target),
                                int(config.ada.interval), float(config.ada.kimg))

  def update(value, real_scores, fake_scores, step):
    del fake_scores
    value = ada.update_state(value, real_scores, step, target, interval, kimg)
    return value, {'ada_p': value['p'], 'ada_rt': value['rt']}

  return Augmentation(lambda images, key, extras: ada.augment(images, key, extras['ada']['p'],
                                                              groups),
                      (Tracker('ada', lambda: ada.init_state(p0), update),))


# 'none'; DiffAugment by its paper's policy strings: 'color', 'translation', 'cutout',
# 'color,translation', ..., 'color,translation,cutout' (the order of the paper's code); 'ada'.
AUGMENTATIONS = {'none': lambda config: Augmentation(identity)} | {
    ','.join(policy): _diffaugment(policy) for size in (1, 2, 3)
    for policy in itertools.combinations(diffaugment.POLICIES, size)} | {'ada': _ada}


def build(config) -> Augmentation:
  """The augmentation config.augment names."""
  return AUGMENTATIONS[config.augment](config)


def consistency_transform(images, key):
  """T of the consistency regularisers (Zhang et al. 2020): a random horizontal flip and a random
  translation by up to 1/8 of the image (zero padding), per sample."""
  flip = jax.random.bernoulli(streams.stream(key, 'flip'), 0.5, (images.shape[0], 1, 1, 1))
  images = jnp.where(flip, images[:, :, ::-1], images)
  return diffaugment.translation(images, streams.stream(key, 'translation'))
