"""Building blocks shared by the architectures."""

import flax.linen as nn
import jax
import jax.numpy as jnp

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
