"""Named random streams: every random number of a run comes from the seed by names, never from
integers picked by hand.

  stream(key, 'train')                     the stream of the train steps
  fold_in(stream(key, 'train'), step)      step t's key (a function of (seed, t) alone)
  stream(step_key, 'discriminator/z')      a named stream inside the step

A name maps to fold_in(key, crc32(name) mod 2**31): stable across runs, processes and Python
versions (unlike hash()). Streams of different names, and of the same name under different parent
keys, are independent; names used under one key must differ (`check_distinct`).
"""

import zlib
from typing import Iterable

import jax


def name_to_int(name: str) -> int:
  return zlib.crc32(name.encode('utf-8')) & 0x7FFFFFFF


def stream(key, name: str):
  """The key of stream `name` under `key`."""
  return jax.random.fold_in(key, name_to_int(name))


def step_key(seed: int, step):
  """The key of train step `step` of a run with this seed (step may be traced)."""
  return jax.random.fold_in(stream(jax.random.key(seed), 'train'), step)


def seed_stream(seed: int, name: str):
  """A stream of the seed outside the train steps (the fixed z of sample grids, evaluations)."""
  return stream(jax.random.key(seed), name)


def check_distinct(names: Iterable[str]) -> None:
  """ValueError when two names would give the same stream."""
  seen = {}
  for name in names:
    number = name_to_int(name)
    if seen.get(number, name) != name:
      raise ValueError(f'Random streams {seen[number]!r} and {name!r} collide; rename one.')
    seen[number] = name
