"""The original GAN (Goodfellow et al. 2014): MLP players, the saturating minimax objective.

  python -m gan_jax.main --config=configs/gan_minimax.py --workdir=workdirs/gan_minimax \
      --config.dataset=npz:../shared/data/mnist8k.npz

G minimises E[log(1 - D(G(z)))] exactly as in the paper's minimax game; its gradient is weak
while D wins, which is why configs/dcgan.py uses the non-saturating loss instead. Images are
treated as flat vectors of 28 x 28 values.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.dataset = 'digits'
  config.image_size = 28
  config.total_steps = 5000
  config.batch_size = 100
  config.latent_dim = 100
  config.loss = 'minimax'
  config.generator = dict(name='mlp', hidden=(256, 512, 1024), norm='batch')
  config.discriminator = dict(name='mlp', hidden=(1024, 512, 256), norm='none')
  config.g_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999)
  config.d_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999)
  return config
