"""SNGAN (Miyato et al. 2018, arXiv:1802.05957): ResNet players, spectral normalisation in D, the
hinge loss, n_dis = 5, Adam 2e-4 with beta = (0, 0.9), linear decay; `:projection` adds the
projection discriminator and conditional batch norm in G (Miyato & Koyama 2018).

  python -m gan_jax.main --config=configs/sngan.py --workdir=workdirs/sngan
  python -m gan_jax.main --config=configs/sngan.py:projection --workdir=workdirs/sngan_proj \
      --config.dataset=npz:../shared/data/mnist8k.npz
  # On a CPU (README: 94.4% label agreement at 5,000 steps, about 35 minutes on 2 cores):
  python -m gan_jax.main --config=configs/sngan.py:projection --workdir=workdirs/sngan_proj28 \
      --config.dataset=npz:../shared/data/mnist8k.npz --config.image_size=28 \
      --config.generator.width=32 --config.discriminator.width=32 \
      --config.lr_schedule=constant --config.total_steps=5000
  python -m gan_jax.main --config=configs/sngan.py --workdir=workdirs/sngan64 \
      --config.image_size=64 --config.generator.width=64 --config.discriminator.width=64

The CIFAR-10 setting of the paper (32 px; G width 256, D width 128; batch 64; 50,000 generator
updates) is the default; it is a GPU/TPU-sized run (each generator update is five discriminator
updates). At 64 px the networks are the paper's 64 px ResNets (see gan_jax/models/sngan.py). The
linear decay suits that long schedule; a short run learns its classes faster at a constant rate.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  arg = configuration.config_arg(__file__, arg, ('unconditional', 'projection'))
  config = configuration.base_config()
  config.generator = dict(name='sngan', width=256)
  config.discriminator = dict(name='sngan', width=128)
  config.latent_dim = 128
  config.loss = 'hinge'
  config.n_critic = 5
  config.g_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.0, b2=0.9)
  config.d_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.0, b2=0.9)
  config.lr_schedule = 'linear_decay'
  config.total_steps = 50_000
  config.ema_decay = 0.9999
  config.checkpoint_every = 1000
  config.sample_every = 1000
  if arg == 'projection':
    config.conditioning = 'projection'
    config.num_classes = 10
  return config
