"""Test setup: 8 fake CPU devices (set before JAX starts) and small shared fixtures."""

import os

os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import pathlib  # pylint: disable=g-import-not-at-top,wrong-import-position

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / 'configs').glob('*.py'))


@pytest.fixture(scope='session')
def mnist8k_path() -> str:
  """../shared/data/mnist8k.npz beside the repo (or $GAN_JAX_MNIST8K): real digits, not copied."""
  path = pathlib.Path(os.environ.get('GAN_JAX_MNIST8K', REPO.parent / 'shared/data/mnist8k.npz'))
  assert path.is_file(), f'{path} is missing: put ../shared beside the repo or set GAN_JAX_MNIST8K.'
  return str(path)
