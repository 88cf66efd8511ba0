"""WGAN with weight clipping (Arjovsky et al. 2017) on the DCGAN architecture.

  python -m gan_jax.main --config=configs/wgan.py --workdir=workdirs/wgan \
      --config.dataset=npz:../shared/data/mnist8k.npz

The paper's Algorithm 1: RMSProp 5e-5, clip c = 0.01, n_critic = 5, batch 64.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.loss = 'wasserstein'
  config.weight_clip = 0.01
  config.n_critic = 5
  config.g_optimizer = dict(name='rmsprop', learning_rate=5e-5)
  config.d_optimizer = dict(name='rmsprop', learning_rate=5e-5)
  return config
