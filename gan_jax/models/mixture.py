"""MIX+GAN players (Arora, Ge, Liang, Ma & Zhang 2017, arXiv:1703.00573): K generators and K
discriminators, each player a mixture with weights softmax(mixture_logits).

The K components of a player are one module under `nn.vmap`: their parameters (and batch-norm
statistics) are stacked on a leading axis of size K, so one compiled step serves any K and costs
what the arithmetic of K networks costs (the DCGAN convolutions switch to their im2col form under
`convolutions.stacked_kernels()`: batched matrix products, not grouped convolutions). The mixture
logits are a parameter of the player, trained by its own optimizer; the weighted pairwise losses
are gan_jax/losses.py's mixture_d_loss and mixture_g_loss.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.models import convolutions


def _fields(module: nn.Module) -> dict:
  """The constructor fields of an (unbound) module, to build the same module under vmap."""
  return {f.name: getattr(module, f.name) for f in dataclasses.fields(module)
          if f.init and f.name not in ('parent', 'name')}


class MixtureGenerator(nn.Module):
  """z [K, B, latent] -> samples [K, B, ...]: component i maps z[i]. Parameters: the stacked
  components and `mixture_logits` [K]."""
  component: nn.Module  # The template: every component is this module with its own parameters.
  num_components: int

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    self.param('mixture_logits', nn.initializers.zeros, (self.num_components,))
    stacked = nn.vmap(type(self.component), variable_axes={'params': 0, 'batch_stats': 0},
                      split_rngs={'params': True}, in_axes=(0, None, None),
                      axis_size=self.num_components)
    with convolutions.stacked_kernels():
      return stacked(**_fields(self.component), name='components')(z, labels, train)


class MixtureDiscriminator(nn.Module):
  """x [N, ...] -> logits [K, N]: every component scores every input."""
  component: nn.Module
  num_components: int

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True):
    self.param('mixture_logits', nn.initializers.zeros, (self.num_components,))
    stacked = nn.vmap(type(self.component), variable_axes={'params': 0, 'batch_stats': 0},
                      split_rngs={'params': True}, in_axes=(None, None, None),
                      axis_size=self.num_components)
    with convolutions.stacked_kernels():
      return stacked(**_fields(self.component), name='components')(x, labels, train)


def mixture_weights(params) -> jax.Array:
  """A player's mixture weights softmax(mixture_logits) [K]."""
  return jax.nn.softmax(params['mixture_logits'])


def choose_components(weights, codes_last) -> jax.Array:
  """Component index per sample drawn by weight: the inverse CDF of the weights at Phi(u) for a
  code coordinate u ~ N(0, 1), so sampling stays a function of the latent code."""
  u = jax.scipy.stats.norm.cdf(codes_last)
  index = jnp.searchsorted(jnp.cumsum(weights), u, side='right')
  return jnp.clip(index, 0, weights.shape[0] - 1)
