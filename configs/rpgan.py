"""RpGAN + R1 + R2 (Huang et al. 2024, "The GAN is dead; long live the GAN!", arXiv:2501.05441;
RpGAN: Jolicoeur-Martineau 2019) on the DCGAN players.

  python -m gan_jax.main --config=configs/rpgan.py --workdir=workdirs/rpgan_mnist \
      --config.dataset=npz:../shared/data/mnist8k.npz

The relativistic pairing loss L_D = E softplus(D(G(z)) - D(x)), L_G = E softplus(D(x) - D(G(z)))
with both zero-centred gradient penalties, gamma/2 E||grad D(x)||^2 on the reals (R1) and
gamma/2 E||grad D(G(z))||^2 on the fakes (R2), gamma = 1, computed every 4th D update and scaled
by 4 (lazy regularisation, as StyleGAN2). The DCGAN players and optimizer (Adam 2e-4, beta1 0.5),
except that D has no batch norm (the penalties need per-sample gradients), as in configs/r1.py.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.loss = 'rpgan'
  config.regularizers.r1.weight = config.regularizers.r2.weight = 1.0
  config.regularizers.r1.every = config.regularizers.r2.every = 4
  config.discriminator.norm = 'none'
  config.log_every = 100  # A multiple of `every`: the logged penalties are computed ones.
  return config
