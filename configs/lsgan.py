"""LSGAN (Mao et al. 2017): least-squares loss with a = 0, b = c = 1, DCGAN architecture.

  python -m gan_jax.main --config=configs/lsgan.py --workdir=workdirs/lsgan \
      --config.dataset=npz:../shared/data/mnist8k.npz

Adam 2e-4, beta1 0.5, as in the paper.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.loss = 'least_squares'  # Adam 2e-4, beta1 0.5: the defaults.
  return config
