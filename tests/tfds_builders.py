"""A TFDS dataset that tests build here (TFDS cannot download in CI), imported under one module
name so that TFDS registers it once."""

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image


class GanJaxTestShapes(tfds.core.GeneratorBasedBuilder):
  """48 generated 28x28 grayscale images of filled squares; the label is the square's size class."""
  VERSION = tfds.core.Version('1.0.0')

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        'image': tfds.features.Image(shape=(28, 28, 1)),
        'label': tfds.features.ClassLabel(num_classes=3)}))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {'train': self._generate_examples(48), 'test': self._generate_examples(12)}

  def _generate_examples(self, num):
    for i in range(num):
      image = np.zeros((28, 28), np.uint8)
      half = 4 + 3 * (i % 3)
      image[14 - half:14 + half, 14 - half:14 + half] = 255
      # PIL images are encoded by TFDS without TensorFlow.
      yield i, {'image': Image.fromarray(image), 'label': i % 3}
