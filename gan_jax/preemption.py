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
  The previous handlers come back on exit; a second signal while stopping gets them too."""

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
    return False

  def _handle(self, signum, frame):
    del frame
    self._signal = signal.Signals(signum).name
    for sig, handler in self._previous.items():  # A second signal is not caught again.
      signal.signal(sig, handler)
    logging.warning('%s received: stopping after this step with a checkpoint.', self._signal)

  def requested(self, step: int) -> bool:
    if jax.process_count() > 1:
      return multihost_utils.reached_preemption_sync_point(step)
    return self._signal is not None
