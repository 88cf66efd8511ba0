"""Command line: python -m gan_jax.main --config=configs/NAME.py[:ARG] --workdir=DIR [--config.K=V].

Rerunning the same command resumes from the latest checkpoint in DIR. On a multi-host TPU pod or a
multi-node GPU job, pass --distributed so each process joins the others through
jax.distributed.initialize() (its arguments come from the environment on Cloud TPU and Slurm).
"""

import logging as logging_std
import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from gan_jax import configuration
from gan_jax import data as data_lib
from gan_jax import train

_CONFIG = config_flags.DEFINE_config_file('config', None, 'A config file of configs/.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs and samples.')
_DISTRIBUTED = flags.DEFINE_bool('distributed', False,
                                 'Call jax.distributed.initialize() (multi-process runs).')
flags.mark_flags_as_required(['config', 'workdir'])


class _DropLibraryInfo(logging_std.Filter):
  """Keeps gan_jax's INFO lines readable: Orbax logs every checkpoint step at INFO."""

  def filter(self, record):
    return record.levelno >= logging_std.WARNING or '/orbax/' not in record.pathname


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.get_absl_handler().addFilter(_DropLibraryInfo())
  if _DISTRIBUTED.value:
    jax.distributed.initialize()
  logging.info('JAX %s: process %d of %d, devices %s', jax.__version__, jax.process_index(),
               jax.process_count(), jax.devices())
  try:
    train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except (configuration.ConfigError, data_lib.DatasetError) as e:
    logging.error('%s', e)
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main)
