"""Classification Accuracy Score (Ravuri & Vinyals 2019) of a conditional GAN.

A classifier (the digit CNN of classifier.py, with its training recipe) is trained on generated
samples alone, each labelled with the class it was generated for, and its accuracy is measured
on real images. A generator whose samples are sharp but ignore their labels, or cover only part
of a class, scores low, where FID would not see it. The same classifier trained on as many real
images (the other half of the reference, so never the test images) gives the real-data score
beside it: CAS = that score means the samples teach the classes as well as real data.
"""

import numpy as np

from gan_jax.evaluation import classifier

STEPS = classifier.STEPS  # The recipe of `train-classifier`: Adam steps of batch 128.


def describe(num_samples: int, reference_name: str) -> str:
  return (f'a DigitCNN trained for {STEPS} steps on {num_samples} generated samples with the '
          f'labels asked for, accuracy on half of {reference_name} (the test half); cas_real: '
          'the same trained on as many images of the other half')


def _halves(real: np.ndarray, real_labels: np.ndarray | None, seed: int):
  """(train half indices, test images, test labels) of the real reference."""
  if real_labels is None:
    raise ValueError('cas needs a labelled reference (the real test images); the reference has '
                     'no labels.')
  train_half, test_half = classifier.split_indices(len(real), len(real) // 2, seed)
  return train_half, real[test_half], np.asarray(real_labels[test_half])


def classification_accuracy_score(samples: np.ndarray, labels: np.ndarray, real: np.ndarray,
                                  real_labels: np.ndarray | None, seed: int = 0) -> float:
  """Accuracy on the real test half of a classifier trained on the samples and their labels.
  ValueError without real labels."""
  _, test_images, test_labels = _halves(real, real_labels, seed)
  num_classes = int(max(np.max(labels), np.max(real_labels))) + 1
  fitted = classifier.fit(samples, np.asarray(labels, np.int32), num_classes, STEPS, seed)
  return classifier.accuracy_of(fitted, test_images, test_labels)


def real_data_score(num_samples: int, real: np.ndarray, real_labels: np.ndarray | None,
                    seed: int = 0) -> float:
  """The same classifier trained on num_samples real images of the other half (at most all of
  it), on the same test half: what CAS is compared with."""
  train_half, test_images, test_labels = _halves(real, real_labels, seed)
  train = train_half[:num_samples]
  num_classes = int(np.max(real_labels)) + 1
  fitted = classifier.fit(real[train], np.asarray(real_labels[train], np.int32), num_classes,
                          STEPS, seed)
  return classifier.accuracy_of(fitted, test_images, test_labels)
