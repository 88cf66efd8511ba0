"""Feature metrics over images that arrive in chunks: only what the metrics need is kept.

FID needs the running moments of the features (RunningMoments: 32 MB for 2048-d features, for
any number of images); KID, precision/recall, density/coverage and intra-class FID need the
features themselves (50,000 x 2048 float32: 400 MB); IS and class statistics the logits; the
pixel metrics the images. `collect` feeds each chunk through the feature network and keeps those
alone, so 50,000 images at 256 px take the memory of one chunk plus what is kept. The moments of
several prefixes (the first 10,000 and the first 50,000 images, say) are accumulated in one pass,
for protocols that share a stream.
"""

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import metrics as metrics_lib

PROGRESS_EVERY_SECONDS = 10.0


@dataclasses.dataclass
class Collected:
  count: int  # Images seen.
  moments: dict[int, tuple[np.ndarray, np.ndarray]]  # prefix length -> (mean, covariance)
  features: np.ndarray | None  # The first `keep_features` images' features.
  logits: np.ndarray | None
  images: np.ndarray | None
  labels: np.ndarray | None  # Of every image, when the chunks carry labels.


class Progress:
  """'what: 12,000/50,000 (24%), 1 min 5 s, ETA 3 min 26 s' at most every PROGRESS_EVERY_SECONDS
  and at the end, through `log` (None: silent)."""

  def __init__(self, what: str, total: int, log: Callable[[str], None] | None):
    self.what, self.total, self.log = what, total, log
    self.start = self.last = time.monotonic()

  def update(self, done: int) -> None:
    now = time.monotonic()
    if self.log is None or (now - self.last < PROGRESS_EVERY_SECONDS and done < self.total):
      return
    self.last = now
    elapsed = now - self.start
    eta = elapsed / done * (self.total - done) if done else 0.0
    self.log(f'{self.what}: {done:,}/{self.total:,} ({100 * done / self.total:.0f}%), '
             f'{_duration(elapsed)}, ETA {_duration(eta)}')


def _duration(seconds: float) -> str:
  minutes, seconds = divmod(int(round(seconds)), 60)
  return f'{minutes} min {seconds} s' if minutes else f'{seconds} s'


def collect(chunks: Iterable[tuple[np.ndarray, np.ndarray | None]], total: int,
            extractor: features_lib.FeatureExtractor | None, moment_prefixes: Sequence[int] = (),
            keep_features: int = 0, keep_logits: int = 0, keep_images: int = 0,
            progress: Progress | None = None) -> Collected:
  """Consumes (images [B, H, W, C] in [-1, 1], labels [B] or None) chunks, at most `total`
  images. moment_prefixes: the prefix lengths whose feature moments to accumulate; keep_*: how
  many of the first images' features, logits and images to keep. extractor None: images only."""
  running = {n: metrics_lib.RunningMoments(extractor.feature_dim) for n in set(moment_prefixes)
             } if extractor else {}
  kept = {'features': [], 'logits': [], 'images': [], 'labels': []}
  count = 0
  for images, labels in chunks:
    images = np.asarray(images[:total - count], np.float32)
    if labels is not None:
      kept['labels'].append(np.asarray(labels[:len(images)]))
    if count < keep_images:
      kept['images'].append(images[:keep_images - count])
    if extractor is not None and (running or count < max(keep_features, keep_logits)):
      features, logits = extractor(features_lib.in_batches(images, extractor.batch_size))
      for prefix, moments in running.items():
        moments.update(features[:max(prefix - count, 0)])
      if count < keep_features:
        kept['features'].append(features[:keep_features - count])
      if count < keep_logits:
        kept['logits'].append(logits[:keep_logits - count])
    count += len(images)
    if progress:
      progress.update(count)
    if count >= total:
      break
    # Nothing of this chunk may stay referenced while the next one is made (the peak).
    del images, labels
    features = logits = None
  joined = {k: np.concatenate(v) if v else None for k, v in kept.items()}
  return Collected(count, {n: m.result() for n, m in running.items() if m.count >= 2},
                   joined['features'], joined['logits'], joined['images'], joined['labels'])


def array_chunks(images: np.ndarray, labels: np.ndarray | None = None,
                 chunk: int = 1000) -> Iterable[tuple[np.ndarray, np.ndarray | None]]:
  """An in-memory array as the chunks `collect` takes."""
  for i in range(0, len(images), chunk):
    yield images[i:i + chunk], None if labels is None else labels[i:i + chunk]
