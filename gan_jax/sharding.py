"""Data parallelism over a `jax.sharding.Mesh` with a `data` axis (the jit/pjit way).

The batch is split on its batch dimension over `data`. Under jit, XLA inserts the cross-device
reductions, so losses, gradients and batch-norm statistics are over the global batch: one device
and eight give the same step. The train state (parameters, optimizer states, EMA, ...) is
replicated (config.param_sharding='replicated'), or with 'fsdp' each array of at least
FSDP_MIN_SIZE elements is split over `data` along its largest dimension that the devices divide
(ZeRO-3 / FSDP style): each device holds 1/N of it, and XLA gathers the parameters where a layer
needs them and reduce-scatters their gradients. The same step, less memory per device.
"""

import math
from typing import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'
PARAM_SHARDINGS = ('replicated', 'fsdp')
FSDP_MIN_SIZE = 1024  # Smaller arrays (biases, norms, scalars) stay replicated.


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh over all devices (of all processes) unless devices are given."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.array(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, steps_per_call: int = 1) -> NamedSharding:
  """Batches are [B, ...], or [steps_per_call, B, ...] when several steps run per call; B (the
  records of one step) is split."""
  return NamedSharding(mesh, P(*(None,) * (steps_per_call > 1), DATA_AXIS))


def global_batch(local_batch: dict, sharding: NamedSharding) -> dict:
  """Assembles each process's local numpy batch into one global jax.Array per key."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), local_batch)


def state_shardings(abstract_state, mesh: Mesh, mode: str = 'replicated'):
  """The sharding of each array of a state (see the module docstring for the modes)."""
  if mode not in PARAM_SHARDINGS:
    raise ValueError(f'Unknown parameter sharding {mode!r}; choose one of {PARAM_SHARDINGS}.')
  devices = mesh.shape[DATA_AXIS]

  def sharding_of(x):
    if mode == 'fsdp' and x.size >= FSDP_MIN_SIZE:
      for axis in sorted(range(x.ndim), key=lambda a: -x.shape[a]):
        if x.shape[axis] % devices == 0:
          return NamedSharding(mesh, P(*[DATA_AXIS if a == axis else None
                                         for a in range(x.ndim)]))
    return replicated(mesh)

  return jax.tree.map(sharding_of, abstract_state)


def abstract_state(init_fn: Callable, key, mesh: Mesh, mode: str = 'replicated'):
  """The state init_fn(key) would make, as ShapeDtypeStructs with their shardings: nothing is
  compiled or allocated (jax.eval_shape)."""
  shapes = jax.eval_shape(init_fn, key)
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), shapes,
                      state_shardings(shapes, mesh, mode))


def create_state(init_fn: Callable, key, mesh: Mesh, mode: str = 'replicated'):
  """Runs init_fn(key) under jit so the state is created directly with its sharding."""
  shardings = jax.tree.map(lambda x: x.sharding, abstract_state(init_fn, key, mesh, mode))
  return jax.jit(init_fn, out_shardings=shardings)(key)


def jit_train_step(train_step: Callable, mesh: Mesh, steps_per_call: int = 1,
                   state_sharding=None) -> Callable:
  """jit(train_step) with the state sharded as state_sharding (default: replicated; pass
  jax.tree.map(lambda x: x.sharding, state) for create_state's), the batch split on `data`, the
  state donated."""
  state_sharding = replicated(mesh) if state_sharding is None else state_sharding
  return jax.jit(train_step,
                 in_shardings=(state_sharding, batch_sharding(mesh, steps_per_call)),
                 out_shardings=(state_sharding, replicated(mesh)),
                 donate_argnums=0)


def bytes_per_device(state) -> int:
  """The bytes of a state held by one device: its arrays, or ShapeDtypeStructs with shardings
  (abstract_state), each counted at the shape of one shard."""
  return sum(math.prod(x.sharding.shard_shape(tuple(x.shape))) * np.dtype(x.dtype).itemsize
             for x in jax.tree.leaves(state))
