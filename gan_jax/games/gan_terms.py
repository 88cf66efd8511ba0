"""The GAN game's loss terms: each player's loss is a sum of named terms, each with a weight and
an `every` interval (lazy regularisation, StyleGAN2: a term with every = k is computed on every
k-th update only and multiplied by k, so its average weight is unchanged).

  D: adversarial (config.loss; MIX+GAN: over all pairs), the gradient penalties (R1, R2, WGAN-GP:
     config.regularizers.NAME.weight / .every, or the short form config.gradient_penalty with
     config.gp_weight), LeCam (config.lecam), consistency on reals and fakes (CR / bCR:
     config.consistency), AC-GAN's class cross-entropy, the semi-supervised class loss, MIX+GAN's
     entropy of D's weights;
  G: adversarial (seeing D's real scores too, for the relativistic losses) or, semi-supervised,
     feature matching; AC-GAN's class cross-entropy; MIX+GAN's entropy of G's weights.

The math of each term is gan_jax/losses.py; a term here says which of D's outputs it reads.
"""

import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from gan_jax import augment
from gan_jax import losses
from gan_jax import streams
from gan_jax.models import mixture
from gan_jax.models.output import DiscriminatorOutput
from gan_jax.tracker import Tracker


class DInputs(NamedTuple):
  """What D's terms read on one D update (fakes with stopped gradients)."""
  real: DiscriminatorOutput
  fake: DiscriminatorOutput
  real_images: jax.Array
  fake_images: jax.Array
  real_labels: Optional[jax.Array]
  fake_labels: Optional[jax.Array]
  critic: Callable  # (images, labels, key) -> D's scores, through the augmentation.
  key: jax.Array  # For the penalties' randomness (WGAN-GP's interpolation).
  d_params: Any
  g_params: Any
  labelled: Optional[DiscriminatorOutput] = None  # Semi-supervised: D on the labelled batch.
  labelled_labels: Optional[jax.Array] = None
  extras: Any = None  # TrainState.extras before this step (LeCam's anchors).


class GInputs(NamedTuple):
  """What G's terms read (D's outputs on the fakes carry G's gradients)."""
  real: Optional[DiscriminatorOutput]  # D on the reals, when a term needs them (relativistic).
  fake: DiscriminatorOutput
  fake_labels: Optional[jax.Array]
  d_params: Any
  g_params: Any


class Term(NamedTuple):
  name: str
  fn: Callable  # inputs -> scalar.
  weight: float = 1.0
  every: int = 1
  metric: Optional[str] = None  # The metric its (unweighted) value is reported as.


def total(terms, inputs, update_count, due=None) -> tuple[jax.Array, dict]:
  """sum_t weight_t * value_t, a lazy term (every = k > 1) only on the k-th, 2k-th, ... update
  (update_count, counted from 1, a multiple of k) and then times k; returns (loss, the terms'
  values as metrics: a lazy term's is 0 on the updates that skip it, so log at multiples of k).

  due: the names of the lazy terms due on this update, when the caller knows them at trace time
  (a step compiled per phase, see lazy_phase); else update_count decides under lax.cond."""
  loss, metrics = jnp.zeros((), jnp.float32), {}
  for term in terms:
    if term.every == 1:
      value = term.fn(inputs)
      loss = loss + term.weight * value
    else:
      if due is not None:
        value = term.fn(inputs) if term.name in due else jnp.zeros((), jnp.float32)
      else:
        value = jax.lax.cond(update_count % term.every == 0,
                             lambda term=term: jnp.asarray(term.fn(inputs), jnp.float32),
                             lambda: jnp.zeros((), jnp.float32))
      loss = loss + term.every * term.weight * value
    if term.metric:
      metrics[term.metric] = value
  return loss, metrics


def lazy_period(config) -> int:
  """The period, in steps, of the lazy terms' schedule (1 when every term runs every update)."""
  return math.lcm(*[t.every for t in d_terms(config) + g_terms(config)])


def lazy_phase(config, step: int) -> tuple:
  """Which lazy terms are due in step `step` (state.step before it): (for each of the n_critic
  D updates the names of D's due terms, G's due terms). Steps of one phase compile to one
  program: XLA:CPU runs a network inside lax.cond several times slower than in straight-line
  code (a penalty every 4 updates under cond cost 3x a penalty at every update)."""
  def due(terms, count):
    return frozenset(t.name for t in terms if t.every > 1 and count % t.every == 0)
  n = config.n_critic
  return (tuple(due(d_terms(config), step * n + i + 1) for i in range(n)),
          due(g_terms(config), step + 1))

def _by_generator(scores, num_components):
  """MIX+GAN: D's scores on the fakes of all generators [Kd, Kg * B] -> [Kd, Kg, B]."""
  return scores.reshape(scores.shape[0], num_components, -1)


def d_adversarial(objective, config) -> Callable:
  if config.mixture_components > 1:
    return lambda i: losses.mixture_d_loss(
        objective, i.real.score, _by_generator(i.fake.score, config.mixture_components),
        mixture.mixture_weights(i.d_params), mixture.mixture_weights(i.g_params),
        config.label_smoothing, entropy_weight=0.0)
  return lambda i: objective.d_loss(i.real.score, i.fake.score, config.label_smoothing)


