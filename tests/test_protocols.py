"""Named protocols, cached and published reference statistics, and streaming feature metrics."""

import dataclasses
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax.evaluation import classifier, checks, metrics, protocols, streaming
from gan_jax.evaluation import evaluator as evaluator_lib
from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import inception
from gan_jax.evaluation import reference_stats as stats_lib

sys.path.insert(0, os.path.dirname(__file__))
from test_inception import random_state_dict  # noqa: E402


def test_the_stylegan_protocols_fix_counts_reference_network_and_preprocessing():
  table = {name: (p.metric, p.num_samples, p.num_reference, p.preprocessing)
           for name, p in protocols.PROTOCOLS.items()}
  assert table['fid50k_full'] == ('fid', 50_000, None, 'legacy_tensorflow')
  assert table['kid50k_full'] == ('kid', 50_000, 1_000_000, 'legacy_tensorflow')
  assert table['pr50k3_full'] == ('pr', 50_000, 200_000, 'legacy_tensorflow')
  assert table['is50k'][:2] == ('is', 50_000)
  assert table['fid10k_full'] == ('fid', 10_000, None, 'legacy_tensorflow')
  line = protocols.get('fid50k_full').describe('8,000 images of digits (train)',
                                               'legacy_tensorflow')
  assert '50,000 generated vs 8,000 images' in line and 'TF1 bilinear' in line
  assert 'StyleGAN2-ADA' in line and 'not comparable' not in line
  assert 'not comparable' in protocols.get('fid50k_full').describe('x', 'clean')
  assert 'VGG16' in protocols.get('pr50k3_full').describe('x', 'legacy_tensorflow')
  assert protocols.get('kid50k_full').value_names() == ('kid50k_full', 'kid50k_full_std')
  assert protocols.reference_count([protocols.get('fid50k_full'), protocols.get('fid10k')],
                                   8000) == 8000
  with pytest.raises(ValueError, match="Unknown protocol 'fid5k'.*fid50k_full"):
    protocols.get('fid5k')
  assert checks.parse_metrics('fid,fid50k_full') == ('fid', 'fid50k_full')
  with pytest.raises(errors.EvaluationError, match='defined on InceptionV3'):
    checks.check_request(('fid50k_full',), 'digits', '')


def test_streamed_moments_and_kept_arrays_equal_the_whole_set():
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (1100, 4, 4, 1)).astype(np.float32)
  extractor = features_lib.FeatureExtractor(
      'flatten', lambda x: (x.reshape(len(x), -1) * 3 + 5, x.reshape(len(x), -1)[:, :3]), 16, 3)
  flat = (images.reshape(len(images), -1) * 3 + 5).astype(np.float64)  # As the network.
  lines = []
  collected = streaming.collect(
      streaming.array_chunks(images, chunk=300), 1000, extractor, moment_prefixes=[1000, 250],
      keep_features=400, keep_logits=0, keep_images=0,
      progress=streaming.Progress('samples', 1000, lines.append))
  assert collected.count == 1000 and collected.images is None and collected.logits is None
  for prefix in (1000, 250):
    mean, cov = collected.moments[prefix]
    np.testing.assert_allclose(mean, flat[:prefix].mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(flat[:prefix], rowvar=False), rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(collected.features, flat[:400].astype(np.float32), rtol=1e-6)
  assert lines[-1].startswith('samples: 1,000/1,000 (100%)') and 'ETA 0 s' in lines[-1]


def test_blocked_neighbourhood_metrics_equal_the_whole_matrix(monkeypatch):
  rng = np.random.default_rng(1)
  real, fake = rng.normal(size=(300, 8)), rng.normal(0.3, 1.2, size=(200, 8))
  distances = np.sqrt(((real[:, None] - fake[None]) ** 2).sum(-1))
  radius = lambda x, k: np.sort(np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1)), axis=1)[:, k]
  real3, fake3, real5 = radius(real, 3), radius(fake, 3), radius(real, 5)
  expected = ((distances <= real3[:, None]).any(0).mean(), (distances <= fake3[None]).any(1).mean(),
              (distances < real5[:, None]).sum() / (5 * len(fake)),
              (distances.min(1) < real5).mean())
  monkeypatch.setattr(metrics, '_BLOCK_BYTES', 8 * 300 * 7)  # Blocks of 7 rows.
  got = metrics.precision_recall(real, fake, k=3) + metrics.density_coverage(real, fake, k=5)
  np.testing.assert_allclose(got, expected, rtol=1e-12)


