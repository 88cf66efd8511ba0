"""Non-saturating GAN with the R1 penalty (Mescheder et al. 2018), DCGAN players.

  python -m gan_jax.main --config=configs/r1.py --workdir=workdirs/r1 \
      --config.dataset=npz:../shared/data/mnist8k.npz

gamma/2 E||grad D(x)||^2 on real data with gamma = 10; no batch norm in D (per-sample gradients).
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.gradient_penalty = 'r1'
  config.gp_weight = 10.0
  config.discriminator.norm = 'none'
  return config
