"""DCGAN (Radford et al. 2016) with the non-saturating loss (Goodfellow et al. 2014).

  python -m gan_jax.main --config=configs/dcgan.py --workdir=workdirs/dcgan
  python -m gan_jax.main --config=configs/dcgan.py --workdir=workdirs/dcgan_mnist \
      --config.dataset=npz:../shared/data/mnist8k.npz
  python -m gan_jax.main --config=configs/dcgan.py --workdir=workdirs/dcgan_cifar \
      --config.dataset=cifar10 --config.data_dir=~/tensorflow_datasets

The default data, scikit-learn's 8x8 digits resized to 32 px, needs no network. Adam 2e-4,
beta1 0.5, batch 64 as in the paper; one-sided label smoothing with --config.label_smoothing=0.1.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  # The defaults of base_config() are this experiment: DCGAN players of width 64 at 32 px, the
  # non-saturating loss, Adam 2e-4 / beta1 0.5 for both, batch 64, EMA 0.999, 2,000 steps.
  return configuration.base_config()
