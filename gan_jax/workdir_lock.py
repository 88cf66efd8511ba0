"""WORKDIR/lock: held (flock) by the one process that trains into the workdir; the kernel
releases it when that process ends, however it ends (kill -9 included)."""

import datetime
import errno
import fcntl
import os
import socket

from absl import logging

from gan_jax import errors

LOCK = 'lock'


class Lock:
  """The workdir's lock, held while a run trains into it: flock(2) on WORKDIR/lock, released by
  the kernel when the process ends however it ends, so a killed run never leaves it stuck. The
  file names the holder (host, pid, start time) for the message another run gets. Only process 0
  of a multi-process run takes it (enabled); the others follow process 0."""

  def __init__(self, workdir: str, enabled: bool = True):
    self.path = os.path.join(workdir, LOCK)
    self.enabled = enabled
    self._fd = None

  def __enter__(self):
    if not self.enabled:
      return self
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 4096, 0).decode(errors='replace').strip() or 'unknown'
      os.close(fd)
      raise errors.WorkdirError(
          f'{os.path.dirname(self.path)} is in use by another training run ({holder}); two runs '
          'in one workdir would overwrite each other\'s checkpoints and logs. Wait for it to end '
          '(or stop it: SIGTERM saves a checkpoint), or train into another --workdir.') from None
    except OSError as e:
      if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
        os.close(fd)
        raise
      logging.warning('%s cannot be locked on this filesystem (%s): make sure only one run '
                      'trains into this workdir.', self.path, e.strerror)
    os.ftruncate(fd, 0)
    started = datetime.datetime.now().isoformat(timespec='seconds')
    os.pwrite(fd, f'pid {os.getpid()} on {socket.gethostname()}, since {started}\n'.encode(), 0)
    self._fd = fd
    return self

  def __exit__(self, *exc):
    if self._fd is not None:
      os.close(self._fd)  # Releases the lock; the file stays (removing it would race).
      self._fd = None
    return False
