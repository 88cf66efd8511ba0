"""pix2pix (Isola et al. 2017, arXiv:1611.07004): a U-Net G, a PatchGAN D that sees the input
beside the output, BCE + 100 L1, Adam 2e-4 beta1 0.5, constant then linear decay to 0. The two
offline tasks hide a truth, so quality is measured without people (eval/* at every checkpoint):

  python -m gan_jax.main --config=configs/pix2pix.py:superres --workdir=workdirs/pix2pix_superres \
      --config.dataset=npz:../shared/data/mnist8k.npz
  python -m gan_jax.main --config=configs/pix2pix.py:inpaint --workdir=workdirs/pix2pix_inpaint \
      --config.dataset=npz:../shared/data/mnist8k.npz
  python -m gan_jax.translate --workdir=workdirs/pix2pix_superres \
      --input=../shared/data/mnist8k.npz --make_task_input --output=superres.npz

`:superres`: 28 x 28 digits from their 7 x 7 box averages (bicubic-upsampled to 28 x 28 as G's
input, so the input itself is the bicubic baseline). `:inpaint`: a 12 x 12 grey square anywhere in
the digit is filled in. `:paired` trains on an npz of `inputs` and `images`. The networks are the
paper's, narrowed for 28 px (the paper: 256 px, U-Net width 64 with 8 downsamplings, 70 x 70
PatchGAN, batch 1, 200 epochs): U-Net width 32, 5 downsamplings (28 px reflect-padded to 32),
34 x 34 PatchGAN (2 layers), batch 32, 1,500 steps.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  arg = configuration.config_arg(__file__, arg, ('superres', 'inpaint', 'paired'))
  config = configuration.base_config()
  config.task = 'pix2pix'
  config.translation.data = arg
  config.image_size = 28
  config.batch_size = 32
  config.total_steps = 1500
  config.holdout_examples = 500
  config.loss = 'non_saturating'
  config.ema_decay = 0.0
  config.generator = dict(name='unet', width=32, num_downs=5, norm='batch', dropout=0.5, pad=True)
  config.discriminator = dict(name='patch', width=64, num_layers=2, norm='batch')
  config.g_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999)
  config.d_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999)
  config.lr_schedule = 'constant_then_linear_decay'
  config.checkpoint_every = 500
  config.sample_every = 500
  return config