def g_adversarial(objective, config) -> Callable:
  if config.mixture_components > 1:
    return lambda i: losses.mixture_g_loss(
        objective, _by_generator(i.fake.score, config.mixture_components),
        mixture.mixture_weights(i.d_params), mixture.mixture_weights(i.g_params),
        entropy_weight=0.0, real_logits=None if i.real is None else i.real.score)
  return lambda i: objective.g_loss(None if i.real is None else i.real.score, i.fake.score)


def penalty(fn: Callable, name: str) -> Callable:
  """A gradient penalty of D (conditional D at the labels of the images it is taken at; WGAN-GP's
  interpolates at the real labels)."""
  def term(i):
    labels = i.fake_labels if name in losses.PENALISED_AT_FAKES else i.real_labels
    return fn(lambda x: i.critic(x, labels, name), i.real_images, i.fake_images, i.key)
  return term


def lecam_term(i) -> jax.Array:
  anchors = i.extras['lecam']
  return losses.lecam(i.real.score, i.fake.score, anchors['real'], anchors['fake'])


def lecam_tracker(decay: float) -> Tracker:
  """LeCam's anchors: moving averages (decay) of D's mean score on reals and on fakes, from 0,
  updated after each D update (the term reads the values from before the step)."""
  def update(value, real_scores, fake_scores, step):
    del step
    for real, fake in zip(real_scores, fake_scores):
      value = {'real': decay * value['real'] + (1 - decay) * jnp.mean(real),
               'fake': decay * value['fake'] + (1 - decay) * jnp.mean(fake)}
    return value, {'lecam_anchor_real': value['real'], 'lecam_anchor_fake': value['fake']}

  zero = jnp.zeros((), jnp.float32)
  return Tracker('lecam', lambda: {'real': zero, 'fake': zero}, update)


def consistency_term(side: str) -> Callable:
  """CR's ||D(x) - D(T(x))||^2 on reals ('real') or fakes ('fake'), T augment.consistency_transform
  (and D's own augmentation on both sides)."""
  def term(i):
    out, images, labels = ((i.real, i.real_images, i.real_labels) if side == 'real' else
                           (i.fake, i.fake_images, i.fake_labels))
    name = f'consistency/{side}'
    moved = augment.consistency_transform(images, streams.stream(i.key, name))
    return losses.squared_error(out.score, i.critic(moved, labels, name))
  return term


def trackers(config) -> list[Tracker]:
  """The statistics D's terms keep in the train state (besides the augmentation's)."""
  return [lecam_tracker(config.lecam.decay)] if config.lecam.weight else []


def d_terms(config) -> list[Term]:
  """D's terms of a (validated) GAN config."""
  objective = losses.OBJECTIVES[config.loss]
  semi_supervised = config.labelled_examples > 0
  # Salimans et al. 2016 (and their code): L_D = L_supervised + 1/2 L_unsupervised.
  terms = [Term('adversarial', d_adversarial(objective, config), 0.5 if semi_supervised else 1.0,
                metric='d_loss')]
  if config.gradient_penalty != 'none':
    terms.append(Term(config.gradient_penalty, penalty(
        losses.GRADIENT_PENALTIES[config.gradient_penalty], config.gradient_penalty),
                      config.gp_weight, metric='gradient_penalty'))
  for name, spec in sorted(config.regularizers.items()):
    if spec.weight:
      terms.append(Term(name, penalty(losses.GRADIENT_PENALTIES[name], name), spec.weight,
                        spec.every, metric=f'd_{name}'))
  if config.lecam.weight:
    terms.append(Term('lecam', lecam_term, config.lecam.weight, metric='d_lecam'))
  for side in ('real', 'fake'):
    if config.consistency[side]:
      terms.append(Term(f'consistency_{side}', consistency_term(side), config.consistency[side],
                        metric=f'd_consistency_{side}'))
  if semi_supervised:
    terms.append(Term('labelled_class', lambda i: losses.class_cross_entropy(
        i.labelled.class_logits, i.labelled_labels), metric='d_class_loss'))
  elif config.conditioning == 'acgan':
    terms.append(Term('class', lambda i: (
        losses.class_cross_entropy(i.real.class_logits, i.real_labels)
        + losses.class_cross_entropy(i.fake.class_logits, i.fake_labels)),
                      config.ac_weight, metric='d_class_loss'))
  if config.mixture_components > 1:
    terms.append(Term('mixture_entropy', lambda i: -losses.entropy(
        mixture.mixture_weights(i.d_params)), config.mixture_entropy))
  return terms


def g_terms(config) -> list[Term]:
  """G's terms of a (validated) GAN config."""
  if config.labelled_examples > 0:
    return [Term('feature_matching', lambda i: losses.feature_matching(
        i.real.features, i.fake.features), metric='g_loss')]
  terms = [Term('adversarial', g_adversarial(losses.OBJECTIVES[config.loss], config),
                metric='g_loss')]
  if config.conditioning == 'acgan':
    terms.append(Term('class', lambda i: losses.class_cross_entropy(
        i.fake.class_logits, i.fake_labels), config.ac_weight, metric='g_class_loss'))
  if config.mixture_components > 1:
    terms.append(Term('mixture_entropy', lambda i: -losses.entropy(
        mixture.mixture_weights(i.g_params)), config.mixture_entropy))
  return terms


def g_needs_real_scores(config) -> bool:
  """Whether G's terms read D's outputs on real data (relativistic losses, feature matching)."""
  return config.labelled_examples > 0 or losses.OBJECTIVES[config.loss].relativistic
