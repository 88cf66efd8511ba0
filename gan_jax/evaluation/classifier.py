"""Domain classifiers trained by the project: a small CNN whose penultimate layer gives the
features of a "classifier FID" and whose logits give an Inception-Score analogue, class
histograms and the per-channel mode labels of Stacked MNIST.

  python -m gan_jax.evaluate train-classifier --data=npz:../shared/data/mnist8k.npz \
      --output=classifiers/mnist_cnn.npz

The held-out images (a seeded 1,000-image split) are never trained on; the file records the split
and the held-out accuracy.

Speed on CPU (benchmarks/classifier_speed.py): training is 800 steps of a warmup + cosine
schedule (peak 3e-3) instead of 3,000 of a cosine one from 1e-3, to the same held-out accuracy,
and the step avoids two things XLA:CPU does slowly: the select-and-scatter gradient of
nn.max_pool (relu_max_pool has the same values and gradients, by elementwise passes) and the
batch <-> channel transpose of the first block's activations before the second convolution's
kernel gradient (recomputed channels-first from the one-channel input instead). The network,
its parameters and its weights files are unchanged: files trained before load and give the same
features.
"""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax.data import sources
from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import resize

KIND = 'classifier'
STEPS = 800  # Default train_classifier steps of batch 128 (about 15 epochs of 7,000 digits).
PEAK_LEARNING_RATE = 3e-3
WARMUP_FRACTION = 0.1


def relu_max_pool(x: jax.Array) -> jax.Array:
  """nn.max_pool(nn.relu(x), (2, 2), (2, 2)) of [B, H, W, C]: the same values (relu and max
  commute exactly; an odd last row or column is dropped, as by VALID padding) and the same
  gradients, with a derivative rule XLA:CPU runs 10-20x faster than select-and-scatter's."""
  _, h, w, _ = x.shape
  return _relu_max_pool_even(x[:, :h - h % 2, :w - w % 2])


def _windows(x: jax.Array) -> jax.Array:
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c)


@jax.custom_jvp
def _relu_max_pool_even(x: jax.Array) -> jax.Array:
  return nn.relu(_windows(x).max((2, 4)))


@_relu_max_pool_even.defjvp
def _relu_max_pool_jvp(primals, tangents):
  (x,), (tangent,) = primals, tangents
  top = _windows(x).max((2, 4))
  # The tangent of each window's first maximum in row-major order (select-and-scatter's choice
  # between ties, which matters: flat background gives equal activations), zero where relu is.
  taken = top <= 0
  out = jnp.zeros_like(top)
  for i in range(2):
    for j in range(2):
      first = (x[:, i::2, j::2] == top) & ~taken
      taken = taken | first
      out = out + jnp.where(first, tangent[:, i::2, j::2], 0.0)
  return nn.relu(top), out


