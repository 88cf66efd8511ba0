"""Generators and discriminators, chosen by name in the config.

`config.generator` and `config.discriminator` are ConfigDicts with a `name` (a key of
GENERATORS / DISCRIMINATORS) and the module's own fields (e.g. `width`, `norm`, `hidden`).
"""

import dataclasses
from typing import Any, Sequence

import flax.linen as nn

from gan_jax.models.dcgan import DCGANDiscriminator, DCGANGenerator, spatial_plan
from gan_jax.models.layers import COMPUTE_DTYPES, NORMS
from gan_jax.models.mlp import MLPDiscriminator, MLPGenerator

GENERATORS = {'dcgan': DCGANGenerator, 'mlp': MLPGenerator}
DISCRIMINATORS = {'dcgan': DCGANDiscriminator, 'mlp': MLPDiscriminator}

# Fields that the trainer sets from the data (output_shape) or from config.compute_dtype (dtype)
# rather than from the player's own config entry.
_DATA_FIELDS = ('output_shape', 'dtype')


def configurable_fields(module_class) -> tuple[str, ...]:
  """The fields of a module that a config may set."""
  return tuple(f.name for f in dataclasses.fields(module_class)
               if f.init and f.name not in ('parent', 'name') + _DATA_FIELDS)


def _build(registry, role: str, spec, **data_fields) -> nn.Module:
  spec = dict(spec)
  name = spec.pop('name', None)
  if name not in registry:
    raise ValueError(f'config.{role}.name={name!r} is unknown; choose one of {sorted(registry)}.')
  module_class = registry[name]
  unknown = sorted(set(spec) - set(configurable_fields(module_class)))
  if unknown:
    raise ValueError(f'config.{role} has keys {unknown} that {module_class.__name__} does not take; '
                     f'it takes {list(configurable_fields(module_class))}.')
  if spec.get('norm', 'none') not in NORMS:
    raise ValueError(f"config.{role}.norm={spec['norm']!r} is not allowed: choose one of "
                     f'{list(NORMS)}.')
  spec = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
  return module_class(**spec, **data_fields)


def build_generator(spec: Any, output_shape: Sequence[int], compute_dtype: str = 'float32'
                    ) -> nn.Module:
  return _build(GENERATORS, 'generator', spec, output_shape=tuple(output_shape),
                dtype=COMPUTE_DTYPES[compute_dtype])


def build_discriminator(spec: Any, compute_dtype: str = 'float32') -> nn.Module:
  return _build(DISCRIMINATORS, 'discriminator', spec, dtype=COMPUTE_DTYPES[compute_dtype])


__all__ = ['GENERATORS', 'DISCRIMINATORS', 'NORMS', 'COMPUTE_DTYPES', 'build_generator', 'build_discriminator',
           'configurable_fields', 'spatial_plan', 'DCGANGenerator', 'DCGANDiscriminator',
           'MLPGenerator', 'MLPDiscriminator']
