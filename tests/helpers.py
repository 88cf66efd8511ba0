"""Loading config files the way the command line does."""

import importlib.util
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]


def load_config(name: str, **overrides):
  """configs/FILE.py[:ARG] -> its ConfigDict with overrides applied (nested keys as 'a.b')."""
  path, _, arg = name.partition(':')
  spec = importlib.util.spec_from_file_location('gan_jax_test_config', REPO / 'configs' / path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(arg) if arg else module.get_config()
  for key, value in overrides.items():
    target = config
    *parents, leaf = key.split('.')
    for parent in parents:
      target = target[parent]
    target[leaf] = value
  return config


def small(config, **overrides):
  """The same experiment at a size that runs in seconds (narrow players, small batches)."""
  if config.generator.name == 'dcgan':
    config.generator.width = 8
  else:
    config.generator.hidden = (32, 32)
  if config.discriminator.name == 'dcgan':
    config.discriminator.width = 8
  else:
    config.discriminator.hidden = (32, 32)
  config.image_size = 16 if config.generator.name == 'dcgan' else config.image_size
  config.batch_size = 16
  config.num_sample_images = 16
  config.update(overrides)
  return config
