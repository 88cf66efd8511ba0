"""Building blocks shared by the architectures."""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models.output import DiscriminatorOutput

# DCGAN (Radford et al. 2016): all weights from a zero-centred normal with std 0.02.
DCGAN_INIT = nn.initializers.normal(stddev=0.02)

NORMS = ('batch', 'layer', 'none')
COMPUTE_DTYPES = {'float32': None, 'bfloat16': jnp.bfloat16}  # None: flax's default (float32).


def _batch_norm_scale_init(key, shape, dtype=jnp.float32):
  """Batch-norm scales from N(1, 0.02), as in the DCGAN reference code."""
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def normalization(norm: str, train: bool, dtype=None) -> nn.Module:
  """'batch': batch norm (statistics over the global batch, running averages for eval);
  'layer': layer norm (per sample: use it in critics with a gradient penalty, Gulrajani et al.
  2017); 'none': identity. Statistics are reduced in float32 whatever the compute dtype."""
  if norm == 'batch':
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        scale_init=_batch_norm_scale_init, dtype=dtype)
  if norm == 'layer':
    return nn.LayerNorm(epsilon=1e-5, dtype=dtype)
  if norm == 'none':
    return lambda x: x
  raise ValueError(f'Unknown norm {norm!r}; choose one of {NORMS}.')


def concat_one_hot(x, labels, num_classes: int):
  """[x, one_hot(y)] on the last axis; for images [B, H, W, C] the one-hot vector is broadcast
  to every pixel as num_classes extra channels (Mirza & Osindero 2014 for convolutional nets)."""
  y = jax.nn.one_hot(labels, num_classes, dtype=x.dtype)
  y = y.reshape((y.shape[0],) + (1,) * (x.ndim - 2) + (num_classes,))
  return jnp.concatenate([x, jnp.broadcast_to(y, x.shape[:-1] + (num_classes,))], axis=-1)


class ConditionalBatchNorm(nn.Module):
  """Batch norm whose scale and shift are looked up per class (de Vries et al. 2017; Miyato &
  Koyama 2018): y = gamma_y * (x - mu) / sigma + beta_y, gamma starting at 1 and beta at 0."""
  num_classes: int
  train: bool = True
  dtype: Any = None

  @nn.compact
  def __call__(self, x, labels):
    x = nn.BatchNorm(use_running_average=not self.train, momentum=0.9, epsilon=1e-5,
                     use_scale=False, use_bias=False, dtype=self.dtype)(x)
    features = x.shape[-1]
    gamma = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.ones,
                     name='scale')(labels)
    beta = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros,
                    name='bias')(labels)
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (features,)
    return (x * gamma.reshape(shape).astype(x.dtype) + beta.reshape(shape).astype(x.dtype))


def discriminator_head(features, labels, num_classes: int, conditioning: str, kernel_init,
                       dtype=None):
  """D's output (a DiscriminatorOutput with phi(x) as its features) from its last features
  phi(x) [B, F] (float32 results):

    'none', 'concat': the score psi(phi(x)) [B], a dense layer;
    'projection': psi(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018);
    'acgan': psi(phi(x)) and class logits [B, K] from a second dense head (Odena et al. 2017);
    'semi_supervised': score logsumexp(l) and class logits l for K class logits l: the K+1-class discriminator of
      Salimans et al. 2016 with the fake class's logit fixed at 0, so D(x) = Z / (Z + 1),
      Z = sum_k exp(l_k), and its real/fake logit is log Z.

  Call it from the discriminator's compact __call__ (its layers belong to that module)."""
  features = features.reshape(features.shape[0], -1)
  class_logits = None
  if conditioning in ('acgan', 'semi_supervised'):
    class_logits = nn.Dense(num_classes, kernel_init=kernel_init, dtype=dtype,
                            name='class_head')(features).astype(jnp.float32)
    if conditioning == 'semi_supervised':
      return DiscriminatorOutput(jax.nn.logsumexp(class_logits, axis=-1), class_logits,
                                 features.astype(jnp.float32))
  logits = nn.Dense(1, kernel_init=kernel_init, dtype=dtype)(features)[:, 0]
  if conditioning == 'projection':
    embedding = nn.Embed(num_classes, features.shape[-1], embedding_init=kernel_init,
                         name='projection')(labels)
    logits = logits + jnp.sum(embedding.astype(features.dtype) * features, axis=-1)
  return DiscriminatorOutput(logits.astype(jnp.float32), class_logits,
                             features.astype(jnp.float32))
