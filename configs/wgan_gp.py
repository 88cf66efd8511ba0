"""WGAN-GP (Gulrajani et al. 2017) on the DCGAN architecture.

  python -m gan_jax.main --config=configs/wgan_gp.py --workdir=workdirs/wgan_gp \
      --config.dataset=npz:../shared/data/mnist8k.npz

The paper's Algorithm 1: lambda = 10, n_critic = 5, Adam 1e-4 with beta = (0, 0.9); no batch norm
in the critic (layer norm instead), since the penalty needs per-sample gradients.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.loss = 'wasserstein'
  config.gradient_penalty = 'wgan_gp'
  config.gp_weight = 10.0
  config.n_critic = 5
  config.discriminator.norm = 'layer'
  config.g_optimizer = dict(name='adam', learning_rate=1e-4, b1=0.0, b2=0.9)
  config.d_optimizer = dict(name='adam', learning_rate=1e-4, b1=0.0, b2=0.9)
  return config
