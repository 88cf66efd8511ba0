"""CycleGAN (Zhu et al. 2017, arXiv:1703.10593): ResNet-block generators with instance norm,
PatchGAN discriminators, least-squares adversarial loss, cycle loss (lambda 10) and identity loss
(0.5 lambda), history pools of 50 fakes, Adam 2e-4 beta1 0.5, constant then linear decay to 0.

  python -m gan_jax.main --config=configs/cyclegan.py:digits --workdir=workdirs/cyclegan_digits \
      --config.dataset=npz:../shared/data/mnist8k.npz \
      --config.evals.features=classifiers/mnist_cnn.npz
  python -m gan_jax.translate --workdir=workdirs/cyclegan_digits \
      --input=../shared/data/mnist8k.npz --output=coloured.npz --direction=AB
  python -m gan_jax.main --config=configs/cyclegan.py:horse2zebra --workdir=workdirs/horse2zebra

`:digits` (offline): A = digits, B = *other* digits with inverted, coloured strokes; trained
without pairs, measured on 500 held-out digits against the known transform (eval/mae_ab,
eval/agreement_ab with the digit classifier of evals.features; their identity-map baselines
beside them). A small generator for 28 px: width 16, 4 residual blocks at 7 x 7 (64 channels);
34 x 34 PatchGAN (2 layers); batch 16; 2,000 steps. The ablation without the cycle loss:
--config.translation.cycle_weight=0 --config.translation.identity_weight=0.

`:horse2zebra`: the paper's setting on TFDS cycle_gan/horse2zebra (trainA horses, trainB zebras;
prepare it with `tfds build cycle_gan/horse2zebra --file_format=array_record` where there is
network): 256 px, width 64, 9 blocks, 70 x 70 PatchGAN, batch 1, 200 epochs of 1,067 horses
(100 at the constant rate, 100 decaying). A GPU/TPU-sized run.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  arg = configuration.config_arg(__file__, arg, ('digits', 'horse2zebra'))
  config = configuration.base_config()
  config.task = 'cyclegan'
  config.loss = 'least_squares'
  config.ema_decay = 0.0
  config.g_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999)
  config.d_optimizer = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999)
  config.lr_schedule = 'constant_then_linear_decay'
  if arg == 'digits':
    config.translation.data = 'colour_digits'
    config.image_size = 28
    config.batch_size = 16
    config.total_steps = 2000
    config.holdout_examples = 500
    config.generator = dict(name='resnet', width=16, num_blocks=4, norm='instance')
    config.discriminator = dict(name='patch', width=64, num_layers=2, norm='instance')
    config.checkpoint_every = 500
    config.sample_every = 500
  else:
    config.dataset = 'cycle_gan/horse2zebra'
    config.dataset_split = 'trainA'
    config.translation.data = 'unpaired'
    config.translation.dataset_b = 'cycle_gan/horse2zebra'
    config.translation.split_b = 'trainB'
    config.image_size = 256
    config.batch_size = 1
    config.total_steps = 200 * 1067
    config.generator = dict(name='resnet', width=64, num_blocks=9, norm='instance')
    config.discriminator = dict(name='patch', width=64, num_layers=3, norm='instance')
    config.checkpoint_every = 5000
    config.sample_every = 1000
  return config
