"""The pieces of the training loop (gan_jax/train.py).

A loop step, in order: run the jitted step; every log_every steps and before every checkpoint,
fetch the metrics, report them and check them for divergence (the only host syncs); write the
checkpoint when one is due; then the periodic work (sample grids, evaluations), which comes after
the checkpoint and whose failure is logged as an error without ending the run; then read the
next batch, which overlaps the running step. On SIGTERM the loop checkpoints the step it is in,
skips the periodic work and says "Stopped" only once that checkpoint is complete.
"""

import contextlib
import dataclasses
import math
from typing import Callable

import jax
import numpy as np
from absl import logging

from gan_jax import checkpointing
from gan_jax import divergence
from gan_jax import memory
from gan_jax import reporting
from gan_jax import runs
from gan_jax import sharding


@dataclasses.dataclass(frozen=True)
class Segment:
  """What train_and_evaluate hands a loop: the mesh, the config as the user gave it (recorded in
  the workdir; the loop trains with its learning rates times lr_scale, after rollbacks) and the
  keys changed since the workdir's last segment."""
  mesh: jax.sharding.Mesh
  config: object
  lr_scale: float = 1.0
  changed: dict = dataclasses.field(default_factory=dict)

  @property
  def is_main(self) -> bool:
    """Whether this process writes the logs, samples and workdir files (process 0)."""
    return jax.process_index() == 0


def create_or_restore(init_fn: Callable, config, workdir: str, segment: Segment, data_iterator,
                      batch_bytes: int = 0, **shapes):
  """(state, checkpointer): the state made by init_fn(key of config.seed), directly sharded, or
  restored from the workdir's latest good checkpoint with the data iterator's position. Before
  anything is allocated: the state's size is checked against the devices' memory and the disk's
  free space. After a successful restore the segment is recorded (config.json, segments.jsonl,
  run_info.json with `shapes`), so a failed resume leaves the workdir as it was."""
  key = jax.random.key(config.seed)
  abstract = sharding.abstract_state(init_fn, key, segment.mesh, config.param_sharding)
  memory.check_state_fits(abstract, batch_bytes)
  if segment.is_main:
    runs.check_free_space(workdir, sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize
                                       for x in jax.tree.leaves(abstract)),
                          config.keep_checkpoints)
  state = sharding.create_state(init_fn, key, segment.mesh, config.param_sharding)
  checkpointer = checkpointing.Checkpointer(workdir, config.keep_checkpoints)
  start_step = 0
  if checkpointer.latest_step() is not None:
    state, start_step = checkpointer.restore_latest_good(state, data_iterator)
    logging.info('Resuming from %s (step %d).', checkpointer.directory, start_step)
    if start_step >= config.total_steps:
      logging.warning('The checkpoint is at step %d and config.total_steps=%d: nothing to train '
                      '(raise --config.total_steps to train further).', start_step,
                      config.total_steps)
  if segment.is_main:
    runs.start_segment(workdir, segment.config, start_step, segment.lr_scale, segment.changed,
                       **shapes)
  return state, checkpointer


def compile_step(jitted_step: Callable, state, batch) -> Callable:
  """The jitted step compiled for this state and batch, refused (ConfigError) before it first
  runs when XLA's memory plan does not fit the devices."""
  compiled = jitted_step.lower(state, batch).compile()
  memory.check_step_fits(compiled)
  return compiled


@contextlib.contextmanager
def closing(checkpointer: checkpointing.Checkpointer, reporter: reporting.Reporter):
  """Waits for the checkpoint in flight and closes both. When training raised (divergence, a
  failed save), the checkpoint in flight still completes and that first error is the one raised."""
  try:
    yield
  except BaseException:
    try:
      checkpointer.close()
    except Exception:  # pylint: disable=broad-except (the error in flight is the one to report)
      logging.exception('Closing the checkpoints after the error below failed too.')
    reporter.close()
    raise
  checkpointer.close()
  reporter.close()


def report_and_check(config, step: int, state, metrics, reporter: reporting.Reporter,
                     checkpointer: checkpointing.Checkpointer, is_last: bool, saving: bool) -> None:
  """Every log_every steps: the metrics to the reporter and a look at the checkpoint in flight
  (a failed save ends the run here); there and before every checkpoint (saving): the divergence
  check, so no checkpoint holds NaN or inf."""
  if step % config.log_every == 0 or saving:
    host_metrics = jax.device_get(metrics)
    if step % config.log_every == 0 or is_last:
      reporter.write_metrics(step, host_metrics)
    checkpointer.raise_if_failed()
    divergence.check(state, host_metrics, step, checkpointer.latest_step())


def periodic(reporter: reporting.Reporter, step: int, what: str, work: Callable[[], None]) -> None:
  """Runs periodic work (a sample grid, an evaluation); a failure is logged with its traceback
  and recorded in metrics.jsonl as {'step', 'error'}, and training goes on (the checkpoint of
  this step is already written)."""
  try:
    work()
  except Exception as e:  # pylint: disable=broad-except (a metric must not end a training run)
    logging.exception('The %s at step %d failed; training continues.', what, step)
    reporter.write_error(step, f'{what} failed: {type(e).__name__}: {e}')


def finish_stop(checkpointer: checkpointing.Checkpointer, step: int) -> None:
  """After a stop request: waits until the checkpoint of `step` is complete (later signals do
  not interrupt it), then says so."""
  checkpointer.wait_until_finished()
  logging.warning('Stopped at step %d; its checkpoint is complete; rerun the same command to '
                  'resume.', step)
