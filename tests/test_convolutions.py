"""The fast strided convolutions (and their im2col forms for stacked kernels) equal lax's, in
values and in first and second derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from jax import lax

from gan_jax.models import convolutions

DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')


def lax_conv_up(x, w):
  return lax.conv_transpose(x, w, (2, 2), 'SAME', dimension_numbers=DIMENSIONS)


def lax_conv_down(x, w):
  return lax.conv_general_dilated(x, w, (2, 2), 'SAME', dimension_numbers=DIMENSIONS)


def _inputs(shape, features, seed=0):
  kx, kw, kg = jax.random.split(jax.random.key(seed), 3)
  x = jax.random.normal(kx, shape)
  w = jax.random.normal(kw, (4, 4, shape[-1], features)) / np.sqrt(16 * shape[-1])
  return x, w, kg


def _assert_close(a, b, rtol=1e-5):
  scale = float(jnp.max(jnp.abs(b)))
  np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=rtol * scale + 1e-7)


# (input shape, output features): DCGAN's shapes in small, a non-square map, one channel.
SHAPES = [((3, 4, 4, 8), 5), ((2, 8, 6, 3), 4), ((2, 2, 2, 1), 7), ((2, 16, 16, 4), 1)]


@pytest.mark.parametrize('fast, reference, up', [
    (convolutions.conv_up, lax_conv_up, True),
    (convolutions.conv_down, lax_conv_down, False),
    (convolutions.conv_up_im2col, lax_conv_up, True),
    (convolutions.conv_down_im2col, lax_conv_down, False)])
@pytest.mark.parametrize('shape, features', SHAPES)
def test_values_and_gradients_equal_lax(fast, reference, up, shape, features):
  x, w, kg = _inputs(shape, features)
  g = jax.random.normal(kg, jax.eval_shape(reference, x, w).shape)
  # Values and vector-Jacobian products, each side one compiled program (as in a train step).
  run = lambda conv: jax.jit(lambda x, w, g: (conv(x, w), jax.vjp(conv, x, w)[1](g)))(x, w, g)
  (fast_y, fast_vjp), (reference_y, reference_vjp) = run(fast), run(reference)
  _assert_close(fast_y, reference_y)
  for a, b in zip(fast_vjp, reference_vjp):
    _assert_close(a, b)
  assert fast_y.shape == (shape[0], *(2 * s if up else s // 2 for s in shape[1:3]), features)


@pytest.mark.parametrize('fast, reference', [
    (convolutions.conv_up, lax_conv_up), (convolutions.conv_down, lax_conv_down),
    (convolutions.conv_up_im2col, lax_conv_up), (convolutions.conv_down_im2col, lax_conv_down)])
def test_second_derivatives_equal_lax(fast, reference):
  """What WGAN-GP and R1 differentiate: the parameter gradient of a norm of an input gradient."""
  x, w, _ = _inputs((2, 4, 4, 3), 2, seed=1)

  def penalty(conv, w):
    input_grad = jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, w))))(x)
    return jnp.sum(input_grad**2)

  second = lambda conv: jax.jit(jax.grad(lambda w: penalty(conv, w)))(w)
  _assert_close(second(fast), second(reference))


def test_layers_keep_flax_parameter_layout():
  """Same parameter shapes as nn.Conv / nn.ConvTranspose, so the modules are drop-in."""
  x = jnp.zeros((1, 8, 8, 3))
  up = convolutions.ConvUp(5).init(jax.random.key(0), x)['params']
  down = convolutions.ConvDown(5, use_bias=False).init(jax.random.key(0), x)['params']
  assert up['kernel'].shape == (4, 4, 3, 5) and up['bias'].shape == (5,)
  assert set(down) == {'kernel'}
  bf16 = convolutions.ConvUp(5, dtype=jnp.bfloat16)
  params = bf16.init(jax.random.key(0), x)
  assert params['params']['kernel'].dtype == jnp.float32
  assert bf16.apply(params, x).dtype == jnp.bfloat16


@pytest.mark.parametrize('layer', [convolutions.ConvUp, convolutions.ConvDown])
def test_stacked_kernels_under_vmap_are_matrix_products(layer):
  """Inside stacked_kernels() a layer vmapped over K kernels equals the per-kernel layer, and
  its program holds batched matrix products instead of (grouped) convolutions."""
  x = jax.random.normal(jax.random.key(0), (3, 2, 8, 8, 4))
  stacked = flax_vmap(layer)
  params = stacked.init(jax.random.key(1), x)

  def run(params, x):
    with convolutions.stacked_kernels():
      return stacked.apply(params, x)

  y = run(params, x)
  for k in range(3):
    single = jax.tree.map(lambda p: p[k], params)
    _assert_close(y[k], layer(5).apply(single, x[k]))
  program = jax.jit(jax.grad(lambda p: jnp.sum(run(p, x)**2))).lower(params).as_text()
  assert 'convolution' not in program and 'dot_general' in program


def flax_vmap(layer):
  return nn.vmap(layer, variable_axes={'params': 0}, split_rngs={'params': True}, axis_size=3)(5)


def test_bad_shapes_are_rejected():
  with pytest.raises(ValueError, match='4x4 kernels'):
    convolutions.conv_up(jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2, 2)))
  with pytest.raises(ValueError, match='channels'):
    convolutions.conv_down(jnp.zeros((1, 4, 4, 2)), jnp.zeros((4, 4, 3, 2)))
  for conv_down in (convolutions.conv_down, convolutions.conv_down_im2col):
    with pytest.raises(ValueError, match='even'):
      conv_down(jnp.zeros((1, 5, 4, 2)), jnp.zeros((4, 4, 2, 2)))
