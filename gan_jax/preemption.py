"""Stopping cleanly on SIGTERM / SIGINT (preemption, `kill`, Ctrl-C): the trainer finishes the
step it is in, writes a checkpoint and returns, so the same command resumes with nothing lost.

One process: a signal handler sets a flag, read between steps. Several processes must stop at the
same step to write one checkpoint together: there no Python handler is installed, and they agree
through JAX's preemption sync point (jax.distributed.initialize's service catches SIGTERM in any
process and tells all of them the step to stop after).
"""

import signal

import jax
from absl import logging
from jax.experimental import multihost_utils

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
  """A context manager installing the handlers; `requested(step)` says whether to stop after it.

  The handlers stay installed until the context exits, after the final checkpoint is complete: a
  second signal (preemption notices often come twice, Ctrl-C pressed again) is logged and does
  not interrupt that save. Only kill -9 ends the process before it (and the rerun then resumes
  from the last complete checkpoint). The previous handlers come back on exit."""

  def __init__(self):
    self._signal = None
    self._previous = {}

  def __enter__(self):
    if jax.process_count() > 1:
      return self
    for sig in SIGNALS:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}
    return False

  def _handle(self, signum, frame):
    del frame
    name = signal.Signals(signum).name
    if self._signal is not None:
      logging.warning('%s received again: already stopping; the process exits once the '
                      'checkpoint is written (kill -9 abandons it).', name)
      return
    self._signal = name
    logging.warning('%s received: stopping after this step with a checkpoint.', name)

  def requested(self, step: int) -> bool:
    if jax.process_count() > 1:
      return multihost_utils.reached_preemption_sync_point(step)
    return self._signal is not None


def ignore_until_exit() -> None:
  """After the run has returned (finished, or stopped with its checkpoint complete): later
  SIGTERM / SIGINT are ignored while the interpreter shuts down, so a repeated preemption notice
  does not turn exit status 0 into death by signal. kill -9 still ends the process."""
  for sig in SIGNALS:
    signal.signal(sig, signal.SIG_IGN)
