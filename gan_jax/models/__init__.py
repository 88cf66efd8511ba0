"""Generators and discriminators, chosen by name in the config.

`config.generator` and `config.discriminator` are ConfigDicts with a `name` (a key of
GENERATORS / DISCRIMINATORS) and the module's own fields (e.g. `width`, `norm`, `hidden`).
"""

import dataclasses
from typing import Any, Sequence

import flax.linen as nn

from gan_jax.models import image_to_image
from gan_jax.models.dcgan import DCGANDiscriminator, DCGANGenerator, spatial_plan
from gan_jax.models.layers import COMPUTE_DTYPES, NORMS
from gan_jax.models.mixture import MixtureDiscriminator, MixtureGenerator
from gan_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gan_jax.models.sngan import SNGANDiscriminator, SNGANGenerator

GENERATORS = {'dcgan': DCGANGenerator, 'mlp': MLPGenerator, 'sngan': SNGANGenerator}
DISCRIMINATORS = {'dcgan': DCGANDiscriminator, 'mlp': MLPDiscriminator,
                  'sngan': SNGANDiscriminator}

# Fields that the trainer sets from the data (output_shape), from config.compute_dtype (dtype) or
# from config.num_classes / config.conditioning rather than from the player's own config entry.
_DATA_FIELDS = ('output_shape', 'output_channels', 'dtype', 'num_classes', 'conditioning')

# How a conditional GAN uses the labels y (config.conditioning); each architecture lists the modes
# it implements in its CONDITIONINGS attribute.
CONDITIONINGS = {
    'none': 'unconditional',
    'concat': 'one-hot y concatenated to z in G and to the input of D (Mirza & Osindero 2014)',
    'projection': 'conditional batch norm in G, projection <embed(y), phi(x)> in D '
                  '(Miyato & Koyama 2018)',
    'acgan': 'one-hot y concatenated to z in G; D predicts the class too (Odena et al. 2017)',
}


def configurable_fields(module_class) -> tuple[str, ...]:
  """The fields of a module that a config may set."""
  return tuple(f.name for f in dataclasses.fields(module_class)
               if f.init and f.name not in ('parent', 'name') + _DATA_FIELDS)


def _build(registry, role: str, spec, norms: Sequence[str] = NORMS, **data_fields) -> nn.Module:
  spec = dict(spec)
  name = spec.pop('name', None)
  if name not in registry:
    raise ValueError(f'config.{role}.name={name!r} is unknown; choose one of {sorted(registry)}.')
  module_class = registry[name]
  unknown = sorted(set(spec) - set(configurable_fields(module_class)))
  if unknown:
    raise ValueError(f'config.{role} has keys {unknown} that {module_class.__name__} does not take; '
                     f'it takes {list(configurable_fields(module_class))}.')
  conditioning = data_fields.get('conditioning', 'none')
  if conditioning not in module_class.CONDITIONINGS:
    raise ValueError(f'config.conditioning={conditioning!r} is not implemented by '
                     f'{module_class.__name__} ({role}); it implements '
                     f'{list(module_class.CONDITIONINGS)}.')
  if spec.get('norm', 'none') not in norms:
    raise ValueError(f"config.{role}.norm={spec['norm']!r} is not allowed: choose one of "
                     f'{list(norms)}.')
  spec = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
  return module_class(**spec, **data_fields)


def build_generator(spec: Any, output_shape: Sequence[int], compute_dtype: str = 'float32',
                    num_classes: int = 0, conditioning: str = 'none',
                    mixture_components: int = 1) -> nn.Module:
  """The generator of config.generator; a MIX+GAN mixture of K copies when K > 1."""
  module = _build(GENERATORS, 'generator', spec, output_shape=tuple(output_shape),
                  dtype=COMPUTE_DTYPES[compute_dtype], num_classes=num_classes,
                  conditioning=conditioning)
  return module if mixture_components == 1 else MixtureGenerator(module, mixture_components)


def build_discriminator(spec: Any, compute_dtype: str = 'float32', num_classes: int = 0,
                        conditioning: str = 'none', mixture_components: int = 1) -> nn.Module:
  """The discriminator of config.discriminator; a MIX+GAN mixture of K copies when K > 1."""
  module = _build(DISCRIMINATORS, 'discriminator', spec, dtype=COMPUTE_DTYPES[compute_dtype],
                  num_classes=num_classes, conditioning=conditioning)
  return module if mixture_components == 1 else MixtureDiscriminator(module, mixture_components)


def build_translator(spec: Any, compute_dtype: str = 'float32') -> nn.Module:
  """An image-to-image generator of config.generator (image_to_image.TRANSLATORS); its output
  channels are set per direction by gan_jax.translation."""
  return _build(image_to_image.TRANSLATORS, 'generator', spec, image_to_image.NORMS,
                output_channels=0, dtype=COMPUTE_DTYPES[compute_dtype])


def build_patch_discriminator(spec: Any, compute_dtype: str = 'float32') -> nn.Module:
  """A PatchGAN discriminator of config.discriminator (image_to_image.PATCH_DISCRIMINATORS)."""
  return _build(image_to_image.PATCH_DISCRIMINATORS, 'discriminator', spec, image_to_image.NORMS,
                dtype=COMPUTE_DTYPES[compute_dtype])


__all__ = ['GENERATORS', 'DISCRIMINATORS', 'CONDITIONINGS', 'NORMS', 'COMPUTE_DTYPES', 'build_generator', 'build_discriminator',
           'build_translator', 'build_patch_discriminator',
           'configurable_fields', 'spatial_plan', 'DCGANGenerator', 'DCGANDiscriminator',
           'MLPGenerator', 'MLPDiscriminator', 'SNGANGenerator', 'SNGANDiscriminator']
