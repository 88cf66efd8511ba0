"""SNGAN ResNets (Miyato et al. 2018): the paper's CIFAR-10 shapes, other sizes, spectral norm,
projection conditioning (Miyato & Koyama 2018) and real train steps through the trainer."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import models
from gan_jax.games import gan_game
from gan_jax.games import gan_step
from gan_jax.models import sngan
from tests.helpers import load_config, small


def _kernels(params):
  """{'block0/conv1': shape, ...} for every kernel."""
  flat = flax.traverse_util.flatten_dict(params, sep='/')
  return {k[:-len('/kernel')]: v.shape for k, v in flat.items() if k.endswith('/kernel')}


def _num_params(params):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


def test_32px_is_the_papers_cifar10_network():
  """G: z -> 4x4x256 -> 3 up blocks of 256 -> BN, ReLU, conv3x3 -> 32x32x3; D (128 channels):
  optimized block, down block, two blocks without downsampling, dense (paper's table 4)."""
  g = models.SNGANGenerator(output_shape=(32, 32, 3), width=256)
  g_vars = jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros((1, 128)), train=False))
  up = {'conv1': (3, 3, 256, 256), 'conv2': (3, 3, 256, 256), 'shortcut': (1, 1, 256, 256)}
  assert _kernels(g_vars['params']) == {
      'Dense_0': (128, 4 * 4 * 256), 'Conv_0': (3, 3, 256, 3),
      **{f'block{i}/{k}': v for i in range(3) for k, v in up.items()}}
  d = models.SNGANDiscriminator(width=128)
  d_vars = jax.eval_shape(lambda: d.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False))
  same = {'conv1': (3, 3, 128, 128), 'conv2': (3, 3, 128, 128)}
  assert _kernels(d_vars['params']) == {
      'block0/conv1': (3, 3, 3, 128), 'block0/conv2': (3, 3, 128, 128),
      'block0/shortcut': (1, 1, 3, 128),
      'block1/conv1': (3, 3, 128, 128), 'block1/conv2': (3, 3, 128, 128),
      'block1/shortcut': (1, 1, 128, 128),
      **{f'block{i}/{k}': v for i in (2, 3) for k, v in same.items()},  # Identity shortcuts.
      'dense': (128, 1)}
  # The sizes of the reference networks (chainer sngan_projection: 4.3M and 1.05M).
  assert _num_params(g_vars['params']) == 4_276_739
  assert _num_params(d_vars['params']) == 1_053_825


def test_channel_plans():
  """<= 32 px: constant width; 64 px: G 8w, 8w, 4w, 2w, w and D w, 2w, 4w, 8w, 8w."""
  assert sngan.channel_plan(32, 16) == (4, 16, [16] * 3, [(16, True)] * 2 + [(16, False)] * 2)
  assert sngan.channel_plan(28, 16) == (7, 16, [16] * 2, [(16, True)] * 2 + [(16, False)] * 2)
  assert sngan.channel_plan(16, 16)[3] == [(16, True)] + [(16, False)] * 2  # 16 -> 8.
  assert sngan.channel_plan(64, 8) == (4, 64, [64, 32, 16, 8],
                                       [(8, True), (16, True), (32, True), (64, True), (64, False)])
  d = models.SNGANDiscriminator(width=8)
  kernels = _kernels(jax.eval_shape(
      lambda: d.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)), train=False))['params'])
  # The hidden layer of a down block keeps the input's channels (chainer's Block).
  assert kernels['block1/conv1'] == (3, 3, 8, 8) and kernels['block1/conv2'] == (3, 3, 8, 16)
  assert kernels['block4/conv1'] == (3, 3, 64, 64) and 'block4/shortcut' not in kernels
  assert kernels['dense'] == (64, 1)


@pytest.mark.parametrize('size,channels,conditioning', [
    (28, 1, 'projection'), (32, 3, 'none'), (64, 3, 'projection')])
