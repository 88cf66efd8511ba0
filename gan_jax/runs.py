"""A training workdir: the files a run keeps there beside its checkpoints, and who may train in it.

  lock            held (flock) by the one process that trains into the workdir
                  (gan_jax/workdir_lock.py)
  config.json     the config of the latest training segment: what sample / evaluate / translate
                  rebuild the models from, and what a resumed run must agree with
  segments.jsonl  one line per start of training (a segment): the step it resumed from, when,
                  where, the learning-rate scale of rollbacks, the keys changed since the previous
                  segment and the whole config
  run_info.json   the data's shapes
  rollbacks.json  the restarts after a divergence (gan_jax/train.py)

Before anything compiles, the trainer checks that the workdir and everything it writes there can
be written (`prepare`), takes the lock, and compares the config with config.json
(`check_resume`): keys that define the run (RESUMABLE_KEYS lists the others) must
match. JSON files are written whole (a temporary file, then a rename), so a kill never leaves
one half-written.
"""

import datetime
import json
import os
import shutil
import socket
from typing import Any

import ml_collections
from absl import logging

from gan_jax import configuration
from gan_jax import errors
from gan_jax import memory
from gan_jax.workdir_lock import LOCK

CONFIG = 'config.json'
SEGMENTS = 'segments.jsonl'
RUN_INFO = 'run_info.json'
# The layout of the train state in checkpoints, recorded in run_info.json: 2 is the TrainState of
# every game (players by name, extras); workdirs without it hold the older GANState or
# TranslationState, which this version cannot restore.
STATE_LAYOUT = 2
ROLLBACKS = 'rollbacks.json'
CHECKPOINTS = 'checkpoints'
# What a run writes into its workdir: folders, and files it appends to or replaces.
OUTPUT_DIRS = (CHECKPOINTS, 'samples', 'tensorboard', 'eval')
OUTPUT_FILES = ('metrics.jsonl', CONFIG, SEGMENTS, RUN_INFO, ROLLBACKS, LOCK)


# Keys that may change when a run resumes: how long to train, when to log, sample, checkpoint and
# evaluate, how to shard and how fast to compute, what to do on divergence, where TFDS keeps the
# data. Every other key defines the run (its data, models, objective, optimizers, seed, batch) and
# must match the workdir's config.json to resume.
RESUMABLE_KEYS = ('total_steps', 'log_every', 'checkpoint_every', 'keep_checkpoints',
                  'sample_every', 'num_sample_images', 'evals', 'steps_per_call',
                  'param_sharding', 'compute_dtype', 'on_nonfinite', 'rollback_lr_factor',
                  'max_rollbacks', 'data_dir')


def differences(old: dict, new: dict) -> tuple[dict[str, tuple], dict[str, tuple]]:
  """Two configs as JSON dicts -> ({key: (old, new)} of the keys that define the run and differ,
  the same of the RESUMABLE_KEYS that differ); nested keys dotted, e.g. 'generator.width'."""
  refused, allowed = {}, {}

  def walk(a, b, prefix):
    for key in sorted(set(a) | set(b), key=str):
      x, y = a.get(key, '<absent>'), b.get(key, '<absent>')
      name = f'{prefix}{key}'
      if isinstance(x, dict) and isinstance(y, dict):
        walk(x, y, f'{name}.')
      elif x != y:
        top = name.split('.')[0]
        (allowed if top in RESUMABLE_KEYS else refused)[name] = (x, y)

  walk(old, new, '')
  return refused, allowed


def prepare(workdir: str, is_main: bool = True) -> None:
  """Makes the workdir and checks that every folder and file a run writes there can be written;
  WorkdirError naming the first that cannot, before anything is compiled. Folders made only for
  the check are removed again. In a multi-process run process 0 checks (the workdir is storage
  that every process reaches); the others only make the workdir."""
  if not isinstance(workdir, str) or not workdir.strip():
    raise errors.WorkdirError(f'--workdir={workdir!r} is empty; name the directory for the run\'s '
                              'checkpoints, logs and samples, e.g. --workdir=workdirs/dcgan.')
  if '://' in workdir:
    raise errors.WorkdirError(
        f'--workdir={workdir} is a URL, but gan_jax writes its workdir through the filesystem, so '
        'it would land in a local folder named after the URL and be lost with the machine. Mount '
        'the bucket on every host (e.g. gcsfuse BUCKET /mnt/BUCKET) and pass the mounted path.')
  _make_dir(workdir, 'the workdir')
  if not is_main:
    return
  for name in OUTPUT_DIRS:
    path = os.path.join(workdir, name)
    made = not os.path.lexists(path)
    _make_dir(path, f'{name}/ in the workdir')
    probe = os.path.join(path, f'.write_test_{socket.gethostname()}_{os.getpid()}')
    try:
      with open(probe, 'w') as f:
        f.write('gan_jax checks that this folder is writable\n')
      os.remove(probe)
    except OSError as e:
      raise errors.WorkdirError(f'{path} cannot be written ({e.strerror or e}); a run writes '
                                f'{name}/ there. {_FIX}') from None
    if made:
      os.rmdir(path)
  for name in OUTPUT_FILES:
    path = os.path.join(workdir, name)
    if not os.path.lexists(path):
      continue
    try:
      with open(path, 'a'):  # Opening to append changes nothing.
        pass
    except OSError as e:
      raise errors.WorkdirError(f'{path} cannot be written ({e.strerror or e}); a run appends to '
                                f'or replaces it. {_FIX}') from None


