"""Data parallelism over a `jax.sharding.Mesh` with a `data` axis (the jit/pjit way).

Parameters and optimizer states are replicated; the batch is split on its batch dimension over
`data`. Under jit, XLA inserts the cross-device reductions, so losses, gradients and batch-norm
statistics are over the global batch: one device and eight give the same step.
"""

from typing import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh over all devices (of all processes) unless devices are given."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.array(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, n_critic: int = 1, steps_per_call: int = 1) -> NamedSharding:
  """Batches are [steps_per_call, n_critic, B, ...] without the axes of size 1; B is split."""
  leading_axes = (steps_per_call > 1) + (n_critic > 1)
  return NamedSharding(mesh, P(*(None,) * leading_axes, DATA_AXIS))


def global_batch(local_batch: dict, sharding: NamedSharding) -> dict:
  """Assembles each process's local numpy batch into one global jax.Array per key."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), local_batch)


def create_state(init_fn: Callable, key, mesh: Mesh):
  """Runs init_fn(key) under jit so the parameters are created directly with their sharding."""
  return jax.jit(init_fn, out_shardings=replicated(mesh))(key)


def jit_train_step(train_step: Callable, mesh: Mesh, n_critic: int = 1,
                   steps_per_call: int = 1) -> Callable:
  """jit(train_step) with the state replicated, the batch split on `data`, the state donated."""
  return jax.jit(train_step,
                 in_shardings=(replicated(mesh), batch_sharding(mesh, n_critic, steps_per_call)),
                 out_shardings=replicated(mesh),
                 donate_argnums=0)
