"""Domain classifiers trained by the project: a small CNN whose penultimate layer gives the
features of a "classifier FID" and whose logits give an Inception-Score analogue, class
histograms and the per-channel mode labels of Stacked MNIST.

  python -m gan_jax.evaluate train-classifier --data=npz:../shared/data/mnist8k.npz \
      --output=classifiers/mnist_cnn.npz

The held-out images (a seeded 1,000-image split) are never trained on; the file records the split
and the held-out accuracy.
"""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax.data import sources
from gan_jax.evaluation import features as features_lib

KIND = 'classifier'


class DigitCNN(nn.Module):
  """conv32-conv32-pool-conv64-conv64-pool-dense(feature_dim)-dense(num_classes), ReLU, with
  dropout before the last layer. Input: [B, size, size, C] in [-1, 1]."""
  num_classes: int = 10
  feature_dim: int = 128

  @nn.compact
  def __call__(self, x, train: bool = False):
    for width in (32, 64):
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), (2, 2))
    features = nn.relu(nn.Dense(self.feature_dim)(x.reshape(x.shape[0], -1)))
    logits = nn.Dense(self.num_classes)(nn.Dropout(0.3, deterministic=not train)(features))
    return features, logits


def fit_images(images: jax.Array, size: int) -> jax.Array:
  """Images of any square size -> size x size the way the training pipeline made them: a centre
  crop undoes its zero padding (32 -> 28), other sizes are resized bilinearly."""
  side = images.shape[1]
  if side == size:
    return images
  if size < side <= size + side // 8:  # The inverse of pipeline.fit_to_size's padding.
    top = (side - size) // 2
    return images[:, top:top + size, top:top + size]
  return jax.image.resize(images, images.shape[:1] + (size, size) + images.shape[3:], 'bilinear')


def split_indices(num: int, held_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """A seeded (train, held-out) split of range(num)."""
  permutation = np.random.default_rng(seed).permutation(num)
  return np.sort(permutation[held_out:]), np.sort(permutation[:held_out])


def _shift(key, images, max_shift: int):
  """Random translations by up to max_shift pixels (zero fill): the only augmentation."""
  b, h, w, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)),
                   constant_values=-1.0)
  offsets = jax.random.randint(key, (b, 2), 0, 2 * max_shift + 1)
  crop = lambda image, o: jax.lax.dynamic_slice(image, (o[0], o[1], 0), (h, w, image.shape[-1]))
  return jax.vmap(crop)(padded, offsets)


def train_classifier(dataset: str, output: str, steps: int = 3000, batch_size: int = 128,
                     held_out: int = 1000, seed: int = 0, log=print) -> dict:
  """Trains DigitCNN on `dataset` (a name gan_jax.data understands, with labels) minus a seeded
  held-out split; saves it to `output`; returns its metadata (with the held-out accuracy)."""
  source = sources.load_source(dataset)
  records = source.__getitems__(range(len(source)))
  if 'label' not in records[0]:
    raise sources.DatasetError(f'{dataset!r} has no labels; a classifier needs them.')
  images = np.stack([r['image'] for r in records]).astype(np.float32) / 127.5 - 1.0
  labels = np.array([r['label'] for r in records], np.int32)
  if images.ndim != 4 or images.shape[1] != images.shape[2]:
    raise sources.DatasetError(f'{dataset!r}: classifiers take square images, got {images.shape}.')
  if not 0 < held_out < len(images) // 2:
    raise ValueError(f'held_out={held_out} must be in (0, {len(images) // 2}).')
  train_idx, test_idx = split_indices(len(images), held_out, seed)
  num_classes = int(labels.max()) + 1
  model = DigitCNN(num_classes=num_classes)
  key = jax.random.key(seed)
  params = model.init(key, jnp.zeros((1,) + images.shape[1:]))['params']
  tx = optax.adamw(optax.cosine_decay_schedule(1e-3, steps), weight_decay=1e-4)
  opt_state = tx.init(params)

  @jax.jit
  def train_step(params, opt_state, x, y, step):
    step_key = jax.random.fold_in(key, step)
    x = _shift(jax.random.fold_in(step_key, 0), x, max_shift=2)

    def loss_fn(p):
      _, logits = model.apply({'params': p}, x, train=True,
                              rngs={'dropout': jax.random.fold_in(step_key, 1)})
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  predict = jax.jit(lambda p, x: model.apply({'params': p}, x)[1].argmax(-1))
  rng = np.random.default_rng(seed)
  for step in range(steps):
    batch = rng.choice(train_idx, batch_size, replace=False)
    params, opt_state, loss = train_step(params, opt_state, images[batch], labels[batch], step)
    if (step + 1) % 500 == 0 or step + 1 == steps:
      log(f'step {step + 1}/{steps}: train loss {float(loss):.4f}')
  predictions = np.concatenate([np.asarray(predict(params, images[test_idx[i:i + 500]]))
                                for i in range(0, len(test_idx), 500)])
  accuracy = float(np.mean(predictions == labels[test_idx]))
  metadata = {'kind': KIND, 'architecture': 'DigitCNN', 'num_classes': num_classes,
              'feature_dim': model.feature_dim, 'image_shape': list(images.shape[1:]),
              'dataset': dataset, 'num_records': len(images), 'held_out': held_out,
              'split_seed': seed, 'steps': steps, 'held_out_accuracy': accuracy}
  features_lib.save_weights(output, {'params': params}, metadata)
  log(f'held-out accuracy {accuracy:.4f} on {held_out} images; saved {output}')
  return metadata


def extractor_from_weights(variables: dict, metadata: dict, name: str,
                           batch_size: int = 500) -> features_lib.FeatureExtractor:
  """A FeatureExtractor over a loaded classifier (see features.load_extractor)."""
  model = DigitCNN(num_classes=metadata['num_classes'], feature_dim=metadata['feature_dim'])
  size, _, channels = metadata['image_shape']
  expected = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, size, size, channels)))
  features_lib.check_shapes(variables, features_lib.variable_shapes(expected), name)

  @jax.jit
  def apply(images):
    if images.shape[-1] != channels:
      raise ValueError(f'{name} takes {channels}-channel images, got {images.shape}; for RGB '
                       'stacks of digits use the stacked_modes metric, which classifies each '
                       'channel.')
    return model.apply(variables, fit_images(images, size))

  return features_lib.FeatureExtractor(
      name=f'{name} ({metadata["architecture"]} features {metadata["feature_dim"]}-d, '
           f'held-out accuracy {metadata["held_out_accuracy"]:.4f})',
      apply=apply, feature_dim=metadata['feature_dim'], num_classes=metadata['num_classes'],
      batch_size=batch_size, image_channels=channels)


@features_lib.register_loader(KIND)
def _load(variables: dict, metadata: dict, path: str) -> features_lib.FeatureExtractor:
  """features.load_extractor's loader of classifier weights files."""
  return extractor_from_weights(variables, metadata, os.path.basename(path))
