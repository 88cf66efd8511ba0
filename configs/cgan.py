"""Conditional GAN by concatenation (Mirza & Osindero 2014, arXiv:1411.1784) on DCGAN players.

  python -m gan_jax.main --config=configs/cgan.py --workdir=workdirs/cgan \
      --config.dataset=npz:../shared/data/mnist8k.npz
  python -m gan_jax.sample --workdir=workdirs/cgan --labels=all --num_samples=100 \
      --output=workdirs/cgan/digits.npz
  python -m gan_jax.evaluate --workdir=workdirs/cgan --metrics=label_agreement,fid \
      --features=mnist_cnn.npz

G sees [z, one_hot(y)]; D sees the image with one_hot(y) as ten extra constant channels. Both
players are otherwise the DCGAN of configs/dcgan.py (non-saturating loss, Adam 2e-4, beta1 0.5).
`get_config('projection')` swaps in conditional batch norm in G and a projection discriminator
(Miyato & Koyama 2018) on the same players.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  config = configuration.base_config()
  config.conditioning = configuration.config_arg(__file__, arg, ('concat', 'projection'))
  config.num_classes = 10  # Digits 0-9 (the default 'digits' data and MNIST).
  return config