def test_sizes_channels_and_conditioning(size, channels, conditioning):
  num_classes = 5 if conditioning == 'projection' else 0
  g = models.SNGANGenerator(output_shape=(size, size, channels), width=8,
                            num_classes=num_classes, conditioning=conditioning)
  d = models.SNGANDiscriminator(width=8, num_classes=num_classes, conditioning=conditioning)
  z, labels = jnp.ones((3, 8)), jnp.array([0, 1, 4])

  @jax.jit  # One compilation instead of op-by-op dispatch of every layer.
  def run(z, labels):
    g_vars = g.init(jax.random.key(0), z, labels, train=False)
    images, _ = g.apply(g_vars, z, labels, train=True, mutable=['batch_stats'])
    d_vars = d.init(jax.random.key(1), images, labels, train=False)
    return images, d.apply(d_vars, images, labels, train=True, mutable=['batch_stats'])[0].score

  images, logits = run(z, labels)
  assert images.shape == (3, size, size, channels) and images.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  assert logits.shape == (3,) and logits.dtype == jnp.float32


def test_bfloat16_compute_keeps_float32_parameters_and_outputs():
  g = models.SNGANGenerator(output_shape=(16, 16, 3), width=8, dtype=jnp.bfloat16)
  d = models.SNGANDiscriminator(width=8, dtype=jnp.bfloat16)
  z = jnp.ones((2, 8))
  g_vars = g.init(jax.random.key(0), z, train=False)
  images = g.apply(g_vars, z, train=False)
  d_vars = d.init(jax.random.key(1), images, train=False)
  logits = d.apply(d_vars, images, train=True, mutable=['batch_stats'])[0].score
  assert images.dtype == logits.dtype == jnp.float32
  leaves = jax.tree.leaves((g_vars, d_vars))
  assert all(x.dtype == jnp.float32 for x in leaves)


def test_spectral_norm_on_every_weight_of_d():
  """After enough power iterations, sigma stored in batch_stats is the largest singular value of
  every kernel of D (convs as [k*k*in, out], the dense head, the class embedding)."""
  d = models.SNGANDiscriminator(width=8, num_classes=3, conditioning='projection')
  x, labels = jax.random.normal(jax.random.key(1), (2, 16, 16, 3)), jnp.array([0, 2])
  variables = d.init(jax.random.key(0), x, labels, train=False)
  params = flax.traverse_util.flatten_dict(variables['params'])

  @jax.jit
  def power_iteration(batch_stats):
    _, updates = d.apply({'params': variables['params'], 'batch_stats': batch_stats}, x, labels,
                         train=True, mutable=['batch_stats'])
    return updates['batch_stats']

  batch_stats = variables['batch_stats']
  # Eval mode (train=False) leaves u and sigma alone.
  _, same = d.apply(variables, x, labels, train=False, mutable=['batch_stats'])
  assert jax.tree.all(jax.tree.map(np.array_equal, same['batch_stats'], batch_stats))
  for _ in range(100):
    batch_stats = power_iteration(batch_stats)

  stats = flax.traverse_util.flatten_dict(batch_stats)
  normalised = set()
  for path, sigma in stats.items():
    if not path[-1].endswith('/sigma'):
      continue
    layer, name, _ = path[-1].split('/')  # e.g. ('conv1', 'kernel', 'sigma') under 'conv1_sn'.
    assert path[-2] == f'{layer}_sn'
    kernel = np.asarray(params[path[:-2] + (layer, name)])
    top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
    np.testing.assert_allclose(top / float(sigma), 1.0, rtol=1e-3)
    u = stats[path[:-1] + (f'{layer}/{name}/u',)]
    assert u.shape == (1, kernel.shape[-1])
    normalised.add(path[:-2] + (layer, name))
  assert normalised == {k for k in params if k[-1] == 'kernel'}
  assert ('embed', 'kernel') in normalised and ('dense', 'kernel') in normalised


