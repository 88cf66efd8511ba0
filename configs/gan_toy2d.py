"""The original GAN's MLPs on the 2-D mixtures of VEEGAN / PacGAN: ring8 and grid25.

  python -m gan_jax.main --config=configs/gan_toy2d.py:ring8 --workdir=workdirs/ring8
  python -m gan_jax.main --config=configs/gan_toy2d.py:grid25 --workdir=workdirs/grid25

Samples are scattered over the real data every sample_every steps (workdir/samples/); every
evals.every steps, the number of modes covered, the fraction of high-quality samples (within 3
sigma of a mode) and the reverse KL for 2,500 samples, the protocol of the PacGAN paper. Non-saturating loss, G 4x400 ReLU, D 3x200
LeakyReLU, z in R^2, Adam 1e-3 decayed linearly to 0 over 25,000 steps of batch 256: ~4 minutes
on a 2-core CPU, 8/8 modes (ring8) and 25/25 modes (grid25), see the README.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  arg = configuration.config_arg(__file__, arg, ('ring8', 'grid25'))
  config = configuration.base_config()
  config.dataset = arg
  config.total_steps = 25_000
  config.lr_schedule = 'linear_decay'  # Decaying to 0 settles G onto the modes (fewer bridges).
  config.batch_size = 256
  config.latent_dim = 2
  config.loss = 'non_saturating'
  # No batch norm in G: with it, G spreads mass in rays between the grid25 modes.
  config.generator = dict(name='mlp', hidden=(400, 400, 400, 400), norm='none')
  config.discriminator = dict(name='mlp', hidden=(200, 200, 200), norm='none')
  config.g_optimizer = dict(name='adam', learning_rate=1e-3, b1=0.5, b2=0.999)
  config.d_optimizer = dict(name='adam', learning_rate=1e-3, b1=0.5, b2=0.999)
  config.log_every = 500
  config.checkpoint_every = 5000
  config.sample_every = 5000
  config.num_sample_images = 2500
  config.evals.every = 5000
  config.evals.metrics = 'modes'
  config.evals.num_samples = 2500  # The PacGAN protocol.
  return config
