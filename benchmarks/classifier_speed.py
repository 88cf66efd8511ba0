"""Speed of `train-classifier` (the DigitCNN of gan_jax/evaluation/classifier.py): before and after.

  python benchmarks/classifier_speed.py --data=../shared/data/mnist8k.npz
  python benchmarks/classifier_speed.py --data=../shared/data/mnist8k.npz --before_seeds=0,1,2
  python benchmarks/classifier_speed.py --data=../shared/data/mnist8k.npz --full_runs=false

Run it from the repository root. "before" is the step and schedule the classifier had (nn.max_pool,
3,000 AdamW steps of batch 128 on a cosine schedule from 1e-3), kept here as the baseline; "after"
is gan_jax.evaluation.classifier as it is (relu_max_pool; the second convolution's kernel
gradient from a channels-first recomputation of its input, not XLA's transpose of it;
classifier.STEPS steps of a warmup + cosine schedule). Both train the same DigitCNN (the same
parameters, the same forward values and gradients).

Three tables, in markdown:
1. Profile: milliseconds per call of the parts of one step (batch 128), median of --repeats calls
   after a warm-up, the variants interleaved call by call so that a background load hits them
   alike.
2. Step: compile seconds and seconds per step (median of --repeats interleaved steps), and the
   largest difference between the two steps' gradients from the same parameters and batch.
3. Full runs (--full_runs): a whole train-classifier run in this process (data loading, compile,
   training, held-out prediction; the after row is classifier.train_classifier itself), minutes
   and held-out accuracy. The held-out split is the default one (split seed 0, 1,000 images) in
   every row; the seed of a row draws the initialization, the batches, the shifts and dropout.
   Before and after runs alternate. One before run takes about 13 minutes on 2 cores.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flax.linen as nn  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import optax  # pylint: disable=g-import-not-at-top,wrong-import-position

from gan_jax.evaluation import classifier  # pylint: disable=g-import-not-at-top,wrong-import-position

BATCH, HELD_OUT, SPLIT_SEED, BEFORE_STEPS = 128, 1000, 0, 3000


# ---- The baseline: the classifier's step and training loop before this change. ----

class DigitCNNBefore(nn.Module):
  """DigitCNN as it was: nn.max_pool after the ReLU (the same parameters as DigitCNN)."""
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


def before_tx(steps=BEFORE_STEPS):
  return optax.adamw(optax.cosine_decay_schedule(1e-3, steps), weight_decay=1e-4)


def train_before(dataset: str, seed: int, steps: int = BEFORE_STEPS) -> float:
  """The old train_classifier's loop (split seed 0, training seed `seed`); held-out accuracy."""
  images, labels = classifier.load_labelled(dataset)
  train_idx, test_idx = classifier.split_indices(len(images), HELD_OUT, SPLIT_SEED)
  model = DigitCNNBefore(num_classes=int(labels.max()) + 1)
  key = jax.random.key(seed)
  params = model.init(key, jnp.zeros((1,) + images.shape[1:]))['params']
  tx = before_tx(steps)
  opt_state = tx.init(params)
  train_step = classifier.make_train_step(model, tx, key)
  predict = jax.jit(lambda p, x: model.apply({'params': p}, x)[1].argmax(-1))
  rng = np.random.default_rng(seed)
  for step in range(steps):
    batch = rng.choice(train_idx, BATCH, replace=False)
    params, opt_state, _ = train_step(params, opt_state, images[batch], labels[batch], step)
  predictions = np.concatenate([np.asarray(predict(params, images[test_idx[i:i + 500]]))
                                for i in range(0, len(test_idx), 500)])
  return float(np.mean(predictions == labels[test_idx]))


# ---- Measurements. ----

def interleaved_ms(fns: dict, repeats: int) -> dict:
  """Median milliseconds per call of each fn (returning arrays), called in turn `repeats` times."""
  for fn in fns.values():
    jax.block_until_ready(fn())
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      start = time.perf_counter()
      jax.block_until_ready(fn())
      times[name].append(time.perf_counter() - start)
  return {name: 1000 * statistics.median(t) for name, t in times.items()}


def setup(images, labels):
  x, y = jnp.asarray(images[:BATCH]), jnp.asarray(labels[:BATCH])
  key = jax.random.key(0)
  before_model, after_model = DigitCNNBefore(), classifier.DigitCNN()
  params = after_model.init(key, x[:1])['params']
  tx_before = before_tx()
  tx_after = optax.adamw(classifier.learning_rate(classifier.STEPS), weight_decay=1e-4)
  return x, y, key, before_model, after_model, params, tx_before, tx_after


