"""MIX+GAN: stacked components under vmap, weighted pairwise losses, sampling by weight."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import losses
from gan_jax import models
from gan_jax.games import gan_game
from gan_jax.games import gan_step
from gan_jax.models import mixture
from tests.helpers import load_config, small

OBJECTIVE = losses.OBJECTIVES['non_saturating']


def test_one_component_is_the_plain_game():
  real, fake = jax.random.normal(jax.random.key(0), (2, 1, 8))
  w = jnp.ones(1)
  np.testing.assert_allclose(
      losses.mixture_d_loss(OBJECTIVE, real, fake[:, None], w, w, 0.1),
      OBJECTIVE.d_loss(real[0], fake[0], 0.1), rtol=1e-6)
  np.testing.assert_allclose(losses.mixture_g_loss(OBJECTIVE, fake[:, None], w, w),
                             OBJECTIVE.g_loss(real[0], fake[0]), rtol=1e-6)


def test_pairwise_losses_are_weighted_and_regularised_by_entropy():
  key_r, key_f = jax.random.split(jax.random.key(1))
  real = jax.random.normal(key_r, (2, 8))  # D_0, D_1 on the reals.
  fake = jax.random.normal(key_f, (2, 3, 8))  # D_j on the fakes of G_0..G_2.
  w_d, w_g = jnp.array([0.3, 0.7]), jnp.array([0.5, 0.25, 0.25])
  expected_d = sum(w_d[j] * w_g[i] * OBJECTIVE.d_loss(real[j], fake[j, i])
                   for j in range(2) for i in range(3))
  expected_g = sum(w_d[j] * w_g[i] * OBJECTIVE.g_loss(real[j], fake[j, i])
                   for j in range(2) for i in range(3))
  entropy = lambda w: -float(jnp.sum(w * jnp.log(w)))
  np.testing.assert_allclose(losses.mixture_d_loss(OBJECTIVE, real, fake, w_d, w_g, 0.0, 0.1),
                             expected_d - 0.1 * entropy(w_d), rtol=1e-5)
  np.testing.assert_allclose(losses.mixture_g_loss(OBJECTIVE, fake, w_d, w_g, 0.1),
                             expected_g - 0.1 * entropy(w_g), rtol=1e-5)
  # Where the components play alike, only the entropy term moves the weights: towards uniform.
  same = jnp.zeros((2, 3, 8))
  grad = jax.grad(lambda logits: losses.mixture_g_loss(
      OBJECTIVE, same, w_d, jax.nn.softmax(logits), 0.1))(jnp.log(w_g))
  assert grad[0] > 0 and grad[1] < 0 and grad[2] < 0


def test_components_are_stacked_independent_copies():
  base = models.build_generator({'name': 'mlp', 'hidden': (16,)}, (2,))
  mix = models.build_generator({'name': 'mlp', 'hidden': (16,)}, (2,), mixture_components=4)
  z = jax.random.normal(jax.random.key(0), (4, 5, 3))
  variables = mix.init(jax.random.key(1), z, None, train=False)
  params = variables['params']
  assert params['mixture_logits'].shape == (4,)
  kernels = params['components']['Dense_0']['kernel']
  assert kernels.shape == (4, 3, 16) and not np.allclose(kernels[0], kernels[1])
  out = mix.apply(variables, z, None, train=False)
  assert out.shape == (4, 5, 2)
  for i in range(4):  # Component i is the base module with the i-th slice of the parameters.
    component = jax.tree.map(lambda a, i=i: a[i], {'params': params['components'],
                                                   'batch_stats': variables['batch_stats']
                                                   ['components']})
    np.testing.assert_allclose(out[i], base.apply(component, z[i], None, train=False),
                               rtol=1e-5, atol=1e-6)
  d = models.build_discriminator({'name': 'mlp', 'hidden': (16,)}, mixture_components=3)
  x = jnp.zeros((7, 2))
  assert d.apply(d.init(jax.random.key(2), x, None, train=False), x, None).score.shape == (3, 7)


def test_sampling_draws_components_by_weight():
  config = small(load_config('mixgan.py:grid25'), mixture_components=3, ema_decay=0.0)
  gan = gan_game.build_gan(config, (2,))
  state = jax.jit(gan.init)(jax.random.key(0))
  weights = jnp.array([0.2, 0.8, 0.0])
  g_params = {**state.params('generator'), 'mixture_logits': jnp.log(weights + 1e-9)}
  state = state.with_player('generator', params=g_params)
  codes = gan.latents(jax.random.key(1), 20_000)
  chosen = np.asarray(mixture.choose_components(mixture.mixture_weights(g_params), codes[:, -1]))
  np.testing.assert_allclose(np.bincount(chosen, minlength=3) / 20_000, weights, atol=0.01)
  samples = gan.sample(state, codes[:6])
  z = jnp.broadcast_to(codes[:6, :-1], (3, 6, config.latent_dim))
  every = gan.generate(state, z, None, train=False)[0]
  every = every.reshape(3, 6, 2)
  np.testing.assert_allclose(samples, every[chosen[:6], np.arange(6)], rtol=1e-6)


def _step_program(components: int) -> str:
  config = small(load_config('mixgan.py:dcgan'), mixture_components=components)
  gan = gan_game.build_gan(config, (16, 16, 1))
  state = jax.eval_shape(gan.init, jax.random.key(0))
  batch = {'image': jax.ShapeDtypeStruct((16, 16, 16, 1), jnp.float32)}
  return jax.jit(gan_step.make_train_step(gan)).lower(state, batch).as_text()


def test_one_compiled_step_whatever_k():
  """The program has as many matrix products for K = 2 as for K = 5: the components are batched
  by vmap, not unrolled by Python; and no convolution is left to become a grouped one."""
  two, five = _step_program(2), _step_program(5)
  assert two.count('stablehlo.dot_general') == five.count('stablehlo.dot_general') > 0
  assert 'stablehlo.convolution' not in five


def test_mixture_trains_and_reports_its_weights():
  config = small(load_config('mixgan.py:grid25'), mixture_components=3)
  gan = gan_game.build_gan(config, (2,))
  state = jax.jit(gan.init)(jax.random.key(0))
  from gan_jax import data  # pylint: disable=g-import-not-at-top
  pipeline = data.make_pipeline(config)
  train_step = jax.jit(gan_step.make_train_step(gan))
  for _ in range(3):
    state, metrics = train_step(state, next(pipeline.iterator))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert 0 < float(metrics['g_mixture_entropy']) <= np.log(3) + 1e-6
  assert not np.allclose(state.params('generator')['mixture_logits'], 0.0)  # The weights are trained.


@pytest.mark.parametrize('key,value', [('gradient_penalty', 'wgan_gp'), ('weight_clip', 0.01),
                                       ('mixture_components', 0)])
def test_mixture_configs_are_checked(key, value):
  config = load_config('mixgan.py:grid25')
  config[key] = value
  with pytest.raises(configuration.ConfigError, match=key):
    configuration.validate(config)
