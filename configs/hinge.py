"""Hinge loss (Lim & Ye 2017; Miyato et al. 2018) with TTUR (Heusel et al. 2017), DCGAN players.

  python -m gan_jax.main --config=configs/hinge.py --workdir=workdirs/hinge \
      --config.dataset=npz:../shared/data/mnist8k.npz

Two time-scale update rule: D learns 4x faster than G (4e-4 vs 1e-4), Adam beta = (0, 0.9).
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.loss = 'hinge'
  config.g_optimizer = dict(name='adam', learning_rate=1e-4, b1=0.0, b2=0.9)
  config.d_optimizer = dict(name='adam', learning_rate=4e-4, b1=0.0, b2=0.9)
  return config