def test_projection_uses_the_labels_and_unconditional_ignores_them():
  z, x = jax.random.normal(jax.random.key(0), (2, 8)), jnp.zeros((2, 16, 16, 3))
  y0, y1 = jnp.array([0, 0]), jnp.array([1, 1])
  outputs = {}
  for conditioning in ('none', 'projection'):
    g = models.SNGANGenerator(output_shape=(16, 16, 3), width=8, num_classes=3,
                              conditioning=conditioning)
    d = models.SNGANDiscriminator(width=8, num_classes=3, conditioning=conditioning)
    g_vars = g.init(jax.random.key(1), z, y0, train=False)
    # Conditional batch norm starts at gamma = 1, beta = 0 for every class: move them apart.
    g_vars['params'] = jax.tree_util.tree_map_with_path(
        lambda p, v: v + jax.random.normal(jax.random.key(len(p)), v.shape)
        if 'ConditionalBatchNorm' in jax.tree_util.keystr(p) else v, g_vars['params'])
    d_vars = d.init(jax.random.key(2), x, y0, train=False)
    images = x + jax.random.uniform(jax.random.key(3), x.shape)
    outputs[conditioning] = [(g.apply(g_vars, z, y, train=False),
                              d.apply(d_vars, images, y, train=False).score) for y in (y0, y1)]
  (g0, d0), (g1, d1) = outputs['projection']
  assert float(jnp.max(jnp.abs(g0 - g1))) > 1e-3 and float(jnp.max(jnp.abs(d0 - d1))) > 1e-3
  (g0, d0), (g1, d1) = outputs['none']
  np.testing.assert_array_equal(g0, g1)
  np.testing.assert_array_equal(d0, d1)

  with pytest.raises(ValueError, match='needs labels'):
    models.SNGANDiscriminator(width=8, num_classes=3, conditioning='projection').init(
        jax.random.key(0), x)
  with pytest.raises(ValueError, match="not implemented by SNGANGenerator"):
    models.build_generator({'name': 'sngan'}, (32, 32, 3), conditioning='concat', num_classes=3)


@pytest.mark.parametrize('conditioning', ['projection'])  # 'none': the checkpoint test below.
def test_train_steps_through_the_trainer(conditioning):
  """Two jitted hinge-loss steps of the registered players: finite losses; D's power-iteration
  vectors u (in its batch_stats) move every step and its sigmas follow D's weights."""
  config = load_config('dcgan.py')
  config.generator = {'name': 'sngan', 'width': 8}
  config.discriminator = {'name': 'sngan', 'width': 8}
  config.loss, config.image_size, config.batch_size, config.latent_dim = 'hinge', 16, 8, 16
  config.g_optimizer.b1 = config.d_optimizer.b1 = 0.0  # The paper's Adam(2e-4, 0, 0.9).
  config.g_optimizer.b2 = config.d_optimizer.b2 = 0.9
  if conditioning == 'projection':
    config.conditioning, config.num_classes = 'projection', 10
  configuration.validate(config)
  gan = gan_game.build_gan(config, (16, 16, 3))
  state = jax.jit(gan.init)(jax.random.key(0))
  train_step = jax.jit(gan_step.make_train_step(gan))
  batch = {'image': jax.random.uniform(jax.random.key(1), (8, 16, 16, 3), minval=-1, maxval=1),
           'label': jnp.arange(8) % 10}
  history = [flax.traverse_util.flatten_dict(jax.device_get(state.players['discriminator'].batch_stats), sep='/')]
  for _ in range(2):
    state, metrics = train_step(state, batch)
    assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
    history.append(flax.traverse_util.flatten_dict(jax.device_get(state.players['discriminator'].batch_stats), sep='/'))
  assert int(state.step) == 2
  # 7 convs, the dense head and, with projection, the embedding: a u and a sigma each.
  assert len(history[0]) == 2 * (8 + (conditioning == 'projection'))

  def all_moved(a, b, suffix):  # The dense head's u is a unit vector of size 1: always 1.
    keys = [k for k in a if k.endswith(suffix) and (suffix == '/sigma' or a[k].size > 1)]
    return len(keys) >= 7 and all(not np.array_equal(a[k], b[k]) for k in keys)

  assert all_moved(history[0], history[1], '/u') and all_moved(history[1], history[2], '/u')
  assert all_moved(history[1], history[2], '/sigma')


def test_power_iteration_state_is_checkpointed(tmp_path):
  """The spectral-norm vectors u live in D's batch_stats: a checkpoint holds them, and a restored
  state has exactly the u the run ended with."""
  from gan_jax import sample as sample_lib  # pylint: disable=g-import-not-at-top
  from gan_jax import train  # pylint: disable=g-import-not-at-top
  config = small(load_config('sngan.py'), total_steps=2, n_critic=2, checkpoint_every=2,
                 sample_every=2, log_every=2)
  final = train.train_and_evaluate(config, str(tmp_path))
  _, restored = sample_lib.load_generator(str(tmp_path))
  u_vectors = {k: v for k, v in flax.traverse_util.flatten_dict(
      jax.device_get(final.players['discriminator'].batch_stats), sep='.').items() if k.endswith('/u')}
  assert u_vectors
  restored_stats = flax.traverse_util.flatten_dict(
      jax.device_get(restored.players['discriminator'].batch_stats), sep='.')
  for name, u in u_vectors.items():
    np.testing.assert_array_equal(restored_stats[name], u)
