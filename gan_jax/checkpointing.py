"""Orbax checkpoints of the whole train state and the Grain iterator, in WORKDIR/checkpoints.

Each checkpoint is a step folder holding `state` (the GANState pytree, written by every process
for its shards) and `data` (each process's iterator position). Restoring both makes a resumed
run continue exactly as if it had never stopped.
"""

import os

import grain
import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Saves when asked (the trainer decides when), keeps the last `keep_checkpoints`."""

  def __init__(self, workdir: str, keep_checkpoints: int):
    self.directory = os.path.join(os.path.abspath(workdir), 'checkpoints')
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep_checkpoints, create=True),
        item_names=('state', 'data'))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, data_iterator: grain.DatasetIterator):
    """Writes checkpoint `step` (asynchronously, after copying the state off the devices)."""
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=grain.checkpoint.CheckpointSave(data_iterator)),
                       force=True)

  def restore(self, state_template, data_iterator: grain.DatasetIterator | None, step=None):
    """Restores into the shapes and shardings of state_template (e.g. a freshly built state) and,
    when given, moves data_iterator to the saved position. Returns the restored state."""
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
    items = {'state': ocp.args.StandardRestore(abstract)}
    if data_iterator is not None:
      items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    return restored['state']

  def wait_until_finished(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()
