"""MIX+GAN (Arora, Ge, Liang, Ma & Zhang 2017, arXiv:1703.00573): mixtures of K = 5 generators
and K = 5 discriminators with learned softmax weights and an entropy regulariser (0.1).

  python -m gan_jax.main --config=configs/mixgan.py:grid25 --workdir=workdirs/mixgan_grid25
  python -m gan_jax.main --config=configs/mixgan.py:ring8 --workdir=workdirs/mixgan_ring8
  python -m gan_jax.main --config=configs/mixgan.py:dcgan --workdir=workdirs/mixgan_stacked \
      --config.dataset=stacked:npz:../shared/data/mnist8k.npz --config.image_size=28

`grid25` / `ring8`: the toy MLP recipe of configs/gan_toy2d.py with each component narrowed so
that the mixture has about as many parameters as the single GAN there (G 4x180 vs 4x400, D 3x90
vs 3x200, x5: 1.02x and 1.03x the parameters). `dcgan`: configs/dcgan.py with each component
of width 15 in G (the projection of z, linear in the width, dominates G) and 28 in D (about
64/sqrt(5)), x5: 1.02x and 1.04x the parameters of the width-64 DCGAN. Each D component scores the reals and the samples of every G
component, so a step does about K times the discriminator arithmetic of one GAN of equal size.
"""

import pathlib

from gan_jax import configuration


def get_config(arg: str = ''):
  arg = configuration.config_arg(__file__, arg, ('grid25', 'ring8', 'dcgan'))
  if arg in ('grid25', 'ring8'):
    config = configuration.from_file(pathlib.Path(__file__).with_name('gan_toy2d.py'), arg)
    config.generator.hidden = (180, 180, 180, 180)
    config.discriminator.hidden = (90, 90, 90)
  else:  # dcgan
    config = configuration.base_config()
    config.generator.width = 15
    config.discriminator.width = 28
  config.mixture_components = 5
  config.mixture_entropy = 0.1
  return config
