"""Orbax checkpoints of the whole train state and the Grain iterator, in WORKDIR/checkpoints.

Each checkpoint is a step folder holding `state` (the GANState pytree, written by every process
for its shards) and `data` (each process's iterator position). Restoring both makes a resumed
run continue exactly as if it had never stopped.
"""

import os

import grain
import jax
import orbax.checkpoint as ocp
from absl import logging


DAMAGED = 'damaged_checkpoints'  # Where unrestorable checkpoints are moved (in the workdir).


class CheckpointError(RuntimeError):
  """No checkpoint of the workdir can be restored; the message says what was tried."""


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

  def restore_latest_good(self, state_template, data_iterator) -> tuple[object, int]:
    """(state, step) of the newest checkpoint that restores, from the newest down: a corrupt or
    partial one (a kill during a write that Orbax had not finalised is never listed) is skipped
    with a warning naming it; CheckpointError when none restores."""
    failures, damaged = [], []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        state = self.restore(state_template, data_iterator, step)
      except Exception as e:  # pylint: disable=broad-except (any reader error means unusable)
        failures.append(f'step {step}: {type(e).__name__}: {str(e)[:300]}')
        damaged.append(step)
        logging.warning('Checkpoint %d in %s cannot be restored (%s); trying the one before.',
                        step, self.directory, failures[-1])
        continue
      if damaged and jax.process_index() == 0:  # Kept for inspection, out of the run's way.
        aside = os.path.join(os.path.dirname(self.directory), DAMAGED)
        os.makedirs(aside, exist_ok=True)
        for bad in damaged:
          os.replace(os.path.join(self.directory, str(bad)), os.path.join(aside, str(bad)))
        logging.warning('Resuming from checkpoint %d; moved the damaged %s to %s.', step,
                        damaged, aside)
        self._manager.reload()
      return state, step
    raise CheckpointError(
        f'No checkpoint in {self.directory} can be restored: {"; ".join(failures)}. Move the '
        'damaged step folders away to start again from the last good one, or use a new workdir.')

  def wait_until_finished(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()
