"""What a run reports: a console line, TensorBoard events and metrics.jsonl in the workdir, and
sample pictures (an image grid, or for 2-D data a scatter of samples over the real data)."""

import json
import math
import os
import time

import numpy as np
from absl import logging
from PIL import Image


GRID_GAP = 2  # Pixels between tiles (at the images' own scale), as torchvision's make_grid.
GRID_GAP_VALUE = 128  # Mid grey: visible against dark digits and light photographs alike.


def image_grid(images: np.ndarray, min_width: int = 512, columns: int | None = None,
               gap: int = GRID_GAP) -> np.ndarray:
  """[N, H, W, C] in [-1, 1] -> one uint8 grid (square unless `columns` is given) with `gap`
  grey pixels around and between the tiles, upscaled by pixel repetition (nearest, so strokes
  stay sharp) to at least min_width pixels across."""
  n, h, w, c = images.shape
  cols = columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  pixels = np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
  grid = np.full((rows * (h + gap) + gap, cols * (w + gap) + gap, c), GRID_GAP_VALUE, np.uint8)
  for i, image in enumerate(pixels):
    r, col = divmod(i, cols)
    top, left = gap + r * (h + gap), gap + col * (w + gap)
    grid[top:top + h, left:left + w] = image
  scale = max(1, math.ceil(min_width / grid.shape[1]))
  return grid.repeat(scale, axis=0).repeat(scale, axis=1)


def save_png(grid: np.ndarray, path: str) -> None:
  """uint8 [H, W, C] (C = 1 or 3) -> PNG."""
  Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)


def save_scatter(samples: np.ndarray, real: np.ndarray, path: str, title: str = '') -> None:
  """2-D samples (red) over real data (grey)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
  ax.scatter(real[:, 0], real[:, 1], s=2, c='0.6', label='real')
  ax.scatter(samples[:, 0], samples[:, 1], s=2, c='tab:red', alpha=0.6, label='generated')
  limit = 1.25 * float(np.abs(real).max())
  ax.set_xlim(-limit, limit)
  ax.set_ylim(-limit, limit)
  ax.set_aspect('equal')
  ax.legend(loc='upper right', markerscale=4)
  ax.set_title(title)
  fig.savefig(path, bbox_inches='tight')
  plt.close(fig)


# Columns of the evaluation pictures: interpolation rows of 10 steps, arithmetic's rows of 10
# classes, image pairs side by side (4 pairs a row) for the birthday and nearest-image checks.
EVAL_GRID_COLUMNS = {'interpolation_lerp': 10, 'interpolation_slerp': 10, 'arithmetic': 10}


class Reporter:
  """Writes metrics and samples for process 0; other processes only keep time."""

  def __init__(self, workdir: str, total_steps: int, images_per_step: int, start_step: int,
               enabled: bool = True):
    self.workdir = workdir
    self.total_steps = total_steps
    self.images_per_step = images_per_step
    self.enabled = enabled
    self._last_time, self._last_step = time.perf_counter(), start_step
    self._writer = None
    if enabled:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._writer = SummaryWriter(os.path.join(workdir, 'tensorboard'))
      os.makedirs(os.path.join(workdir, 'samples'), exist_ok=True)
      path = os.path.join(workdir, 'metrics.jsonl')
      _drop_partial_line(path)
      self._jsonl = open(path, 'a')

  def write_metrics(self, step: int, metrics: dict) -> None:
    """metrics: host floats. Adds throughput since the previous call."""
    now = time.perf_counter()
    steps_per_sec = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_time, self._last_step = now, step
    metrics = {k: float(v) for k, v in metrics.items()}
    metrics.update(steps_per_sec=steps_per_sec,
                   images_per_sec=steps_per_sec * self.images_per_step)
    if not self.enabled:
      return
    eta = (self.total_steps - step) / max(steps_per_sec, 1e-9)
    losses = ' '.join(f'{k}={v:.4f}' for k, v in sorted(metrics.items())
                      if k not in ('steps_per_sec', 'images_per_sec'))
    logging.info('step %d/%d | %.2f steps/s | %.0f img/s | ETA %s | %s', step, self.total_steps,
                 steps_per_sec, metrics['images_per_sec'], _format_seconds(eta), losses)
    for k, v in metrics.items():
      self._writer.add_scalar(k, v, step)
    self._jsonl.write(json.dumps({'step': step, **metrics}) + '\n')
    self._jsonl.flush()

  def write_evaluation(self, step: int, results: dict, images: dict | None = None) -> None:
    """Evaluation results (host floats) to the console, TensorBoard and metrics.jsonl; images
    ({name: [N, H, W, C]}) to eval/step_NNNNNNN_name.png."""
    if not self.enabled:
      return
    if images:
      os.makedirs(os.path.join(self.workdir, 'eval'), exist_ok=True)
      for name, pictures in images.items():
        save_png(image_grid(pictures, columns=EVAL_GRID_COLUMNS.get(name, 8)),
                 os.path.join(self.workdir, 'eval', f'step_{step:07d}_{name}.png'))
    logging.info('step %d evaluation | %s', step,
                 ' '.join(f'{k}={v:.4g}' for k, v in sorted(results.items())))
    for k, v in results.items():
      self._writer.add_scalar(f'eval/{k}', v, step)
    self._jsonl.write(json.dumps({'step': step, **{f'eval/{k}': v for k, v in results.items()}})
                      + '\n')
    self._jsonl.flush()

  def write_error(self, step: int, message: str) -> None:
    """A failure of periodic work: {'step', 'error'} in metrics.jsonl and TensorBoard text."""
    if not self.enabled:
      return
    self._writer.add_text('error', message, step)
    self._jsonl.write(json.dumps({'step': step, 'error': message}) + '\n')
    self._jsonl.flush()

  def write_samples(self, step: int, samples: np.ndarray, real_points: np.ndarray | None,
                    columns: int | None = None) -> str:
    """Saves samples/step_NNNNNNN.png (a grid, square unless `columns` is given, or a scatter
    over real_points for 2-D data)."""
    if not self.enabled:
      return ''
    path = os.path.join(self.workdir, 'samples', f'step_{step:07d}.png')
    if samples.ndim == 2:
      save_scatter(samples, real_points, path, title=f'step {step}')
    else:
      grid = image_grid(samples, columns=columns)
      save_png(grid, path)
      self._writer.add_image('samples', grid, step, dataformats='HWC')
    self._writer.flush()
    return path

  def close(self) -> None:
    if self.enabled:
      self._writer.close()
      self._jsonl.close()


def _drop_partial_line(path: str) -> None:
  """A run killed while writing metrics.jsonl leaves a line without its newline; it holds no whole
  record, so it is cut off before the resumed run appends (every line stays valid JSON)."""
  if not os.path.isfile(path) or os.path.getsize(path) == 0:
    return
  with open(path, 'rb+') as f:
    f.seek(-1, os.SEEK_END)
    if f.read(1) == b'\n':
      return
    f.seek(0)
    data = f.read()
    keep = data.rfind(b'\n') + 1
    logging.warning('%s ends in a partial line (%d bytes, from a killed run); dropping it.', path,
                    len(data) - keep)
    f.truncate(keep)


def _format_seconds(seconds: float) -> str:
  seconds = int(seconds)
  return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'