def _conv(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME',
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


def _relu_conv_channels_first(x, kernel, bias):
  """relu(3x3 SAME conv of x [B, H, W, K] + bias) as [C, H, W, B], tap by tap from the small
  transposed input (K is 1 to 4) rather than by transposing the [B, H, W, C] result, a transpose
  XLA:CPU runs ~10x slower than a copy."""
  _, h, w, k = x.shape
  padded = jnp.pad(x.transpose(3, 1, 2, 0), ((0, 0), (1, 1), (1, 1), (0, 0)))
  out = jnp.broadcast_to(bias[:, None, None, None], (bias.shape[0], h, w, x.shape[0]))
  for i in range(3):
    for j in range(3):
      for c in range(k):
        out = out + kernel[i, j, c][:, None, None, None] * padded[c, None, i:i + h, j:j + w]
  return nn.relu(out)


@jax.custom_vjp
def _conv_with_channels_first_input(x, kernel, x_channels_first):
  """_conv(x, kernel) whose kernel gradient reads x_channels_first (x as [C, H, W, B]; its own
  cotangent is zero) instead of transposing x, as XLA's kernel-gradient convolution needs."""
  del x_channels_first
  return _conv(x, kernel)


def _conv_cf_forward(x, kernel, x_channels_first):
  return _conv(x, kernel), (kernel, x_channels_first, x.shape)


def _conv_cf_backward(residuals, cotangent):
  kernel, x_channels_first, x_shape = residuals
  (dx,) = jax.linear_transpose(lambda x: _conv(x, kernel),
                               jax.ShapeDtypeStruct(x_shape, cotangent.dtype))(cotangent)
  # dkernel[i, j, c, o] = sum_{b, h, w} x[b, h + i - 1, w + j - 1, c] cotangent[b, h, w, o]: a
  # convolution with batch c, features b and the [H, W, B, O] cotangent as its kernel.
  dkernel = jax.lax.conv_general_dilated(
      x_channels_first, cotangent.transpose(1, 2, 0, 3), (1, 1), ((1, 1), (1, 1)),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  return dx, dkernel.transpose(1, 2, 0, 3), jnp.zeros_like(x_channels_first)


_conv_with_channels_first_input.defvjp(_conv_cf_forward, _conv_cf_backward)


class DigitCNN(nn.Module):
  """conv32-conv32-pool-conv64-conv64-pool-dense(feature_dim)-dense(num_classes), ReLU, with
  dropout before the last layer. Input: [B, size, size, C] in [-1, 1].

  The same function and gradients as the straightforward Flax layers, two of them computed
  differently for XLA:CPU's sake: relu_max_pool, and in training (train=True, inputs of at most
  4 channels) the kernel gradient of the second convolution, from a channels-first copy of its
  input (_relu_conv_channels_first)."""
  num_classes: int = 10
  feature_dim: int = 128

  @nn.compact
  def __call__(self, x, train: bool = False):
    first = nn.Conv(32, (3, 3))
    h = nn.relu(first(x))
    conv = None
    if train and x.shape[-1] <= 4 and not self.is_initializing():
      h_channels_first = _relu_conv_channels_first(x, first.variables['params']['kernel'],
                                                   first.variables['params']['bias'])

      def conv(inputs, kernel, strides, padding, **unused):
        assert tuple(strides) == (1, 1) and kernel.shape[:2] == (3, 3), (strides, kernel.shape)
        return _conv_with_channels_first_input(inputs, kernel, h_channels_first)

    x = relu_max_pool(nn.Conv(32, (3, 3), conv_general_dilated=conv)(h))
    x = nn.relu(nn.Conv(64, (3, 3))(x))
    x = relu_max_pool(nn.Conv(64, (3, 3))(x))
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


def learning_rate(steps: int, peak: float = PEAK_LEARNING_RATE,
                  warmup_fraction: float = WARMUP_FRACTION) -> optax.Schedule:
  """Linear warmup to `peak` over the first warmup_fraction of `steps`, then cosine to 0."""
  warmup = max(1, int(warmup_fraction * steps))
  return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, max(steps, warmup + 1))


def make_train_step(model: nn.Module, tx: optax.GradientTransformation, key: jax.Array,
                    max_shift: int = 2):
  """The jitted step (params, opt_state, x, y, step) -> (params, opt_state, loss): random shifts,
  dropout, softmax cross-entropy, one `tx` update."""

  @jax.jit
  def train_step(params, opt_state, x, y, step):
    step_key = jax.random.fold_in(key, step)
    x = _shift(jax.random.fold_in(step_key, 0), x, max_shift=max_shift)

    def loss_fn(p):
      _, logits = model.apply({'params': p}, x, train=True,
                              rngs={'dropout': jax.random.fold_in(step_key, 1)})
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return train_step


def load_labelled(dataset: str) -> tuple[np.ndarray, np.ndarray]:
  """(images in [-1, 1] [N, S, S, C] float32, labels [N] int32) of a labelled dataset."""
  source = sources.load_source(dataset)
  records = source.__getitems__(range(len(source)))
  if 'label' not in records[0]:
    raise sources.DatasetError(f'{dataset!r} has no labels; a classifier needs them.')
  images = np.stack([r['image'] for r in records]).astype(np.float32) / 127.5 - 1.0
  labels = np.array([r['label'] for r in records], np.int32)
  if images.ndim != 4 or images.shape[1] != images.shape[2]:
    raise sources.DatasetError(f'{dataset!r}: classifiers take square images, got {images.shape}.')
  return images, labels


def train_classifier(dataset: str, output: str, steps: int = STEPS, batch_size: int = 128,
                     held_out: int = 1000, seed: int = 0, train_seed: int | None = None,
                     log=print) -> dict:
  """Trains DigitCNN on `dataset` (a name gan_jax.data understands, with labels) minus a seeded
  held-out split; saves it to `output`; returns its metadata (with the held-out accuracy).
  `seed` draws the split and, unless train_seed is given, the initialization and batches."""
  images, labels = load_labelled(dataset)
  if not 0 < held_out < len(images) // 2:
    raise ValueError(f'held_out={held_out} must be in (0, {len(images) // 2}).')
  train_seed = seed if train_seed is None else train_seed
  train_idx, test_idx = split_indices(len(images), held_out, seed)
  num_classes = int(labels.max()) + 1
  fitted = fit(images[train_idx], labels[train_idx], num_classes, steps, train_seed, batch_size,
               log)
  model, params = fitted
  accuracy = accuracy_of(fitted, images[test_idx], labels[test_idx])
  metadata = {'kind': KIND, 'architecture': 'DigitCNN', 'num_classes': num_classes,
              'feature_dim': model.feature_dim, 'image_shape': list(images.shape[1:]),
              'dataset': dataset, 'num_records': len(images), 'held_out': held_out,
              'split_seed': seed, 'train_seed': train_seed, 'steps': steps,
              'held_out_accuracy': accuracy}
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
    stored = resize.quantize(images) / 127.5 - 1.0  # uint8, as stored images (and its data).
    return model.apply(variables, fit_images(stored, size))

  return features_lib.FeatureExtractor(
      name=f'{name} ({metadata["architecture"]} features {metadata["feature_dim"]}-d, '
           f'held-out accuracy {metadata["held_out_accuracy"]:.4f})',
      apply=apply, feature_dim=metadata['feature_dim'], num_classes=metadata['num_classes'],
      batch_size=batch_size, image_channels=channels, network=KIND)


@features_lib.register_loader(KIND)
def _load(variables: dict, metadata: dict, path: str,
          preprocessing: str) -> features_lib.FeatureExtractor:
  """features.load_extractor's loader of classifier weights files."""
  if preprocessing:
    raise ValueError(f'preprocessing={preprocessing!r} resizes images to InceptionV3\'s 299 px; '
                     'a classifier takes its own input size (a centre crop or a bilinear resize '
                     'to it): leave preprocessing unset.')
  return extractor_from_weights(variables, metadata, os.path.basename(path))


def fit(images: np.ndarray, labels: np.ndarray, num_classes: int, steps: int = STEPS,
        seed: int = 0, batch_size: int = 128, log=None) -> tuple[nn.Module, dict]:
  """(model, params): DigitCNN trained on images [N, S, S, C] in [-1, 1] and labels [N]: the
  recipe of train_classifier, and of the CAS classifier (cas.py)."""
  model = DigitCNN(num_classes=num_classes)
  key = jax.random.key(seed)
  params = model.init(key, jnp.zeros((1,) + images.shape[1:]))['params']
  tx = optax.adamw(learning_rate(steps), weight_decay=1e-4)
  opt_state = tx.init(params)
  train_step = make_train_step(model, tx, key)
  rng = np.random.default_rng(seed)
  for step in range(steps):
    batch = rng.choice(len(images), min(batch_size, len(images)), replace=False)
    params, opt_state, loss = train_step(params, opt_state, images[batch], labels[batch], step)
    if log and ((step + 1) % 500 == 0 or step + 1 == steps):
      log(f'step {step + 1}/{steps}: train loss {float(loss):.4f}')
  return model, params


def accuracy_of(fitted: tuple[nn.Module, dict], images: np.ndarray, labels: np.ndarray) -> float:
  """The fraction of images whose predicted class is their label."""
  model, params = fitted
  predict = jax.jit(lambda p, x: model.apply({'params': p}, x)[1].argmax(-1))
  predictions = np.concatenate([np.asarray(predict(params, images[i:i + 500]))
                                for i in range(0, len(images), 500)])
  return float(np.mean(predictions == labels))
