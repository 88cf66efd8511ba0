"""Semi-supervised GAN (Salimans et al. 2016, "Improved Techniques for Training GANs", sec. 5):
a K+1-class discriminator and a feature-matching generator, 100 labelled digits.

  python -m gan_jax.main --config=configs/semisup.py --workdir=workdirs/semisup \
      --config.dataset=npz:../shared/data/mnist8k.npz

The last 1,000 records of the dataset are held out; D's accuracy on them is logged as
eval/test_accuracy at every checkpoint. Of the other records, 100 (10 per digit) keep their
labels; all are used unlabelled. The networks follow the paper's MNIST model: G an MLP 500-500
with batch norm, D an MLP 1000-500-250-250-250 with weight normalisation and Gaussian noise (std
0.6 on the input, i.e. the paper's 0.3 for pixels in [0, 1] rescaled to [-1, 1]; 0.5 on the
hidden layers); Adam 3e-3 / beta1 0.5 decayed linearly, batch 100 labelled + 100 unlabelled.

benchmarks/supervised_baseline.py trains the same D on the same 100 labelled digits alone.
"""

from gan_jax import configuration


def get_config(arg: str = ''):
  configuration.config_arg(__file__, arg)  # Takes no argument.
  config = configuration.base_config()
  config.num_classes = 10
  config.labelled_examples = 100
  config.holdout_examples = 1000
  config.image_size = 28
  config.batch_size = 100
  config.total_steps = 6000
  config.generator = dict(name='mlp', hidden=(500, 500), norm='batch')
  config.discriminator = dict(name='mlp', hidden=(1000, 500, 250, 250, 250), norm='none',
                              input_noise=0.6, hidden_noise=0.5, weight_norm=True)
  config.g_optimizer = dict(name='adam', learning_rate=3e-3, b1=0.5, b2=0.999)
  config.d_optimizer = dict(name='adam', learning_rate=3e-3, b1=0.5, b2=0.999)
  config.lr_schedule = 'linear_decay'
  config.ema_decay = 0.0  # Samples are a by-product here; D is the product.
  config.log_every = 100
  config.checkpoint_every = 1000
  config.sample_every = 1000
  return config