_FIX = ('Make it writable (or free disk space), or train into another --workdir; nothing in the '
        'workdir was changed.')


def _make_dir(path: str, what: str) -> None:
  if os.path.lexists(path) and not os.path.isdir(path):
    raise errors.WorkdirError(f'{path} ({what}) exists but is not a directory; move it away or '
                              'choose another --workdir.')
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise errors.WorkdirError(f'{path} ({what}) cannot be created ({e.strerror or e}). '
                              f'{_FIX}') from None


def check_free_space(workdir: str, checkpoint_bytes: int, keep: int) -> None:
  """WorkdirError when the disk of the workdir has no room for one more checkpoint of
  checkpoint_bytes (a save would fail after training had started); a warning when it has room
  for fewer than the `keep` checkpoints a run holds."""
  free = shutil.disk_usage(workdir).free
  size, room = memory.format_bytes(checkpoint_bytes), memory.format_bytes(free)
  if free < checkpoint_bytes:
    raise errors.WorkdirError(
        f'The disk of {workdir} has {room} free, less than one checkpoint of this run ({size}); '
        'free some space or train into a workdir on another disk.')
  if free < (keep + 1) * checkpoint_bytes:
    logging.warning('The disk of %s has %s free: room for fewer than keep_checkpoints + 1 = %d '
                    'checkpoints of %s.', workdir, room, keep + 1, size)


def write_json(path: str, value: Any) -> None:
  """Writes JSON whole: a temporary file beside `path`, then a rename over it."""
  temporary = f'{path}.tmp{os.getpid()}'
  with open(temporary, 'w') as f:
    json.dump(value, f, indent=2)
    f.write('\n')
  os.replace(temporary, path)


def read_json(path: str, what: str) -> Any:
  """The JSON value of a workdir file; WorkdirError naming the file when it does not parse."""
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise errors.WorkdirError(f'{path} ({what}) cannot be read: {e}. It was damaged outside '
                              'gan_jax (gan_jax writes it whole); restore it from a copy, or '
                              f'{_RECOVERY.get(os.path.basename(path), "move it away")}.') from None


_RECOVERY = {
    CONFIG: f'copy the "config" of the last line of {SEGMENTS} into it',
    ROLLBACKS: 'move it away to resume without the learning-rate scale of past rollbacks',
    RUN_INFO: 'rerun the training command, which writes it again',
}


def has_checkpoints(workdir: str) -> bool:
  """Whether the workdir holds a finished checkpoint (a step folder)."""
  directory = os.path.join(workdir, CHECKPOINTS)
  return os.path.isdir(directory) and any(name.isdigit() for name in os.listdir(directory))


