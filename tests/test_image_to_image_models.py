"""CycleGAN's ResNet generator, pix2pix's U-Net and the PatchGAN discriminator: shapes at 28 to 256
px, the reference's parameter counts (junyanz/pytorch-CycleGAN-and-pix2pix), receptive fields,
dropout and size checks. Large sizes only go through jax.eval_shape."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.models import image_to_image as i2i


def _init(module, shape, **kwargs):
  """The variables' shapes, without computing them."""
  return jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros(shape), **kwargs))


def _output(module, shape, **kwargs):
  variables = _init(module, shape, **kwargs)
  return jax.eval_shape(lambda v, x: module.apply(v, x, **kwargs), variables, jnp.zeros(shape))


def _variables(module, shape, **kwargs):
  """Variables drawn as the modules' init draws them (kernels N(0, 0.02), biases 0, batch-norm
  scales N(1, 0.02), running means 0 and variances 1) without compiling flax's init, whose random
  draws take seconds to compile on CPU (test_init_distributions covers it)."""
  rng = np.random.default_rng(0)

  def draw(path, leaf):
    name = path[-1].key
    if name in ('kernel', 'scale'):
      return jnp.asarray(rng.normal(float(name == 'scale'), 0.02, leaf.shape), jnp.float32)
    return jnp.full(leaf.shape, float(name == 'var'), jnp.float32)

  return jax.tree_util.tree_map_with_path(draw, _init(module, shape, **kwargs))


def _num_params(variables):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(variables['params']))


@pytest.mark.parametrize('size,width,blocks', [(28, 32, 6), (32, 32, 6), (64, 32, 6),
                                               (256, 64, 9)])
def test_resnet_generator_shapes(size, width, blocks):
  g = i2i.ResnetGenerator(output_channels=3, width=width, num_blocks=blocks)
  out = _output(g, (2, size, size, 1))
  assert out.shape == (2, size, size, 3) and out.dtype == jnp.float32


@pytest.mark.parametrize('size,num_downs,pad', [(28, 5, True), (32, 5, False), (64, 6, False),
                                                (256, 8, False)])
def test_unet_generator_shapes(size, num_downs, pad):
  g = i2i.UNetGenerator(output_channels=3, num_downs=num_downs, pad=pad)
  out = _output(g, (2, size, size, 1), train=False)
  assert out.shape == (2, size, size, 3) and out.dtype == jnp.float32


@pytest.mark.parametrize('size,num_layers,side', [(28, 2, 5), (28, 3, 1), (32, 2, 6), (32, 3, 2),
                                                  (64, 3, 6), (256, 3, 30)])
def test_patch_discriminator_shapes(size, num_layers, side):
  """h = H // 2**n - 2: the paper's 30x30 map at 256 px."""
  d = i2i.PatchDiscriminator(num_layers=num_layers)
  out = _output(d, (2, size, size + 4, 6)).score
  assert i2i.patch_map_size(size, num_layers) == side
  assert out.shape == (2, side, i2i.patch_map_size(size + 4, num_layers))
  assert out.dtype == jnp.float32


def test_generators_run_in_range_with_float32_params():
  """Real outputs at 28 px (the small variants), within [-1, 1]; bfloat16 compute keeps float32
  parameters and outputs."""
  x = jax.random.uniform(jax.random.key(1), (2, 28, 28, 1), minval=-1, maxval=1)
  for g in (i2i.ResnetGenerator(1, width=4, num_blocks=1, dtype=jnp.bfloat16),
            i2i.UNetGenerator(1, width=4, num_downs=5, pad=True, dtype=jnp.bfloat16)):
    variables = _variables(g, x.shape, train=False)
    assert {p.dtype for p in jax.tree.leaves(_init(g, x.shape, train=False))} == {
        jnp.dtype(jnp.float32)}
    y = jax.jit(lambda v, x, g=g: g.apply(v, x, train=False))(variables, x)
    assert y.shape == (2, 28, 28, 1) and y.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(y))) <= 1.0 and float(jnp.std(y)) > 0


def test_parameter_counts_match_the_reference():
  """CycleGAN's resnet_9blocks G and basic D (instance norm), pix2pix's unet_256 G and basic D
  (batch norm, D on the 6-channel pair), as the reference's networks.py builds them."""
  g = i2i.ResnetGenerator(output_channels=3, width=64, num_blocks=9)
  assert _num_params(_init(g, (1, 256, 256, 3))) == 11_378_179
  assert _num_params(_init(i2i.PatchDiscriminator(), (1, 256, 256, 3))) == 2_764_737
  # unet_256: convs before a batch norm have no bias; the outermost up conv has one.
  unet = _init(i2i.UNetGenerator(output_channels=3), (1, 256, 256, 3), train=False)
  assert _num_params(unet) == 54_413_955
  d = i2i.PatchDiscriminator(norm='batch')
  assert _num_params(_init(d, (1, 256, 256, 6))) == 2_768_705
  # Instance norm without affine: no norm parameters; every conv has a bias.
  names = flax.traverse_util.flatten_dict(_init(g, (1, 32, 32, 3))['params'], sep='/')
  assert all(k.endswith(('/kernel', '/bias')) for k in names)
  assert len(names) == 2 * (1 + 2 + 2 * 9 + 2 + 1)


