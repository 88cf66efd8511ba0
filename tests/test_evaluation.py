"""Diagnostics on synthetic cases with known answers, the classifier, the evaluate command line
and periodic evaluation during training."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import train
from gan_jax.data import sources
from gan_jax.evaluation import classifier, diagnostics, latent, toy2d
from gan_jax.evaluation import cas as cas_lib
from gan_jax.evaluation import checks
from gan_jax.evaluation import evaluator as evaluator_lib
from gan_jax.evaluation import reference_stats as stats_lib
from gan_jax.evaluation import features as features_lib
from tests.helpers import load_config, small
from tests.test_train import _run


def _digit_reader(num_classes=10):
  """A stand-in classifier with a known answer: the class is encoded in pixel (0, 0)."""
  def apply(images):
    digit = jnp.clip(jnp.round((images[:, 0, 0, 0] + 1) * 4.5), 0, num_classes - 1)
    logits = 20.0 * jax_one_hot(digit, num_classes)
    return images.reshape(len(images), -1), logits
  return features_lib.FeatureExtractor('digit reader', apply, feature_dim=0,
                                       num_classes=num_classes)


def jax_one_hot(x, n):
  return (x[:, None] == jnp.arange(n)[None, :]).astype(jnp.float32)


def _encode(digits, size=4):
  """digits [N] or [N, 3] -> images whose pixel (0, 0) of each channel reads back as the digit."""
  digits = np.asarray(digits).reshape(len(digits), -1)
  images = np.zeros((len(digits), size, size, digits.shape[1]), np.float32)
  images[:, 0, 0, :] = digits / 4.5 - 1
  return images


@pytest.fixture(scope='module')
def tiny_classifier(tmp_path_factory, mnist8k_path):
  path = str(tmp_path_factory.mktemp('classifier') / 'cnn.npz')
  metadata = classifier.train_classifier(f'npz:{mnist8k_path}', path, steps=40, held_out=500,
                                         log=lambda _: None)
  return path, metadata


def test_classifier_learns_and_loads_as_a_feature_extractor(tiny_classifier, mnist8k_path):
  path, metadata = tiny_classifier
  assert metadata['held_out_accuracy'] > 0.85  # 40 steps (0.93 here); 800 reach 99.3%.
  extractor = features_lib.load_extractor(path)
  images = sources.load_npz(mnist8k_path)['image'][:8].astype(np.float32) / 127.5 - 1
  features, logits = extractor([images])
  assert features.shape == (8, 128) and logits.shape == (8, 10)
  # 32 px inputs (the training pipeline's zero padding of 28 px digits) are cropped back.
  padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1)
  np.testing.assert_allclose(extractor([padded])[1], logits, atol=1e-5)
  with pytest.raises(ValueError, match='stacked_modes'):
    extractor([np.zeros((2, 28, 28, 3), np.float32)])
  # A held-out image is one the classifier never trained on.
  train_idx, test_idx = classifier.split_indices(8000, 500, seed=0)
  assert len(np.intersect1d(train_idx, test_idx)) == 0 and len(test_idx) == 500


def test_weights_files_are_checked(tmp_path, tiny_classifier):
  with pytest.raises(FileNotFoundError):
    features_lib.load_extractor(str(tmp_path / 'missing.npz'))
  variables, metadata = features_lib.load_weights(tiny_classifier[0], 'test')
  variables['params']['Dense_0']['kernel'] = np.zeros((3, 3), np.float32)
  features_lib.save_weights(str(tmp_path / 'bad.npz'), variables, metadata)
  with pytest.raises(ValueError, match='Dense_0/kernel has shape'):
    features_lib.load_extractor(str(tmp_path / 'bad.npz'))
  features_lib.save_weights(str(tmp_path / 'other.npz'), variables, {'kind': 'resnet'})
  with pytest.raises(ValueError, match="kind 'resnet'"):
    features_lib.load_extractor(str(tmp_path / 'other.npz'))


def test_digit_cnn_pooling_has_nn_max_pools_values_and_gradients():
  """relu_max_pool (DigitCNN's pooling, whose gradient XLA:CPU runs faster) equals
  nn.max_pool(nn.relu(x)), ties included: flat background gives equal activations, and the first
  maximum of a window takes the gradient, as in select-and-scatter."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 7, 8, 2)).astype(np.float32)  # 7 rows: the odd one is dropped.
  x[0, :4, :4] = 0.5
  x[1, :2, :2, 0] = [[0.1, 0.7], [0.7, 0.7]]
  x[2, :4, :4] = -0.2
  reference = lambda x: nn.max_pool(nn.relu(x), (2, 2), (2, 2))
  ours, pull_ours = jax.vjp(classifier.relu_max_pool, jnp.asarray(x))
  theirs, pull_theirs = jax.vjp(reference, jnp.asarray(x))
  cotangent = jnp.asarray(rng.normal(size=theirs.shape).astype(np.float32))
  np.testing.assert_array_equal(ours, theirs)
  np.testing.assert_array_equal(pull_ours(cotangent)[0], pull_theirs(cotangent)[0])
  tangent = jnp.asarray(rng.normal(size=x.shape).astype(np.float32))
  np.testing.assert_array_equal(jax.jvp(classifier.relu_max_pool, (x,), (tangent,))[1],
                                jax.jvp(reference, (x,), (tangent,))[1])

def test_stacked_source_stacks_three_labelled_digits(mnist8k_path):
  base = sources.load_source(f'npz:{mnist8k_path}')
  stacked = sources.load_source(f'stacked:npz:{mnist8k_path}')
  assert len(stacked) == sources.STACKED_RECORDS
  record = stacked[123]
  assert record['image'].shape == (28, 28, 3)
  triple = stacked._triples[123]  # pylint: disable=protected-access
  for channel, index in enumerate(triple):
    np.testing.assert_array_equal(record['image'][..., channel], base[index]['image'][..., 0])
  assert record['label'] == sum(int(base[i]['label']) * 10**(2 - c) for c, i in enumerate(triple))
  labels = np.array([r['label'] for r in stacked.__getitems__(range(20000))])
  assert len(np.unique(labels)) > 990  # All 1,000 modes are in the data.
  with pytest.raises(sources.DatasetError, match='one-channel'):
    sources.load_source('stacked:stacked:' + f'npz:{mnist8k_path}')


def test_stacked_modes_perfect_and_collapsed():
  every_mode = np.stack(np.unravel_index(np.arange(26000) % 1000, (10, 10, 10)), axis=1)
  perfect = diagnostics.stacked_mnist_modes(_encode(every_mode), _digit_reader())
  assert perfect['stacked_modes_covered'] == 1000
  assert perfect['stacked_kl'] == pytest.approx(0.0, abs=1e-3)
  assert perfect['stacked_confident_fraction'] == 1.0
  collapsed = diagnostics.stacked_mnist_modes(_encode(np.tile([[3, 1, 4]], (26000, 1))),
                                              _digit_reader())
  assert collapsed['stacked_modes_covered'] == 1
  assert collapsed['stacked_kl'] == pytest.approx(np.log(1000))
  ten = diagnostics.stacked_mnist_modes(_encode(every_mode[:10].repeat(2600, 0)), _digit_reader())
  assert ten['stacked_modes_covered'] == 10 and ten['stacked_kl'] == pytest.approx(np.log(100))


def test_toy_mode_counter_reverse_kl():
  centers, std = sources.MIXTURES['ring8']
  perfect = toy2d.mode_statistics(sources.mixture_points('ring8', 2500, seed=3), 'ring8')
  assert perfect['modes_covered'] == 8 and perfect['reverse_kl'] < 0.01
  two = np.concatenate([np.repeat(centers[:1], 1250, 0), np.repeat(centers[1:2], 1250, 0)])
  stats = toy2d.mode_statistics(two + std * 0.1, 'ring8')
  assert stats['modes_covered'] == 2 and stats['reverse_kl'] == pytest.approx(np.log(4))


def test_birthday_paradox_estimates_the_support():
  rng = np.random.default_rng(0)
  support = rng.standard_normal((100_000, 6, 6, 1)).astype(np.float32)
  real = rng.standard_normal((2000, 6, 6, 1)).astype(np.float32)
  samples = support[rng.integers(0, len(support), 40 * 400)]
  stats, pairs = diagnostics.birthday_paradox(samples, real, batch_size=400)
  # P(duplicate among 400 of 100,000) = 1 - exp(-400 * 399 / 200,000) = 0.55.
  assert 0.3 < stats['birthday_duplicate_rate'] < 0.8
  assert 50_000 < stats['birthday_support_estimate'] < 200_000
  assert pairs.shape == (32, 6, 6, 1)
  np.testing.assert_array_equal(pairs[0], pairs[1])  # The closest pair is a true duplicate.
  distinct, _ = diagnostics.birthday_paradox(rng.standard_normal((4000, 6, 6, 1)), real)
  assert distinct['birthday_duplicate_rate'] == 0 and distinct['birthday_support_bound'] == 1


def test_neural_net_divergence_separates_only_different_distributions():
  rng = np.random.default_rng(0)
  real = np.tanh(rng.standard_normal((1024, 8, 8, 1))).astype(np.float32)
  same = np.tanh(rng.standard_normal((1024, 8, 8, 1))).astype(np.float32)
  different = np.tanh(rng.standard_normal((1024, 8, 8, 1)) + 1.0).astype(np.float32)
  close = diagnostics.neural_net_divergence(real, same, steps=150, batch_size=64)
  far = diagnostics.neural_net_divergence(real, different, steps=150, batch_size=64)
  assert abs(close['nn_accuracy'] - 0.5) < 0.1 and close['nn_divergence'] < 0.1
  assert far['nn_accuracy'] > 0.95 and far['nn_divergence'] > 1.0  # At most log 4 = 1.39.


def test_nearest_training_images_flags_copies():
  rng = np.random.default_rng(0)
  train_images = np.tanh(rng.standard_normal((500, 8, 8, 1)))
  copies, pairs = diagnostics.nearest_training_images(train_images[:100], train_images,
                                                      num_real=200)
  assert copies['memorization_ratio'] == 0 and copies['closest_sample_distance'] == 0
  np.testing.assert_array_equal(pairs[0], pairs[1])
  fresh, _ = diagnostics.nearest_training_images(np.tanh(rng.standard_normal((100, 8, 8, 1))),
                                                 train_images, num_real=200)
  assert 0.8 < fresh['memorization_ratio'] < 1.25


def test_interpolations():
  rng = np.random.default_rng(0)
  z0, z1 = rng.standard_normal((2, 3, 100)).astype(np.float32)
  for method in latent.INTERPOLATIONS:
    path = np.asarray(latent.interpolation_latents(z0, z1, 5, method)).reshape(3, 5, 100)
    np.testing.assert_allclose(path[:, 0], z0, atol=1e-5)
    np.testing.assert_allclose(path[:, -1], z1, atol=1e-5)
  middle = np.asarray(latent.slerp(z0, z0 * 2.0 + 0, 0.5))  # Parallel: falls back to lerp.
  np.testing.assert_allclose(middle, 1.5 * z0, rtol=1e-5)
  unit0, unit1 = z0 / np.linalg.norm(z0, axis=1, keepdims=True), z1 / np.linalg.norm(
      z1, axis=1, keepdims=True)
  np.testing.assert_allclose(np.linalg.norm(latent.slerp(unit0, unit1, 0.3), axis=1), 1, rtol=1e-5)


def test_stroke_arithmetic_on_a_generator_with_known_factors():
  """G(z): class from z[0], stroke thickness from z[1]; the stroke vector must move z[1] only."""
  def generate(z):
    z = np.asarray(z)
    digits = np.clip(np.floor((z[:, 0] + 2.5) * 2), 0, 9)
    images = np.full((len(z), 4, 4, 1), -1.0, np.float32)
    images[:, 0, 0, 0] = digits / 4.5 - 1
    images[:, 1:, :, 0] = np.tanh(z[:, 1])[:, None, None]
    return images
  z = np.random.default_rng(0).standard_normal((20000, 4)).astype(np.float32) * [1.5, 1, 1, 1]
  stats, rows = latent.stroke_arithmetic(generate, z, generate(z), _digit_reader())
  assert stats['arithmetic_class_kept'] >= 0.9 and stats['arithmetic_ink_ratio'] > 1.5
  assert rows.shape == (20, 4, 4, 1)


@pytest.mark.parametrize('evals,message', [
    (dict(every=5, metrics='fid,bogus'), 'Unknown metrics'),
    (dict(every=5, metrics='modes'), 'does not apply'),
    (dict(every=5, metrics='fid'), 'needs a feature extractor'),
    (dict(every=5, metrics='fid', features='/nonexistent.npz'), 'no such file'),
    (dict(every=-1), 'evals.every'),
    (dict(every=5, metrics='fid', num_samples=0), 'evals.num_samples'),
])
def test_evals_config_is_validated(evals, message):
  config = load_config('dcgan.py')
  config.evals.update(evals)
  with pytest.raises(configuration.ConfigError, match=message):
    configuration.validate(config)


def test_periodic_evaluation_and_the_evaluate_command_line(tmp_path, tiny_classifier,
                                                           mnist8k_path):
  workdir = str(tmp_path / 'run')
  config = small(load_config('dcgan.py'), total_steps=4, checkpoint_every=4, sample_every=4,
                 log_every=2, image_size=28, dataset=f'npz:{mnist8k_path}')
  config.evals.update(every=2, metrics='fid,kid,classes,interpolation', features=tiny_classifier[0],
                      num_samples=500, num_reference=1000)
  train.train_and_evaluate(config, workdir)
  records = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  evaluated = [r for r in records if 'eval/fid' in r]
  assert [r['step'] for r in evaluated] == [2, 4]
  assert all(r['eval/fid'] > 0 and r['eval/classes_covered'] >= 1 for r in evaluated)
  assert os.path.isfile(os.path.join(workdir, 'eval', 'step_0000004_interpolation_slerp.png'))

  result = _run('gan_jax.evaluate', f'--workdir={workdir}', f'--features={tiny_classifier[0]}',
                '--metrics=fid,kid,is,pr,dc,classes,birthday,memorization,interpolation',
                '--num_samples=1000', '--num_reference=1000')
  assert 'fid' in result.stdout and 'protocol:' in result.stdout
  report = json.load(open(os.path.join(workdir, 'eval', 'step_0000004.json')))
  assert report['step'] == 4 and report['num_samples'] == 1000
  for key in ('fid', 'kid', 'kid_std', 'is', 'precision', 'recall', 'density', 'coverage',
              'classes_covered', 'birthday_duplicate_rate', 'memorization_ratio'):
    assert np.isfinite(report['values'][key]), key
  assert '1000 generated vs 1000 images of npz:' in report['protocols']['fid']
  assert all(os.path.isfile(p) for p in report['pictures'].values())

  # The same numbers from a sample file (gan_jax.sample's format) with an explicit reference.
  samples_path = str(tmp_path / 'samples.npz')
  _run('gan_jax.sample', f'--workdir={workdir}', '--num_samples=1000', f'--output={samples_path}')
  _run('gan_jax.evaluate', f'--samples={samples_path}', f'--reference=npz:{mnist8k_path}',
       f'--features={tiny_classifier[0]}', '--metrics=fid', '--num_reference=1000',
       f'--output={tmp_path / "from_samples.json"}')
  from_samples = json.load(open(tmp_path / 'from_samples.json'))
  assert from_samples['values']['fid'] == pytest.approx(report['values']['fid'], rel=1e-5)

  # Bad requests fail with a message and exit code, before any work (metrics that need features
  # or do not fit the data: checks.check_request, tested in test_evals_config_is_validated).
  np.savez(tmp_path / 'wrong.npz', images=np.zeros((4, 28, 28)))
  bad = _run('gan_jax.evaluate', f'--samples={tmp_path / "wrong.npz"}', '--reference=digits',
             '--metrics=fid', f'--features={tiny_classifier[0]}', check=False)
  assert bad.returncode != 0 and 'no "samples"' in bad.stderr
  # Grey samples without their channel axis are read as one channel.
  np.savez(tmp_path / 'grey.npz', samples=np.load(samples_path)['samples'][..., 0])
  _run('gan_jax.evaluate', f'--samples={tmp_path / "grey.npz"}', f'--reference=npz:{mnist8k_path}',
       f'--features={tiny_classifier[0]}', '--metrics=fid', '--num_reference=1000',
       f'--output={tmp_path / "grey.json"}')
  assert json.load(open(tmp_path / 'grey.json'))['values']['fid'] == pytest.approx(
      report['values']['fid'], rel=1e-5)
  # An output path that cannot be written and counts that are not positive: before any work.
  bad = _run('gan_jax.evaluate', f'--samples={samples_path}', '--reference=digits',
             '--metrics=fid', f'--output={tmp_path / "missing" / "out.json"}', check=False)
  assert bad.returncode == 2 and 'does not exist; create it first' in bad.stderr
  bad = _run('gan_jax.evaluate', f'--workdir={workdir}', '--num_samples=0', check=False)
  assert bad.returncode != 0 and '--num_samples=0' in bad.stderr and 'Traceback' not in bad.stderr
  # A protocol fixes its sample count: a file with fewer is refused before the reference is read;
  # `stats` takes protocols only.
  bad = _run('gan_jax.evaluate', f'--samples={samples_path}', f'--reference=npz:{mnist8k_path}',
             '--metrics=fid,fid10k_full', f'--features={tiny_classifier[0]}', check=False)
  assert bad.returncode == 2 and 'holds 1,000 samples: fid10k_full needs 10,000' in bad.stderr
  bad = _run('gan_jax.evaluate', 'stats', f'--dataset=npz:{mnist8k_path}', '--protocols=fid',
             f'--features={tiny_classifier[0]}', check=False)
  assert bad.returncode == 2 and "--protocols takes protocols ['fid50k_full'" in bad.stderr


@pytest.mark.parametrize('make,message', [
    (lambda x: x * 127.5 + 127.5, r'images must be in \[-1, 1\] \(they look like pixels in '
     r'\[0, 255\]: use x / 127.5 - 1'),
    (lambda x: (x + 1) / 2, r'look like images in \[0, 1\].*use 2 \* x - 1'),
    (lambda x: np.where(np.arange(len(x))[:, None, None, None] < 10, np.nan, x),
     '10 of 300 samples hold NaN or inf .e.g. sample 0'),
    (lambda x: x[..., 0], r'shape \(300, 8, 8\).*add the channel axis'),
])
def test_sample_files_outside_the_image_range_are_refused(make, message):
  samples = np.tanh(np.random.default_rng(0).standard_normal((300, 8, 8, 1))).astype(np.float32)
  checks.check_samples(samples, points=False, from_file=True)  # Real samples pass.
  with pytest.raises(evaluator_lib.EvaluationError, match=message):
    checks.check_samples(make(samples), points=False, from_file=True)


def test_labels_outside_the_classifier_classes_are_refused():
  with pytest.raises(evaluator_lib.EvaluationError, match='3 labels lie outside 0..9, the classes '
                     'of digit reader .found 0..99.'):
    checks.check_labels(np.array([0, 1, 99, 99, 99, 5]), 6, _digit_reader())


def test_a_failed_periodic_evaluation_is_logged_and_training_goes_on(tmp_path, tiny_classifier,
                                                                     monkeypatch):
  """The evaluation comes after the checkpoint of its step, and its failure is an error record
  in metrics.jsonl, not the end of the run (before: every rerun died at the same step)."""
  def broken(*args, **kwargs):
    raise RuntimeError('a metric that cannot be computed')
  monkeypatch.setattr(evaluator_lib.Evaluator, 'evaluate_stream', broken)
  config = small(load_config('dcgan.py'), total_steps=4, checkpoint_every=2, sample_every=100,
                 log_every=2, image_size=8)
  config.evals.update(every=2, metrics='classes', features=tiny_classifier[0], num_samples=50)
  state = train.train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 4
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '4']
  records = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  errors = [r for r in records if 'error' in r]
  assert [r['step'] for r in errors] == [2, 4]
  assert errors[0]['error'] == 'evaluation failed: RuntimeError: a metric that cannot be computed'