def _as_json(config) -> dict:
  return json.loads(config.to_json_best_effort())


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a workdir was trained with (config.json); keys added to the schema since then
  take their defaults. FileNotFoundError when there is none."""
  path = os.path.join(workdir, CONFIG)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{workdir!r} is not a gan_jax workdir (no {CONFIG}); train into it '
                            'with python -m gan_jax.main.')
  saved = read_json(path, 'the config the workdir was trained with')
  if not isinstance(saved, dict):
    raise errors.WorkdirError(f'{path} holds {type(saved).__name__}, not a config.')
  defaults = configuration.base_config().to_dict()
  for key in ('translation', 'evals', 'regularizers'):  # Nested: saved values over the defaults.
    saved[key] = {**defaults[key], **saved.get(key, {})}
  return ml_collections.ConfigDict({**defaults, **saved})


def read_run_info(workdir: str) -> tuple[ml_collections.ConfigDict, dict]:
  """(config, data shapes) of a training workdir, for sample / evaluate / translate."""
  config = read_config(workdir)
  path = os.path.join(workdir, RUN_INFO)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{workdir!r} has no {RUN_INFO} (the data shapes): its training never '
                            'started; run python -m gan_jax.main into it.')
  info = read_json(path, 'the data shapes')
  if not isinstance(info, dict):
    raise errors.WorkdirError(f'{path} does not hold the data shapes of a run; rerun the '
                              'training command, which writes it again.')
  layout = info.pop('state_layout', 1)
  if not all(isinstance(v, list) for v in info.values()):
    raise errors.WorkdirError(f'{path} does not hold the data shapes of a run; rerun the '
                              'training command, which writes it again.')
  check_state_layout(workdir, layout)
  return config, {k: tuple(v) for k, v in info.items()}


def check_state_layout(workdir: str, layout) -> None:
  """WorkdirError for checkpoints of an older state layout (see STATE_LAYOUT)."""
  if layout != STATE_LAYOUT and has_checkpoints(workdir):
    raise errors.WorkdirError(
        f'{workdir} was written by an older gan_jax, whose checkpoints hold the train state in '
        f'layout {layout} (GANState / TranslationState); this version keeps every game in the '
        f'layout {STATE_LAYOUT} (players by name) and cannot restore them. Train into a new '
        'workdir, or resume this one with the gan_jax version that wrote it.')


def check_resume(workdir: str, config) -> dict[str, tuple]:
  """Compares config with the one the workdir's checkpoints were trained with. WorkdirError
  naming every key that defines the run and differs; returns {key: (trained, now)} of the keys
  that may differ (RESUMABLE_KEYS), logged. {} for a workdir without checkpoints."""
  if not has_checkpoints(workdir):
    return {}
  info_path = os.path.join(workdir, RUN_INFO)
  if os.path.isfile(info_path):
    info = read_json(info_path, 'the data shapes')
    check_state_layout(workdir, info.get('state_layout', 1) if isinstance(info, dict) else 1)
  try:
    trained = read_config(workdir)
  except FileNotFoundError:
    logging.warning('%s has checkpoints but no %s: resuming without checking that the config is '
                    'the one they were trained with.', workdir, CONFIG)
    return {}
  refused, allowed = differences(_as_json(trained), _as_json(config))
  if refused:
    listed = '; '.join(f'{key}: {old!r} (trained) -> {new!r} (now)'
                       for key, (old, new) in refused.items())
    raise errors.WorkdirError(
        f'{workdir} was trained with another config, and these keys define the run, so they must '
        f'match to resume it: {listed}. Rerun with the values of {os.path.join(workdir, CONFIG)}, '
        'or train into a new workdir (copy checkpoints/ there to start from these weights). '
        f'Keys that may change on resume: {", ".join(RESUMABLE_KEYS)}.')
  if allowed:
    logging.warning('Resuming %s with changed keys (allowed on resume): %s.', workdir,
                    '; '.join(f'{k}: {old!r} -> {new!r}' for k, (old, new) in allowed.items()))
  return allowed


def start_segment(workdir: str, config, start_step: int, lr_scale: float,
                  changed: dict[str, tuple], **shapes) -> None:
  """Records the start of a training segment: config.json (the config now), a line of
  segments.jsonl (so the config of every segment is kept), run_info.json (the data shapes)."""
  config_json = _as_json(config)
  write_json(os.path.join(workdir, CONFIG), config_json)
  write_json(os.path.join(workdir, RUN_INFO), {'state_layout': STATE_LAYOUT,
                                               **{k: list(v) for k, v in shapes.items()}})
  record = {'start_step': start_step,
            'time': datetime.datetime.now().isoformat(timespec='seconds'),
            'host': socket.gethostname(), 'pid': os.getpid(), 'lr_scale': lr_scale,
            'changed': {k: list(v) for k, v in changed.items()}, 'config': config_json}
  with open(os.path.join(workdir, SEGMENTS), 'a') as f:
    f.write(json.dumps(record) + '\n')


def read_rollbacks(workdir: str) -> list[dict]:
  path = os.path.join(workdir, ROLLBACKS)
  if not os.path.isfile(path):
    return []
  rollbacks = read_json(path, 'the rollbacks after divergence')
  if not (isinstance(rollbacks, list) and all(
      isinstance(r, dict) and isinstance(r.get('lr_factor'), (int, float)) and
      0 < r['lr_factor'] <= 1 for r in rollbacks)):
    raise errors.WorkdirError(f'{path} does not hold a list of rollbacks with lr_factor in (0, 1]; '
                              f'{_RECOVERY[ROLLBACKS]}.')
  return rollbacks
