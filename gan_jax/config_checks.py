"""The small checks every config section uses (each section's owner validates its own keys)."""

import math

import ml_collections

from gan_jax import errors


def fail(key, value, allowed):
  """ConfigError naming the key, its value and what is allowed."""
  raise errors.ConfigError(f'config.{key}={value!r} is not allowed: {allowed}.')


def is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def refuse_regularizers(config, why: str) -> None:
  """ConfigError naming the first regularizer with a weight, for games that take none."""
  for name, spec in sorted(config.regularizers.items()):
    if spec.weight:
      fail(f'regularizers.{name}.weight', spec.weight, f'{why}; set it to 0')


def known_keys(section: ml_collections.ConfigDict, defaults: ml_collections.ConfigDict,
               name: str) -> None:
  """A nested section has exactly the schema's keys (unknown ones refused, with the list)."""
  unknown = sorted(set(section.keys()) - set(defaults.keys()))
  if unknown:
    raise errors.ConfigError(f'Unknown keys {unknown} in config.{name}; it has '
                             f'{sorted(defaults.keys())}.')


def finite(config, prefix: str = '') -> None:
  """Every float of the config (nested ones too) is finite: inf and NaN would only show up as
  a diverged run after compiling."""
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      finite(value, f'{prefix}{key}.')
    elif isinstance(value, float) and not math.isfinite(value):
      fail(f'{prefix}{key}', value, 'it must be a finite number')
