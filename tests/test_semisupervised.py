"""The semi-supervised GAN: its data (few labelled, the rest unlabelled, a held-out test set), the
K+1-class discriminator and the reported test accuracy."""

import json

import jax
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import data
from gan_jax import models
from gan_jax import train
from tests.helpers import load_config


@pytest.fixture
def indexed_digits(tmp_path):
  """600 'images' whose first pixel is their index (mod 256) and second its index // 256, with
  labels index % 10, so every batch can be traced back to the records it came from."""
  index = np.arange(600)
  images = np.zeros((600, 8, 8), np.uint8)
  images[:, 0, 0], images[:, 0, 1] = index % 256, index // 256
  path = tmp_path / 'indexed.npz'
  np.savez(path, images=images, labels=(index % 10).astype(np.int64))
  return str(path)


def _config(dataset, **overrides):
  settings = dict(dataset=f'npz:{dataset}', image_size=8, batch_size=20, labelled_examples=30,
                  holdout_examples=100)
  config = load_config('semisup.py', **{**settings, **overrides})
  config.generator.hidden = (16,)
  config.discriminator.hidden = (16, 8)
  return config


def _indices(images):
  pixels = np.round((np.asarray(images)[..., 0, 0, 0] + 1) * 127.5).astype(int)
  high = np.round((np.asarray(images)[..., 0, 1, 0] + 1) * 127.5).astype(int)
  return pixels + 256 * high


def test_labelled_unlabelled_and_held_out_records(indexed_digits):
  pipeline = data.make_pipeline(_config(indexed_digits))
  batches = [next(pipeline.iterator) for _ in range(40)]  # 800 draws from 500 training records.
  assert all('label' not in b for b in batches)  # The unlabelled stream carries no labels.
  unlabelled = np.concatenate([_indices(b['image']) for b in batches])
  labelled = np.concatenate([_indices(b['labelled_image']) for b in batches])
  labels = np.concatenate([b['labelled_label'] for b in batches])
  assert unlabelled.max() < 500 and labelled.max() < 500  # The last 100 are held out.
  assert len(set(unlabelled[:500])) == 500  # One pass over every training record.
  assert len(set(labelled)) == 30  # Only the 30 labelled records, 3 of each class ...
  np.testing.assert_array_equal(np.bincount(labels % 10, minlength=10), np.bincount(
      labels, minlength=10))
  assert sorted(np.bincount(np.unique(labelled) % 10)) == [3] * 10
  np.testing.assert_array_equal(labels, labelled % 10)  # ... with their true labels.
  images, held_labels = data.pipeline.holdout_set(_config(indexed_digits))
  np.testing.assert_array_equal(_indices(images[:, None]).ravel(), np.arange(500, 600))
  np.testing.assert_array_equal(held_labels, np.arange(500, 600) % 10)


def test_k_plus_one_discriminator_logit_is_log_sum_exp():
  d = models.build_discriminator({'name': 'mlp', 'hidden': (8,)}, num_classes=4,
                                 conditioning='semi_supervised')
  x = jax.random.normal(jax.random.key(0), (5, 3))
  out = d.apply(d.init(jax.random.key(1), x, None, train=False), x, None)
  logits, class_logits = out.score, out.class_logits
  assert class_logits.shape == (5, 4)
  # D(x) = Z / (Z + 1) with Z = sum exp(l_k): its logit log(D / (1 - D)) is log Z.
  np.testing.assert_allclose(logits, jax.nn.logsumexp(class_logits, axis=-1), rtol=1e-6)


def test_training_reports_test_accuracy(indexed_digits, tmp_path, mnist8k_path):
  config = load_config('semisup.py', dataset=f'npz:{mnist8k_path}', total_steps=40,
                       batch_size=64, checkpoint_every=20, log_every=20, sample_every=40)
  config.generator.hidden = (64,)
  config.discriminator.hidden = (128, 64)
  train.train_and_evaluate(config, str(tmp_path))
  records = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  accuracies = [r['eval/test_accuracy'] for r in records if 'eval/test_accuracy' in r]
  assert len(accuracies) == 2
  assert accuracies[-1] > 0.4  # 40 steps from 100 labels: far above chance (0.1).
  assert any('d_class_accuracy' in r for r in records)


@pytest.mark.parametrize('overrides,key', [
    (dict(labelled_examples=25), 'labelled_examples'),
    (dict(conditioning='concat'), 'conditioning'),
    (dict(loss='hinge'), 'loss'),
    (dict(holdout_examples=-1), 'holdout_examples')])
def test_semi_supervised_configs_are_checked(overrides, key):
  with pytest.raises(configuration.ConfigError, match=key):
    configuration.validate(load_config('semisup.py', **overrides))


def test_holdout_must_leave_training_records(indexed_digits):
  with pytest.raises(configuration.ConfigError, match='hold out fewer'):
    data.make_pipeline(_config(indexed_digits, holdout_examples=590))
