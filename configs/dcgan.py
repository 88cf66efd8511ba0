"""DCGAN (Radford et al. 2016) with the non-saturating loss (Goodfellow et al. 2014).

  python -m gan_jax.main --config=configs/dcgan.py --workdir=workdirs/dcgan
  python -m gan_jax.main --config=configs/dcgan.py --workdir=workdirs/dcgan_mnist \
      --config.dataset=npz:../shared/data/mnist8k.npz
  python -m gan_jax.main --config=configs/dcgan.py --workdir=workdirs/dcgan_cifar \
      --config.dataset=cifar10 --config.data_dir=~/tensorflow_datasets

The default data, scikit-learn's 8x8 digits resized to 32 px, needs no network. Adam 2e-4,
beta1 0.5, batch 64 as in the paper; one-sided label smoothing with --config.label_smoothing=0.1.

Data-efficient training (README, "Data-efficient training"), e.g. on 800 MNIST digits:
  python -m gan_jax.main --config=configs/dcgan.py:ada --workdir=workdirs/dcgan_ada_800 \
      --config.dataset=npz:../shared/data/mnist8k.npz --config.train_subset=800
  :diffaugment  DiffAugment 'color,translation,cutout' (Zhao et al. 2020)
  :ada          ADA, pipeline blit,geom,color, target 0.6 (Karras et al. 2020)
  :lecam        LeCam, weight 0.3, decay 0.99 (Tseng et al. 2021)
  :ada_lecam    both
  :bcr          balanced consistency regularisation, 10 on reals and on fakes (Zhao et al. 2021)
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  arg = configuration.config_arg(__file__, arg, ('plain', 'diffaugment', 'ada', 'lecam',
                                                 'ada_lecam', 'bcr'))
  # The defaults of base_config() are this experiment: DCGAN players of width 64 at 32 px, the
  # non-saturating loss, Adam 2e-4 / beta1 0.5 for both, batch 64, EMA 0.999, 2,000 steps.
  config = configuration.base_config()
  if arg == 'diffaugment':
    config.augment = 'color,translation,cutout'  # The paper's policy for 10% of the data.
  if arg in ('ada', 'ada_lecam'):
    config.augment = 'ada'  # p from 0, adapted toward r_t = 0.6 (config.ada).
  if arg in ('lecam', 'ada_lecam'):
    config.lecam.weight = 0.3
  if arg == 'bcr':
    config.consistency.real = config.consistency.fake = 10.0
  return config