def test_init_distributions():
  """The reference's init_weights('normal', 0.02): kernels N(0, 0.02), biases 0, batch-norm scales
  N(1, 0.02)."""
  d = i2i.PatchDiscriminator(width=16, num_layers=1, norm='batch')
  flat = flax.traverse_util.flatten_dict(
      d.init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)), train=False)['params'], sep='/')
  kernels = np.concatenate([np.ravel(v) for k, v in flat.items() if k.endswith('kernel')])
  assert abs(kernels.mean()) < 0.002 and 0.018 < kernels.std() < 0.022
  assert all(not np.any(v) for k, v in flat.items() if k.endswith('bias'))
  scale = flat['BatchNorm_0/scale']
  assert abs(scale.mean() - 1) < 0.02 and 0.01 < scale.std() < 0.03


def test_receptive_field_formula():
  assert [i2i.receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]
  assert all(i2i.receptive_field(n) == 9 * 2**n - 2 for n in range(1, 7))


@pytest.mark.parametrize('num_layers', [1, 2])
def test_patch_receptive_field_by_gradient(num_layers):
  """One logit's gradient w.r.t. the image is nonzero on exactly a receptive_field(n) square (no
  norm: instance norm would spread it over the whole image)."""
  d = i2i.PatchDiscriminator(width=4, num_layers=num_layers, norm='none')
  x = jax.random.normal(jax.random.key(1), (1, 64, 64, 1))
  variables = _variables(d, x.shape)
  centre = d.apply(variables, x).score.shape[1] // 2
  grad = jax.jit(jax.grad(lambda x: d.apply(variables, x).score[0, centre, centre]))(x)
  mask = np.asarray(jnp.abs(grad[0, ..., 0]) > 0)
  rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
  r = i2i.receptive_field(num_layers)
  assert mask.sum() == r * r and len(rows) == len(cols) == r
  assert rows[-1] - rows[0] == r - 1 and 0 < rows[0] and rows[-1] < 63


@pytest.mark.parametrize('size,pad,output_pad', [(3, 1, 1), (4, 1, 0)])
def test_transposed_convs_match_pytorch(size, pad, output_pad):
  """ConvTranspose2d(k, stride 2, padding p, output_padding op): 2x the input, and input pixel i
  reaches outputs 2 i - p .. 2 i - p + k - 1."""
  conv = i2i._up_conv(1, size, pad, output_pad)  # pylint: disable=protected-access
  x = jnp.zeros((1, 5, 5, 1)).at[0, 2, 2, 0].set(1.0)
  variables = conv.init(jax.random.key(0), x)
  variables = jax.tree.map(jnp.ones_like, variables)
  y = conv.apply(variables, x) - 1.0  # Minus the bias.
  assert y.shape == (1, 10, 10, 1)
  hit = np.nonzero(np.asarray(y[0, :, 4, 0]))[0]
  assert list(hit) == list(range(4 - pad, 4 - pad + size))


def test_unet_dropout():
  """Dropout in the 8w blocks (i = 4 at 64 px with num_downs 6): different 'dropout' rngs give
  different outputs when training; train=False is deterministic and needs no rng."""
  g = i2i.UNetGenerator(output_channels=1, width=2, num_downs=6)
  x = jax.random.uniform(jax.random.key(1), (1, 64, 64, 1), minval=-1, maxval=1)
  variables = _variables(g, x.shape, train=False)
  train = jax.jit(lambda key: g.apply(variables, x, train=True, rngs={'dropout': key},
                                      mutable=['batch_stats'])[0])
  a, b, a2 = train(jax.random.key(2)), train(jax.random.key(3)), train(jax.random.key(2))
  assert not np.allclose(a, b) and np.array_equal(a, a2)
  test = jax.jit(lambda v: g.apply(v, x, train=False))
  np.testing.assert_array_equal(test(variables), test(variables))
  with pytest.raises(flax.errors.InvalidRngError):
    jax.eval_shape(lambda v: g.apply(v, x, train=True, mutable=['batch_stats']), variables)


def test_bad_sizes_and_settings_raise():
  with pytest.raises(ValueError, match='multiples of 4, not 30x30'):
    _init(i2i.ResnetGenerator(3), (1, 30, 30, 3))
  with pytest.raises(ValueError, match=r'divisible by 2\*\*5 = 32, not 28x28: use num_downs <= 2'):
    _init(i2i.UNetGenerator(3, num_downs=5), (1, 28, 28, 3), train=False)
  with pytest.raises(ValueError, match='more than reflection padding allows'):
    _init(i2i.UNetGenerator(3, num_downs=7, pad=True), (1, 28, 28, 3), train=False)
  with pytest.raises(ValueError, match='num_downs >= 1'):
    _init(i2i.UNetGenerator(3, num_downs=0), (1, 32, 32, 3), train=False)
  with pytest.raises(ValueError, match=r'no output on a 16x16 image; use 1 <= num_layers <= 2'):
    _init(i2i.PatchDiscriminator(num_layers=3), (1, 16, 16, 3))
  with pytest.raises(ValueError, match='Unknown norm'):
    _init(i2i.PatchDiscriminator(norm='group'), (1, 32, 32, 3))


def test_registries():
  assert i2i.TRANSLATORS == {'resnet': i2i.ResnetGenerator, 'unet': i2i.UNetGenerator}
  assert i2i.PATCH_DISCRIMINATORS == {'patch': i2i.PatchDiscriminator}
