"""Data sources and the Grain pipeline, the TFDS path included (a dataset built here by TFDS)."""

import os

import jax
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import data
from gan_jax.data import sources
from gan_jax.evaluation import toy2d
from gan_jax.games import gan_game
from gan_jax.games import gan_step
from tests.tfds_builders import GanJaxTestShapes


@pytest.fixture(scope='module')
def tfds_dir(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  GanJaxTestShapes(data_dir=data_dir, file_format='array_record').download_and_prepare()
  return data_dir


def _config(**overrides):
  config = configuration.base_config()
  config.update(overrides)
  return config


def test_tfds_dataset_through_data_source_and_grain(tfds_dir):
  config = _config(dataset='gan_jax_test_shapes', data_dir=tfds_dir, batch_size=16,
                   image_size=32)
  pipeline = data.make_pipeline(config)
  assert pipeline.num_records == 48 and pipeline.data_shape == (32, 32, 1)
  batch = next(pipeline.iterator)
  assert batch['image'].shape == (16, 32, 32, 1) and batch['image'].dtype == np.float32
  assert batch['image'].min() == -1.0 and batch['image'].max() == 1.0
  # 28 -> 32 is padded with the background, so the border is -1 and the squares are intact.
  assert np.all(batch['image'][:, :2] == -1.0)
  sizes = (batch['image'] > 0).sum(axis=(1, 2, 3))
  np.testing.assert_array_equal(sizes, (2 * (4 + 3 * batch['label']))**2)


def test_tfds_split_and_unknown_dataset_errors(tfds_dir):
  with pytest.raises(data.DatasetError, match="has splits .* not 'validation'"):
    sources.load_source('gan_jax_test_shapes', 'validation', tfds_dir)
  with pytest.raises(data.DatasetError, match="neither an offline dataset"):
    sources.load_source('no_such_dataset_abc', 'train', tfds_dir)


def test_tfds_without_network_names_the_offline_choices(tmp_path):
  with pytest.raises(data.DatasetError) as info:
    sources.load_source('mnist', 'train', str(tmp_path))
  message = str(info.value)
  assert 'could not be downloaded' in message and "'ring8', 'grid25', 'digits'" in message
  assert 'tfds build mnist' in message


def test_shuffling_is_seeded_and_epochs_differ():
  config = _config(dataset='digits', batch_size=1797 // 3)
  first = [next(data.make_pipeline(config).iterator)['label'] for _ in range(2)]
  np.testing.assert_array_equal(first[0], first[1])  # Same seed, same order.
  other = next(data.make_pipeline(_config(dataset='digits', batch_size=599, seed=1)).iterator)
  assert not np.array_equal(first[0], other['label'])
  iterator = data.make_pipeline(config).iterator
  epoch0 = np.concatenate([next(iterator)['label'] for _ in range(3)])
  epoch1 = np.concatenate([next(iterator)['label'] for _ in range(3)])
  np.testing.assert_array_equal(np.sort(epoch0), np.sort(epoch1))  # Each record once an epoch,
  assert not np.array_equal(epoch0, epoch1)  # in a new order.


def test_processes_read_disjoint_shards():
  config = _config(dataset='digits', batch_size=64)
  labels = [data.make_pipeline(config, i, 2).iterator for i in range(2)]
  shards = [next(it) for it in labels]
  assert shards[0]['image'].shape == (32, 32, 32, 1)
  assert not np.array_equal(shards[0]['image'], shards[1]['image'])


def test_iterator_state_round_trip():
  config = _config(dataset='ring8', batch_size=8)
  iterator = data.make_pipeline(config).iterator
  next(iterator)
  saved = iterator.get_state()
  expected = next(iterator)['image']
  fresh = data.make_pipeline(config).iterator
  fresh.set_state(saved)
  np.testing.assert_array_equal(next(fresh)['image'], expected)


def test_n_critic_batches_are_read_as_one_plain_batch_and_split_by_the_step():
  """The pipeline yields the records a step reads; the GAN step splits them into n_critic
  batches (record j to D update j mod n_critic)."""
  config = _config(dataset='digits', batch_size=8, n_critic=5)
  batch = next(gan_game.make_pipeline(config).iterator)
  assert batch['image'].shape == (40, 32, 32, 1) and batch['label'].shape == (40,)
  batches = gan_step.critic_batches(batch, config.n_critic)
  assert len(batches) == 5
  assert all(b['image'].shape == (8, 32, 32, 1) and b['label'].shape == (8,) for b in batches)
  np.testing.assert_array_equal(batches[1]['label'], batch['label'][1::5])


def test_npz_dataset(mnist8k_path):
  pipeline = data.make_pipeline(_config(dataset=f'npz:{mnist8k_path}', batch_size=8,
                                        image_size=28))
  batch = next(pipeline.iterator)
  assert pipeline.num_records == 8000 and batch['image'].shape == (8, 28, 28, 1)
  assert set(np.unique(batch['label'])) <= set(range(10))


@pytest.mark.parametrize('arrays,message', [
    ({'pixels': np.zeros((4, 8, 8), np.uint8)}, 'no "images"'),
    ({'images': np.zeros((4, 8, 8), np.float32)}, 'dtype float32; it must be uint8'),
    ({'images': np.zeros((4, 8, 8, 2), np.uint8)}, 'shape \\(4, 8, 8, 2\\)'),
    ({'images': np.zeros((4, 8, 8), np.uint8), 'labels': np.zeros(3, int)}, '"labels" has shape'),
])
def test_bad_npz_files_are_explained(tmp_path, arrays, message):
  path = os.path.join(tmp_path, 'bad.npz')
  np.savez(path, **arrays)
  with pytest.raises(data.DatasetError, match=message):
    sources.load_source(f'npz:{path}')


def test_missing_and_corrupt_npz(tmp_path):
  with pytest.raises(data.DatasetError, match='no file at'):
    sources.load_source(f'npz:{tmp_path}/absent.npz')
  path = tmp_path / 'corrupt.npz'
  path.write_bytes(b'PK\x03\x04 then not a zip file')  # A zip's signature, then garbage.
  with pytest.raises(data.DatasetError, match='cannot be read'):
    sources.load_source(f'npz:{path}')


def test_digits_are_scaled_to_uint8():
  images, labels = sources.digits_images()
  assert images.shape == (1797, 8, 8, 1) and images.dtype == np.uint8 and images.max() == 255
  assert set(labels) == set(range(10))


def test_fit_to_size():
  image = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28, 1)
  padded = data.fit_to_size(image, 32)
  assert padded.shape == (32, 32, 1)
  np.testing.assert_array_equal(padded[2:30, 2:30], image)
  digit = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)  # 8 -> 32: each pixel 4 x 4, sharp.
  np.testing.assert_array_equal(data.fit_to_size(digit, 32),
                                digit.repeat(4, axis=0).repeat(4, axis=1))
  rgb = data.fit_to_size(np.zeros((218, 178, 3), np.uint8), 64)  # celeb_a: crop, then resize.
  assert rgb.shape == (64, 64, 3)


@pytest.mark.parametrize('name', ['ring8', 'grid25'])
def test_mixtures_follow_the_protocol_and_the_mode_counter_agrees(name):
  centers, std = sources.MIXTURES[name]
  points = sources.mixture_points(name, 2500, seed=3)
  perfect = toy2d.mode_statistics(points, name)
  assert perfect['modes_covered'] == len(centers)
  assert perfect['high_quality_fraction'] > 0.99  # 3 sigma holds 98.9% of a 2-D Gaussian.
  collapsed = toy2d.mode_statistics(np.repeat(centers[:1], 2500, axis=0), name)
  assert collapsed['modes_covered'] == 1 and collapsed['high_quality_fraction'] == 1.0
  spread = toy2d.mode_statistics(np.random.default_rng(0).uniform(-5, 5, (2500, 2)), name)
  assert spread['high_quality_fraction'] < 0.05
  assert np.abs(points).max() < (1.1 if name == 'ring8' else 4.5)
  assert jax.numpy.asarray(points).dtype == np.float32