def write_digits(folder, count: int) -> str:
  """A small labelled npz dataset in a folder of its own (the cache goes beside it)."""
  path = folder / f'digits{count}.npz'
  images, labels = stats_lib.sources.digits_images()
  np.savez(path, images=images[:count, :, :, 0], labels=labels[:count])
  return f'npz:{path}'


@pytest.fixture(scope='module')
def digits_npz(tmp_path_factory):
  return write_digits(tmp_path_factory.mktemp('data'), 40)


def random_classifier():
  model = classifier.DigitCNN(num_classes=10, feature_dim=16)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
  metadata = {'architecture': 'DigitCNN', 'num_classes': 10, 'feature_dim': 16,
              'image_shape': [8, 8, 1], 'held_out_accuracy': 0.0}
  return classifier.extractor_from_weights(variables, metadata, 'random')


def test_cached_statistics_equal_recomputed_ones_and_published_files_load(digits_npz, tmp_path):
  extractor = random_classifier()
  fid = [dataclasses.replace(protocols.get('fid10k'), num_reference=30),
         dataclasses.replace(protocols.get('kid50k_full'))]
  computed = stats_lib.compute(fid, digits_npz, 'train', '', 8, extractor, log=None)
  assert computed['fid10k'].count == 30 and computed['kid50k_full'].count == 40
  assert computed['fid10k'].features is None and computed['kid50k_full'].features.shape == (40, 16)
  path = str(tmp_path / 'stats.npz')
  stats_lib.save(path, computed['kid50k_full'])
  cached = stats_lib.load(path)
  np.testing.assert_array_equal(cached.mean, computed['kid50k_full'].mean)
  np.testing.assert_array_equal(cached.covariance, computed['kid50k_full'].covariance)
  samples = np.random.default_rng(2).uniform(-1, 1, (40, 8, 8, 1)).astype(np.float32)
  fake = metrics.moments(extractor([samples])[0])
  assert metrics.frechet_distance(cached.mean, cached.covariance, *fake) == \
      metrics.frechet_distance(computed['kid50k_full'].mean, computed['kid50k_full'].covariance,
                               *fake)
  assert 'cached in stats.npz' in cached.description
  # pytorch-fid / TTUR / clean-fid layouts: mu and sigma, or clean-fid's KID features.
  mean, cov = computed['kid50k_full'].mean, computed['kid50k_full'].covariance
  np.savez(tmp_path / 'fid_stats.npz', mu=mean, sigma=cov)
  published = stats_lib.load(str(tmp_path / 'fid_stats.npz'))
  assert published.features is None and 'its maker' in published.description
  self_fid = metrics.frechet_distance(published.mean, published.covariance, published.mean,
                                      published.covariance)
  assert abs(self_fid) < 1e-6 * np.trace(cov)  # 0 up to the eigensolver (3e-9 relative here).
  np.savez(tmp_path / 'kid_stats.npz', feats=computed['kid50k_full'].features)
  np.testing.assert_allclose(stats_lib.load(str(tmp_path / 'kid_stats.npz')).covariance, cov,
                             rtol=1e-5, atol=1e-8)
  np.savez(tmp_path / 'other.npz', images=np.zeros((2, 3)))
  with pytest.raises(errors.EvaluationError, match=r"holds \['images'\].*`mu` and `sigma`"):
    stats_lib.load(str(tmp_path / 'other.npz'))


@pytest.fixture(scope='module')
def inception_path(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('inception') / 'inception_random.npz')
  features_lib.save_weights(path, inception.convert_pytorch_fid(random_state_dict()),
                            {'kind': inception.KIND})
  return path


