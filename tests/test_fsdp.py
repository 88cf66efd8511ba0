"""config.param_sharding='fsdp': the state's large arrays split over the 8 fake devices; the same
training as a replicated state (resume included) with less state per device."""

import jax
import numpy as np

from gan_jax import sharding
from gan_jax import train
from tests.helpers import load_config, small


def _config(**overrides):
  return small(load_config('dcgan.py'), log_every=2, checkpoint_every=2, sample_every=100,
               **overrides)


def test_fsdp_trains_like_replicated_with_less_memory_per_device(tmp_path):
  replicated = train.train_and_evaluate(_config(total_steps=4), str(tmp_path / 'replicated'))
  train.train_and_evaluate(_config(total_steps=2, param_sharding='fsdp'), str(tmp_path / 'fsdp'))
  fsdp = train.train_and_evaluate(_config(total_steps=4, param_sharding='fsdp'),
                                  str(tmp_path / 'fsdp'))  # Resumed from step 2, sharded.
  split = [x for x in jax.tree.leaves(fsdp) if sharding.DATA_AXIS in x.sharding.spec]
  assert len(split) > 10 and all(x.addressable_shards[0].data.size * 8 == x.size for x in split)
  assert sharding.bytes_per_device(fsdp) < 0.3 * sharding.bytes_per_device(replicated)
  for a, b in zip(jax.tree.leaves(jax.device_get(replicated)),
                  jax.tree.leaves(jax.device_get(fsdp)), strict=True):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