def test_train_classifier_command_line_rejects_unlabelled_data(tmp_path):
  result = _run('gan_jax.evaluate', 'train-classifier', '--data=ring8',
                f'--output={tmp_path / "c.npz"}', check=False)
  assert result.returncode != 0 and 'no labels' in result.stderr


def test_intra_class_fid_compares_each_class_with_its_real_images(tiny_classifier, mnist8k_path):
  dataset = f'npz:{mnist8k_path}'
  evaluation = evaluator_lib.Evaluator(('intra_fid', 'fid'), dataset, tiny_classifier[0],
                                       image_size=28, num_reference=2000)
  images, labels = stats_lib.reference_images(dataset, 'train', '', 28, 2000, seed=1)
  right = evaluation.evaluate(images, labels=labels).values
  wrong = evaluation.evaluate(images, labels=(labels + 1) % 10).values  # The same images.
  assert wrong['fid'] == pytest.approx(right['fid'])  # FID does not see the labels...
  assert wrong['intra_fid'] > 3 * right['intra_fid']  # ...intra-class FID does.
  assert right['intra_fid_worst'] >= right['intra_fid']
  with pytest.raises(evaluator_lib.EvaluationError, match='intra_fid needs the labels'):
    evaluation.evaluate(images)
  with pytest.raises(evaluator_lib.EvaluationError, match=r'class 3 has \d+ real and 0 generated'):
    evaluation.evaluate(images, labels=np.where(labels == 3, 4, labels))


