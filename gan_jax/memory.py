"""Will the run fit in the devices' memory? Checked twice, before the memory is needed:

1. The train state from its shapes alone (jax.eval_shape of the state's init: nothing is compiled
   or allocated), per device under its sharding (replicated, or split by fsdp), plus the batch.
2. The compiled train step's own memory plan (XLA's buffer assignment: arguments, outputs and
   temporaries such as the activations kept for the backward pass, per device), before the step
   first runs.

A device's memory is what the runtime reports (GPU, TPU); on CPU, the host's memory (its cgroup
limit when lower) shared by the CPU devices of this process. What does not fit is refused with a
ConfigError naming the sizes and the keys that set them.
"""

import math
import os

import jax

from gan_jax import errors
from gan_jax import sharding

_ADVICE = ('lower config.image_size, the players\' width, config.batch_size or config.latent_dim, '
           "or split the state over the devices with config.param_sharding='fsdp'")


def format_bytes(num_bytes: float) -> str:
  for unit in ('B', 'KB', 'MB', 'GB', 'TB'):
    if abs(num_bytes) < 1024 or unit == 'TB':
      return f'{num_bytes:.1f} {unit}' if unit != 'B' else f'{int(num_bytes)} B'
    num_bytes /= 1024
  return ''


def host_memory() -> int:
  """Physical memory of the host, or the cgroup's memory limit when it is lower (containers)."""
  total = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  for path in ('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'):
    try:
      with open(path) as f:
        limit = f.read().strip()
    except OSError:
      continue
    if limit.isdigit():
      total = min(total, int(limit))
  return total


def device_memory(device: jax.Device | None = None) -> tuple[int, str]:
  """(bytes one device can hold, what that is) for the first local device by default."""
  device = device or jax.local_devices()[0]
  try:
    stats = device.memory_stats()
  except Exception:  # pylint: disable=broad-except (backends without memory statistics)
    stats = None
  if stats and stats.get('bytes_limit'):
    return int(stats['bytes_limit']), f'the memory of one {device.device_kind}'
  count = jax.local_device_count()
  share = host_memory() // count
  where = 'the host memory' + (f' shared by {count} CPU devices' if count > 1 else '')
  return share, f'{where}'


def check_state_fits(abstract_state, batch_bytes: int = 0) -> int:
  """ConfigError when the state (ShapeDtypeStructs with their shardings, plus batch_bytes of
  input per device) cannot fit one device; returns the state's bytes per device."""
  state = sharding.bytes_per_device(abstract_state)
  available, where = device_memory()
  if state + batch_bytes > available:
    parameters = sum(math.prod(x.shape) for x in jax.tree.leaves(abstract_state))
    raise errors.ConfigError(
        f'config: the train state needs {format_bytes(state)} per device ({parameters:,} numbers: '
        f'parameters, optimizer states, EMA) and a batch {format_bytes(batch_bytes)}, more than '
        f'{where} ({format_bytes(available)}); {_ADVICE}.')
  return state


def check_step_fits(compiled) -> None:
  """ConfigError when the compiled step's memory plan (XLA's buffer assignment per device)
  exceeds a device's memory. Backends without a plan are not checked."""
  try:
    analysis = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except
    analysis = None
  if analysis is None:
    return
  needed = (analysis.argument_size_in_bytes + analysis.output_size_in_bytes
            - analysis.alias_size_in_bytes + analysis.temp_size_in_bytes)
  available, where = device_memory()
  if needed > available:
    raise errors.ConfigError(
        f'config: one train step needs {format_bytes(needed)} per device (state and batch '
        f'{format_bytes(analysis.argument_size_in_bytes)}, activations and other temporaries '
        f'{format_bytes(analysis.temp_size_in_bytes)}, by XLA\'s memory plan), more than {where} '
        f'({format_bytes(available)}); {_ADVICE}.')
