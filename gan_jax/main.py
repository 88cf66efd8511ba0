"""Command line: python -m gan_jax.main --config=configs/NAME.py[:ARG] --workdir=DIR [--config.K=V].

Rerunning the same command resumes from the latest checkpoint in DIR. On a multi-host TPU pod or a
multi-node GPU job, pass --distributed so each process joins the others through
jax.distributed.initialize() (its arguments come from the environment on Cloud TPU and Slurm;
elsewhere give --coordinator_address, --num_processes and --process_id).
"""

import logging as logging_std
import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from gan_jax import cli
from gan_jax import configuration
from gan_jax import errors
from gan_jax import preemption
from gan_jax import train

_CONFIG = config_flags.DEFINE_config_file('config', None, 'A config file of configs/.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
_DISTRIBUTED = flags.DEFINE_bool('distributed', False,
                                 'Call jax.distributed.initialize() (multi-process runs).')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'With --distributed, where no cluster environment (Cloud TPU, '
    'Slurm) says it: HOST:PORT of process 0, e.g. 127.0.0.1:12355.')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'With --coordinator_address.')
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'With --coordinator_address: 0, 1, ...')
_HEARTBEAT_TIMEOUT = flags.DEFINE_integer(
    'heartbeat_timeout', 100, 'With --distributed: seconds without a heartbeat after which a '
    'process counts as dead and every other process stops (so a job whose process was killed '
    'ends instead of hanging, and its scheduler can restart it from the last checkpoint).')
flags.mark_flags_as_required(['config', 'workdir'])


class _DropLibraryInfo(logging_std.Filter):
  """Keeps gan_jax's INFO lines readable: Orbax logs every checkpoint step at INFO."""

  def filter(self, record):
    return record.levelno >= logging_std.WARNING or '/orbax/' not in record.pathname


def _flag_value(argv: list[str], name: str) -> str | None:
  """The value of --name=VALUE or --name VALUE in argv (the last one), None when absent."""
  value = None
  for i, arg in enumerate(argv):
    if arg.startswith(f'--{name}='):
      value = arg[len(name) + 3:]
    elif arg == f'--{name}' and i + 1 < len(argv):
      value = argv[i + 1]
  return value


def _override_keys(argv: list[str]) -> list[str]:
  """KEY of every --config.KEY[=VALUE] (and --noconfig.KEY) in argv."""
  keys = []
  for arg in argv:
    for prefix in ('--config.', '--noconfig.'):
      if arg.startswith(prefix):
        keys.append(arg[len(prefix):].split('=', 1)[0])
  return keys


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, but a config file that is missing, does not parse or refuses its
  argument, an override of a key the config does not have, or a value of the wrong type is one
  'error:' line (exit status 2) instead of the config loader's tracebacks."""
  try:
    config_file, config = _flag_value(argv, 'config'), None
    if config_file is not None:
      path, _, arg = config_file.partition(':')
      config = configuration.from_file(path, arg)
      configuration.check_override_keys(config, _override_keys(argv))
    return flags.FLAGS(argv)
  except errors.Error as e:
    cli.fail(str(e))
  except flags.Error as e:
    message = str(e)
    if config is not None and message.startswith('flag --config.'):  # A value of the wrong type.
      key = message[len('flag --config.'):].split('=', 1)[0]
      value = config
      for part in key.split('.'):
        value = value[part]
      message += f' (config.{key} is of type {type(value).__name__}, e.g. its default {value!r})'
    cli.fail(message)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.get_absl_handler().addFilter(_DropLibraryInfo())
  if _DISTRIBUTED.value:
    # CPU processes exchange collectives through gloo (GPU and TPU use their own interconnect).
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(coordinator_address=_COORDINATOR.value,
                               num_processes=_NUM_PROCESSES.value, process_id=_PROCESS_ID.value,
                               heartbeat_timeout_seconds=_HEARTBEAT_TIMEOUT.value)
  logging.info('JAX %s: process %d of %d, devices %s', jax.__version__, jax.process_index(),
               jax.process_count(), jax.devices())
  try:
    train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    preemption.ignore_until_exit()
  except errors.Error as e:
    logging.error('%s', e)
    print(f'error: {e}', file=sys.stderr)
    sys.exit(e.exit_status)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