def test_classification_accuracy_score_trains_on_samples_and_tests_on_real(mnist8k_path,
                                                                           monkeypatch):
  """CAS of 'samples' that are real digits: with their own labels as good as the real-data
  classifier beside it; with every label shifted by one, far below chance."""
  monkeypatch.setattr(cas_lib, 'STEPS', 40)
  dataset = f'npz:{mnist8k_path}'
  # Digits fitted to 16 px: a third of the pixels, and still easy to classify.
  samples, labels = stats_lib.reference_images(dataset, 'train', '', 16, 500, seed=1)
  evaluation = evaluator_lib.Evaluator(('cas',), dataset, image_size=16, num_reference=600)
  right = evaluation.evaluate(samples, labels=labels)
  assert right.values['cas'] > 0.7 and right.values['cas_real'] > 0.7
  assert abs(right.values['cas'] - right.values['cas_real']) < 0.1
  assert 'trained for 40 steps on 500 generated samples' in right.protocols['cas']
  shifted = cas_lib.classification_accuracy_score(samples, (labels + 1) % 10, evaluation.reference,
                                                  evaluation.reference_labels)
  assert shifted < 0.05  # It learnt the shifted labels: real digits are then all wrong.
  with pytest.raises(ValueError, match='cas needs a labelled reference'):
    cas_lib.classification_accuracy_score(samples, labels, samples, None)