def profile_table(images, labels, repeats):
  x, y, key, before_model, after_model, params, tx_before, tx_after = setup(images, labels)
  opt_state = tx_after.init(params)
  step_before = classifier.make_train_step(before_model, tx_before, key)
  step_after = classifier.make_train_step(after_model, tx_after, key)

  def loss(model):
    return lambda p, x: optax.softmax_cross_entropy_with_integer_labels(
        model.apply({'params': p}, x, train=True, rngs={'dropout': key})[1], y).mean()

  forward = jax.jit(loss(after_model))
  grad_before = jax.jit(jax.value_and_grad(loss(before_model)))
  grad_after = jax.jit(jax.value_and_grad(loss(after_model)))
  grads = grad_after(params, x)[1]
  adamw = jax.jit(lambda g, s, p: tx_after.update(g, s, p))
  shift = jax.jit(lambda x: classifier._shift(key, x, 2))  # pylint: disable=protected-access
  rng = np.random.default_rng(0)
  train_idx = np.arange(1000, len(images))

  def host_batch():
    batch = rng.choice(train_idx, BATCH, replace=False)
    return jax.device_put(images[batch]), jax.device_put(labels[batch])

  pools = {}
  for size, width in ((28, 32), (14, 64)):
    z = jnp.asarray(np.random.default_rng(1).normal(size=(BATCH, size, size, width)), jnp.float32)
    ct = jnp.ones((BATCH, size // 2, size // 2, width), jnp.float32)
    old = lambda z: nn.max_pool(nn.relu(z), (2, 2), (2, 2))
    pools[f'relu + 2x2 max-pool {size}x{size}x{width}, fwd + bwd: nn.max_pool (before)'] = (
        jax.jit(lambda z, ct, f=old: jax.vjp(f, z)[1](ct)[0]), z, ct)
    pools[f'relu + 2x2 max-pool {size}x{size}x{width}, fwd + bwd: relu_max_pool (after)'] = (
        jax.jit(lambda z, ct: jax.vjp(classifier.relu_max_pool, z)[1](ct)[0]), z, ct)

  # The second convolution's kernel gradient, from the first layer's input and parameters.
  # pylint: disable=protected-access
  conv, channels_first = classifier._conv, classifier._relu_conv_channels_first
  conv_cf = classifier._conv_with_channels_first_input
  # pylint: enable=protected-access
  k0, b0, w1 = params['Conv_0']['kernel'], params['Conv_0']['bias'], params['Conv_1']['kernel']
  ct = jnp.ones((BATCH,) + x.shape[1:3] + (w1.shape[-1],), jnp.float32)
  first_layer = lambda x: jax.nn.relu(conv(x, k0) + b0)
  kernel_grad_before = jax.jit(
      lambda x, w: jax.vjp(lambda w: conv(first_layer(x), w), w)[1](ct)[0])
  kernel_grad_after = jax.jit(lambda x, w: jax.vjp(
      lambda w: conv_cf(first_layer(x), w, channels_first(x, k0, b0)), w)[1](ct)[0])

  fns = {'whole step, before (nn.max_pool)': lambda: step_before(params, opt_state, x, y, 1),
         'whole step, after': lambda: step_after(params, opt_state, x, y, 1),
         'forward (loss)': lambda: forward(params, x),
         'forward + backward, before': lambda: grad_before(params, x),
         'forward + backward, after': lambda: grad_after(params, x),
         'random shifts (vmap of dynamic_slice)': lambda: shift(x),
         'AdamW update': lambda: adamw(grads, opt_state, params),
         'batch: index + host to device': host_batch}
  fns.update({name: (lambda f=f, z=z, ct=ct: f(z, ct)) for name, (f, z, ct) in pools.items()})
  fns['2nd conv kernel gradient (incl. 1st layer fwd): XLA, transposing (before)'] = (
      lambda: kernel_grad_before(x, w1))
  fns['2nd conv kernel gradient (incl. 1st layer fwd): channels-first recompute (after)'] = (
      lambda: kernel_grad_after(x, w1))
  ms = interleaved_ms(fns, repeats)
  print(f'\n### Profile: one step\'s parts, batch {BATCH}, ms per call (median of {repeats})\n')
  print('| part | ms |\n| --- | --- |')
  for name, value in ms.items():
    print(f'| {name} | {value:.1f} |')


def step_table(images, labels, repeats):
  x, y, key, before_model, after_model, params, tx_before, tx_after = setup(images, labels)
  rows = {}
  for name, model, tx, make in (
      ('before', before_model, tx_before, classifier.make_train_step),
      ('after', after_model, tx_after, classifier.make_train_step)):
    opt_state = tx.init(params)
    start = time.perf_counter()
    compiled = make(model, tx, key).lower(params, opt_state, x, y, 0).compile()
    rows[name] = {'compile': time.perf_counter() - start, 'step': compiled,
                  'state': (params, opt_state)}
  # The same step from the same parameters: equal losses, equal gradients (the updates differ
  # only by the learning rate schedules, so compare the gradients themselves).
  loss = lambda model: lambda p: optax.softmax_cross_entropy_with_integer_labels(
      model.apply({'params': p}, x, train=True, rngs={'dropout': key})[1], y).mean()
  g_before = jax.jit(jax.grad(loss(before_model)))(params)
  g_after = jax.jit(jax.grad(loss(after_model)))(params)
  grad_diff = max(float(jnp.abs(a - b).max()) for a, b in
                  zip(jax.tree.leaves(g_before), jax.tree.leaves(g_after)))
  times = {name: [] for name in rows}
  for i in range(repeats + 2):
    for name, row in rows.items():
      start = time.perf_counter()
      row['state'] = row['step'](*row['state'], x, y, i)[:2]
      jax.block_until_ready(row['state'])
      if i >= 2:
        times[name].append(time.perf_counter() - start)
  for name in rows:
    rows[name]['s_step'] = statistics.median(times[name])
  print(f'\n### Step: batch {BATCH}, median of {repeats} interleaved steps after 2 warm-up\n')
  print('| step | compile s | s/step | speed-up | max gradient difference vs before |')
  print('| --- | --- | --- | --- | --- |')
  for name, row in rows.items():
    print(f'| {name} | {row["compile"]:.2f} | {row["s_step"]:.3f} | '
          f'{rows["before"]["s_step"] / row["s_step"]:.2f}x | '
          f'{0.0 if name == "before" else grad_diff:.1e} |')
  return {name: row['s_step'] for name, row in rows.items()}


def full_runs(dataset, before_seeds, after_seeds):
  results = []
  order = [('before', s) for s in before_seeds] + [('after', s) for s in after_seeds]
  order.sort(key=lambda r: (r[1], r[0] == 'after'))  # Alternate: before 0, after 0, before 1...
  with tempfile.TemporaryDirectory() as tmp:
    for name, seed in order:
      start = time.perf_counter()
      if name == 'before':
        accuracy, steps = train_before(dataset, seed), BEFORE_STEPS
      else:
        metadata = classifier.train_classifier(dataset, os.path.join(tmp, f'cnn{seed}.npz'),
                                               held_out=HELD_OUT, seed=SPLIT_SEED,
                                               train_seed=seed, log=lambda _: None)
        accuracy, steps = metadata['held_out_accuracy'], metadata['steps']
      minutes = (time.perf_counter() - start) / 60
      results.append((name, seed, steps, minutes, accuracy))
      print(f'  {name} seed {seed}: {minutes:.2f} min, held-out accuracy {accuracy:.4f}',
            file=sys.stderr, flush=True)
  print(f'\n### Full train-classifier runs (held-out split: seed {SPLIT_SEED}, {HELD_OUT} '
        'images)\n')
  print('| run | training seed | steps | total minutes | s/step incl. compile and I/O | '
        'held-out accuracy |')
  print('| --- | --- | --- | --- | --- | --- |')
  for name, seed, steps, minutes, accuracy in results:
    print(f'| {name} | {seed} | {steps} | {minutes:.2f} | {60 * minutes / steps:.3f} | '
          f'{100 * accuracy:.2f}% |')
  for name in ('before', 'after'):
    rows = [r for r in results if r[0] == name]
    if rows:
      print(f'| {name}, median | | | {statistics.median(r[3] for r in rows):.2f} | | '
            f'{100 * statistics.median(r[4] for r in rows):.2f}% |')


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data', default='../shared/data/mnist8k.npz',
                      help='The labelled digits (.npz with images and labels).')
  parser.add_argument('--repeats', type=int, default=15, help='Timed calls per profile row.')
  parser.add_argument('--step_repeats', type=int, default=30, help='Timed steps per step row.')
  parser.add_argument('--full_runs', default='true', choices=('true', 'false'))
  parser.add_argument('--before_seeds', default='0', help='Training seeds of full before runs.')
  parser.add_argument('--seeds', default='0,1,2', help='Training seeds of full after runs.')
  args = parser.parse_args()
  dataset = args.data if ':' in args.data else f'npz:{args.data}'
  images, labels = classifier.load_labelled(dataset)
  print(f'DigitCNN on {len(images)} digits; {jax.devices()[0].platform}, '
        f'{os.cpu_count()} CPUs, jax {jax.__version__}')
  profile_table(images, labels, args.repeats)
  step_table(images, labels, args.step_repeats)
  if args.full_runs == 'true':
    seeds = lambda text: [int(s) for s in text.split(',') if s]
    full_runs(dataset, seeds(args.before_seeds), seeds(args.seeds))


if __name__ == '__main__':
  main()