def test_a_protocol_is_computed_cached_beside_the_data_and_reused(inception_path, monkeypatch,
                                                                  tmp_path):
  """fid10k_full at 4 samples and is50k at 10 (their counts shrunk; everything else theirs) on
  random InceptionV3 weights, against 4 digits: the first evaluation caches the reference beside
  the npz, the second reads it and gives the same FID, and so does a published-format file."""
  (tmp_path / 'data').mkdir()
  digits_npz = write_digits(tmp_path / 'data', 4)
  for name, count in (('fid10k_full', 4), ('is50k', 10)):
    monkeypatch.setitem(protocols.PROTOCOLS, name,
                        dataclasses.replace(protocols.PROTOCOLS[name], num_samples=count))
  digits_dir = os.path.dirname(digits_npz[len('npz:'):])
  samples = np.random.default_rng(3).uniform(-1, 1, (10, 8, 8, 1)).astype(np.float32)
  lines = []
  first = evaluator_lib.Evaluator(('fid10k_full', 'is50k'), digits_npz, inception_path,
                                  image_size=8, log=lines.append).evaluate(samples)
  cached = [f for f in os.listdir(digits_dir) if f.endswith('.stats.npz')]
  assert cached == [f'digits4.train.8px.fid10k_full.legacy_tensorflow.'
                    f'{stats_lib.file_digest(inception_path)}.stats.npz']
  assert 'reference features' in lines[0] and 'cached the reference' in '\n'.join(lines)
  assert set(first.values) == {'fid10k_full', 'is50k', 'is50k_std'}
  assert '4 generated vs 4 images of' in first.protocols['fid10k_full']
  assert 'legacy_tensorflow' in first.protocols['fid10k_full']
  assert first.protocols['is50k'].startswith('is50k: IS, 10 splits, logits without')
  lines.clear()
  second = evaluator_lib.Evaluator(('fid10k_full',), digits_npz, inception_path, image_size=8,
                                   log=lines.append).evaluate(samples[:4])
  assert not any('reference features' in line for line in lines)  # Read from the cache.
  # Equal up to the float32 features of a batch of 4 against those of a batch of 10.
  assert second.values['fid10k_full'] == pytest.approx(first.values['fid10k_full'], rel=1e-5)
  assert f'cached in {cached[0]}' in second.protocols['fid10k_full']
  # The same against a published statistics file of that reference: the same FID.
  published = str(tmp_path / 'published.npz')
  stats = stats_lib.load(os.path.join(digits_dir, cached[0]))
  np.savez(published, mu=stats.mean, sigma=stats.covariance)
  with_file = evaluator_lib.Evaluator(('fid10k_full',), digits_npz, inception_path, image_size=8,
                                      reference_stats=published).evaluate(samples[:4])
  assert with_file.values['fid10k_full'] == second.values['fid10k_full']
  assert 'published.npz' in with_file.protocols['fid10k_full']
  with pytest.raises(errors.EvaluationError, match='10 samples are too few: is50k needs 11'):
    monkeypatch.setitem(protocols.PROTOCOLS, 'is50k',
                        dataclasses.replace(protocols.PROTOCOLS['is50k'], num_samples=11))
    evaluator_lib.Evaluator(('is50k',), digits_npz, inception_path, image_size=8).evaluate(samples)


def test_protocols_refuse_other_networks_and_moment_only_files_for_kid(digits_npz, inception_path,
                                                                       tmp_path):
  """Refused before any feature is computed."""
  model = classifier.DigitCNN(num_classes=10, feature_dim=16)
  path = str(tmp_path / 'cnn.npz')
  features_lib.save_weights(path, model.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1))), {
      'kind': classifier.KIND, 'architecture': 'DigitCNN', 'num_classes': 10, 'feature_dim': 16,
      'image_shape': [8, 8, 1], 'held_out_accuracy': 0.0})
  with pytest.raises(errors.EvaluationError, match='fid10k is defined on InceptionV3 features;'
                     '.* holds a classifier network'):
    evaluator_lib.Evaluator(('fid10k',), digits_npz, path, image_size=8)
  with pytest.raises(errors.EvaluationError, match='cannot be used: preprocessing=.clean'):
    evaluator_lib.Evaluator(('fid',), digits_npz, path, image_size=8, preprocessing='clean')
  np.savez(tmp_path / 'moments.npz', mu=np.zeros(2048), sigma=np.eye(2048))
  with pytest.raises(errors.EvaluationError, match=r"\['kid50k_full'\] need the reference features"):
    evaluator_lib.Evaluator(('kid50k_full',), digits_npz, inception_path, image_size=8,
                            reference_stats=str(tmp_path / 'moments.npz'))
