"""What the command lines (gan_jax.sample, evaluate, translate) share: checks of their output
paths, made before any work, so a result is never computed and then lost to a bad path."""

import os
import sys


def fail(message: str):
  """Ends a command line with `error: message` on stderr and exit status 2 (bad input)."""
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def check_output(path: str, flag: str = '--output') -> None:
  """Exits with a one-line error unless `path` names a file that can be written: its folder
  exists and is writable, and it is not a folder itself."""
  folder = os.path.dirname(os.path.abspath(path))
  if os.path.isdir(path):
    fail(f'{flag}={path} is a directory; name a file.')
  if not os.path.isdir(folder):
    fail(f'{flag}={path}: the folder {folder} does not exist; create it first.')
  if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
    fail(f'{flag}={path} cannot be written (permissions).')
