"""Orbax checkpoints of the whole train state and the Grain iterator, in WORKDIR/checkpoints.

Each checkpoint is a step folder holding `state` (the TrainState pytree, written by every process
for its shards) and `data` (each process's iterator position). Restoring both makes a resumed
run continue exactly as if it had never stopped.
"""

import os

import grain
import jax
import orbax.checkpoint as ocp
from absl import logging
from etils import epath

from gan_jax import errors


DAMAGED = 'damaged_checkpoints'  # Where unrestorable checkpoints are moved (in the workdir).


CheckpointError = errors.CheckpointError

# Orbax writes a replicated array in replica-parallel slices by default (on CPU and TPU), each
# slice cut by its own small device program. A GAN state is many small arrays, so on 8 devices a
# save of a small model spent about 2 s cutting slices that are a few KB each. Arrays whose
# slice would be under this size are written whole by one replica instead; large ones are
# still split across the replicas.
REPLICA_PARALLEL_MIN_SLICE_BYTES = 4 << 20
ocp.type_handlers.register_type_handler(
    jax.Array, ocp.type_handlers.ArrayHandler(
        min_slice_bytes_for_replica_parallel=REPLICA_PARALLEL_MIN_SLICE_BYTES), override=True)


class Checkpointer:
  """Saves when asked (the trainer decides when), keeps the last `keep_checkpoints`.

  A save copies the state off the devices, creates its step folder at once (so a folder that
  cannot be written fails the save itself, not a background thread minutes later) and writes the
  arrays in the background; a failure there surfaces as CheckpointError at the next save, the
  next `raise_if_failed` (the trainer calls it at every log step) or the final wait. read_only:
  for restoring only (sample, evaluate, translate), creating nothing."""

  def __init__(self, workdir: str, keep_checkpoints: int, read_only: bool = False):
    self.directory = os.path.join(os.path.abspath(workdir), 'checkpoints')
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep_checkpoints, create=not read_only,
            async_options=ocp.AsyncOptions(create_directories_asynchronously=False)),
        item_names=('state', 'data'))
    self._pending = None  # The step of the save in flight.

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, data_iterator: grain.DatasetIterator):
    """Writes checkpoint `step` (asynchronously, after copying the state off the devices)."""
    self.wait_until_finished()
    try:
      self._manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state),
          data=grain.checkpoint.CheckpointSave(data_iterator)), force=True)
    except Exception as e:  # pylint: disable=broad-except (any writer error: say what is kept)
      raise self._write_error(step, e) from e
    self._pending = step

  def raise_if_failed(self) -> None:
    """CheckpointError if the save in flight has failed; returns at once otherwise."""
    if self._pending is not None and not self._manager.is_saving_in_progress():
      self.wait_until_finished()

  def wait_until_finished(self):
    """Blocks until the save in flight is complete; CheckpointError if it failed."""
    step, self._pending = self._pending, None
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise self._write_error(step, e) from e

  def _write_error(self, step, cause: Exception) -> CheckpointError:
    complete = [s for s in self._manager.all_steps() if s != step]
    kept = (f'the complete checkpoints {sorted(complete)} are kept, and rerunning the same '
            f'command resumes from step {max(complete)}' if complete else
            'no complete checkpoint exists yet')
    return CheckpointError(
        f'Checkpoint {step} could not be written to {self.directory} ({type(cause).__name__}: '
        f'{str(cause)[:400]}); the run stops rather than train on without checkpoints. Free disk '
        f'space or make the folder writable; {kept}.')

  def restore(self, state_template, data_iterator: grain.DatasetIterator | None, step=None):
    """Restores into the shapes and shardings of state_template (e.g. a freshly built state) and,
    when given, moves data_iterator to the saved position. Returns the restored state.
    CheckpointError when the checkpoint holds a state of other arrays or shapes (another model)."""
    step = self.latest_step() if step is None else step
    self._check_structure(state_template, step)
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
    items = {'state': ocp.args.StandardRestore(abstract)}
    if data_iterator is not None:
      items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    return restored['state']

  def _check_structure(self, state_template, step: int) -> None:
    """CheckpointError naming the arrays that the checkpoint and the template disagree on."""
    try:
      saved = ocp.StandardCheckpointHandler().metadata(
          epath.Path(self.directory) / str(step) / 'state')
    except Exception:  # pylint: disable=broad-except (unreadable metadata: left to the restore)
      return
    if saved is None:
      return
    expected = {_path_name(path): tuple(x.shape)
                for path, x in jax.tree_util.tree_flatten_with_path(state_template)[0]}
    found = {_path_name(path): tuple(getattr(x, 'shape', ()) or ())
             for path, x in jax.tree_util.tree_flatten_with_path(saved)[0]}
    problems = [f'{k} is not in the checkpoint' for k in sorted(set(expected) - set(found))]
    problems += [f'{k} is in the checkpoint only' for k in sorted(set(found) - set(expected))]
    problems += [f'{k} has shape {found[k]} there, {expected[k]} here'
                 for k in sorted(set(expected) & set(found)) if expected[k] != found[k]]
    if problems:
      raise StructureMismatch(
          f'Checkpoint {step} in {self.directory} holds another model than this config builds: '
          + '; '.join(problems[:6]) + (f' (and {len(problems) - 6} more)' if len(problems) > 6
                                       else '')
          + '. Resume with the config the workdir was trained with (its config.json), or train '
          'into a new workdir.')

  def restore_latest_good(self, state_template, data_iterator,
                          move_damaged: bool = True) -> tuple[object, int]:
    """(state, step) of the newest checkpoint that restores, from the newest down: a corrupt or
    partial one (a kill during a write that Orbax had not finalised is never listed) is skipped
    with a warning naming it and moved to WORKDIR/damaged_checkpoints once an older one restores;
    CheckpointError when none restores. A checkpoint of another model is not damage: it is
    refused at once (StructureMismatch), and nothing is moved."""
    failures, damaged = [], []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        state = self.restore(state_template, data_iterator, step)
      except StructureMismatch:
        raise
      except Exception as e:  # pylint: disable=broad-except (any reader error means unusable)
        failures.append(f'step {step}: {type(e).__name__}: {str(e)[:300]}')
        damaged.append(step)
        logging.warning('Checkpoint %d in %s cannot be restored (%s); trying the one before.',
                        step, self.directory, failures[-1])
        continue
      if damaged and move_damaged and jax.process_index() == 0:  # Out of the run's way.
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

  def close(self):
    self.wait_until_finished()
    self._manager.close()


class StructureMismatch(CheckpointError):
  """A checkpoint of another model than the one built from the config."""


def _path_name(path) -> str:
  """'g_params.Dense_0.kernel' for a tree path, as Orbax names the arrays it saves."""
  return '.'.join(str(getattr(k, 'name', getattr(k, 'key', getattr(k, 'idx', k)))) for k in path)
