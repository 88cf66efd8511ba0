"""The errors gan_jax raises for input it cannot use, at the bottom of the import graph.

Each message says what was wrong (the key, file or value, and what was found) and how to fix it.
The command lines print the message alone and exit with `exit_status` (2 for bad input, 3 for a
run that diverged), never a traceback; anything else is a bug in gan_jax.
"""


class Error(Exception):
  """Base of gan_jax's input errors."""
  exit_status = 2


class ConfigError(Error, ValueError):
  """A config value (or a command-line flag) that cannot work; names the key, the value and what
  is allowed."""


class DatasetError(Error, ValueError):
  """A dataset or data file that cannot be used; says what is wrong and what to do instead."""


class WorkdirError(Error, RuntimeError):
  """A workdir that cannot be used as asked: not writable, in use by another run, trained with
  another config, or holding a damaged file."""


class CheckpointError(Error, RuntimeError):
  """A checkpoint that cannot be written or restored; the message says what was tried and what
  was kept."""


class EvaluationError(Error, ValueError):
  """Metrics that cannot be computed as asked; the message says what to change."""


class DivergenceError(Error, RuntimeError):
  """The run produced non-finite values; the message says where and what to do. last_checkpoint:
  the step of the newest (finite) checkpoint, None when there is none."""
  exit_status = 3

  def __init__(self, message: str, last_checkpoint: int | None):
    super().__init__(message)
    self.last_checkpoint = last_checkpoint
