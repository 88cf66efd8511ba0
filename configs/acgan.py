"""AC-GAN (Odena, Olah & Shlens 2017, arXiv:1610.09585) on DCGAN players.

  python -m gan_jax.main --config=configs/acgan.py --workdir=workdirs/acgan \
      --config.dataset=npz:../shared/data/mnist8k.npz
  python -m gan_jax.evaluate --workdir=workdirs/acgan --metrics=label_agreement,fid \
      --features=mnist_cnn.npz

G sees [z, one_hot(y)]; D has two heads on the same features, real/fake (L_S) and the class
(L_C). D minimises -L_S - L_C (here: the non-saturating D loss plus the class cross-entropy on
real and generated images), G minimises the non-saturating G loss plus the class cross-entropy of
its samples (config.ac_weight scales both class terms; 1 in the paper).
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.conditioning = 'acgan'
  config.num_classes = 10
  return config
