"""pix2pix and CycleGAN end to end: configs and their checks, the paired and unpaired data (offline
tasks, npz files, TFDS), bitwise-exact resume, held-out errors, grids and gan_jax.translate."""

import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from gan_jax import configuration
from gan_jax import train
from gan_jax import translate as translate_lib
from gan_jax.games import translation_game
from gan_jax.data import sources
from gan_jax.data import translation as data_lib
from gan_jax.evaluation import translation as metrics_lib
from tests.helpers import REPO, load_config
from tests.tfds_builders import GanJaxTestShapes


def _tiny(name, **overrides):
  """A translation config at a size that runs in seconds (sklearn's digits at 16 px)."""
  config = load_config(name)
  config.image_size, config.batch_size, config.holdout_examples = 16, 8, 8
  if config.task == 'pix2pix':
    config.generator.update(width=4, num_downs=2, pad=False)
    config.discriminator.update(width=4, num_layers=1)
  else:
    config.generator.update(width=4, num_blocks=1)
    config.discriminator.update(width=4, num_layers=1)
  config.update(dataset='digits', total_steps=4, checkpoint_every=2, log_every=2, sample_every=2)
  for key, value in overrides.items():
    target, *path = key.split('.')
    (config[target] if path else config)[path[0] if path else target] = value
  return config


def test_translation_configs_validate():
  for name in ('pix2pix.py:superres', 'pix2pix.py:inpaint', 'pix2pix.py:paired',
               'cyclegan.py:digits', 'cyclegan.py:horse2zebra'):
    configuration.validate(load_config(name))


@pytest.mark.parametrize('key, value, message', [
    ('task', 'stargan', "config.task='stargan' is not allowed: choose one of"),
    ('translation.data', 'superres', "translation.data='superres'.*'cyclegan' takes"),
    ('translation.data', 'unpaired', "translation.dataset_b=''.*needs domain B"),
    ('ema_decay', 0.999, "config.ema_decay=0.999.*does not use it; set it to 0.0"),
    ('n_critic', 5, "config.n_critic=5.*does not use it"),
    ('loss', 'hinge', "config.loss='hinge'.*'least_squares'"),
    ('translation.pool_size', -1, 'pool_size=-1'),
    ('generator.norm', 'layer', "generator.norm='layer' is not allowed.*'instance'"),
    ('discriminator.name', 'dcgan', "discriminator.name='dcgan' is unknown.*'patch'"),
    ('dataset', 'ring8', "config.dataset='ring8'.*image dataset"),
])
def test_bad_translation_configs_are_refused(key, value, message):
  config = load_config('cyclegan.py:digits')
  target, *path = key.split('.')
  (config[target] if path else config)[path[0] if path else target] = value
  with pytest.raises(configuration.ConfigError, match=message):
    configuration.validate(config)


def test_superres_factor_and_inpaint_size_must_fit():
  with pytest.raises(configuration.ConfigError, match='superres_factor=3.*divide'):
    configuration.validate(_tiny('pix2pix.py:superres', **{'translation.superres_factor': 3}))
  with pytest.raises(configuration.ConfigError, match='inpaint_size=14.*fit inside'):
    configuration.validate(_tiny('pix2pix.py:inpaint', **{'translation.inpaint_size': 14}))


def test_image_size_the_networks_cannot_take_is_refused_before_compiling():
  config = _tiny('cyclegan.py:digits', image_size=18)  # Not a multiple of 4.
  with pytest.raises(configuration.ConfigError, match=r'image_size=18.*multiples of 4'):
    translation_game.build_translation(config, (18, 18, 3), (18, 18, 3))
  config = _tiny('pix2pix.py:superres', **{'discriminator.num_layers': 4})
  with pytest.raises(configuration.ConfigError, match='num_layers'):
    translation_game.build_translation(config, (16, 16, 1), (16, 16, 1))


def test_offline_tasks_hide_a_known_truth():
  config = _tiny('pix2pix.py:superres')
  heldout = data_lib.heldout_set(config)
  assert heldout['a'].shape == heldout['b'].shape == (8, 16, 16, 1)
  # The input is the bicubic upsampling of the 4 x 4 box averages of the truth.
  truth = np.round((heldout['b'][0] + 1) * 127.5).astype(np.uint8)
  small = truth.reshape(4, 4, 4, 4, 1).mean(axis=(1, 3))
  expected = data_lib.upsample_bicubic(np.round(small).astype(np.uint8), 16)
  np.testing.assert_allclose(heldout['a'][0], expected / 127.5 - 1.0, atol=1e-6)
  assert metrics_lib.psnr(heldout['a'], heldout['b']) < metrics_lib.psnr(heldout['b'],
                                                                         heldout['b'])

  config = _tiny('pix2pix.py:inpaint', holdout_examples=32, **{'translation.inpaint_size': 6})
  heldout = data_lib.heldout_set(config)
  mask = heldout['mask']
  assert mask.shape == (32, 16, 16, 1) and np.all(mask.sum(axis=(1, 2, 3)) == 36)
  assert len({tuple(np.argwhere(m)[0]) for m in mask}) > 5  # Squares in various places.
  np.testing.assert_allclose(heldout['a'][mask], data_lib.GREY / 127.5 - 1.0, atol=1e-6)
  np.testing.assert_array_equal(heldout['a'][~mask], heldout['b'][~mask])

  config = _tiny('cyclegan.py:digits')
  heldout = data_lib.heldout_set(config)
  assert heldout['a'].shape == heldout['b'].shape == (8, 16, 16, 3)
  np.testing.assert_allclose(data_lib.undo_colour_invert(heldout['b']), heldout['a'][..., :1],
                             atol=0.02)
  assert metrics_lib.mae(heldout['a'], heldout['b']) > 0.5  # The identity map is far off.


def test_colour_digits_domains_are_disjoint_halves():
  config = _tiny('cyclegan.py:digits', batch_size=64)
  data = data_lib.make_translation_data(config)
  assert data.shape_a == data.shape_b == (16, 16, 3)
  batch = next(data.iterator)
  a, b = batch['a'], batch['b']
  assert a.dtype == np.float32 and a.min() >= -1 and b.max() <= 1
  assert np.all(a[..., 0] == a[..., 1])  # Grey digits as RGB.
  assert np.mean(b) > 0.3 and np.mean(a) < -0.3  # B: white background; A: black.
  # No image of B is the transform of a training image of A (they come from different halves).
  num_train = 1797 - 8
  source = sources.load_source('digits')
  from gan_jax.data.pipeline import fit_to_size  # pylint: disable=g-import-not-at-top
  first_half = np.stack([fit_to_size(source[i]['image'], 16) for i in range(num_train // 2)])
  coloured = data_lib.colour_invert(first_half).astype(np.float32) / 127.5 - 1.0
  for image in b[:8]:
    assert np.min(np.abs(coloured - image).max(axis=(1, 2, 3))) > 0.01


def test_paired_and_unpaired_npz_files(tmp_path):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (40, 16, 16), np.uint8)
  np.savez(tmp_path / 'pairs.npz', inputs=255 - images, images=images)
  config = _tiny('pix2pix.py:paired', dataset=f'npz:{tmp_path / "pairs.npz"}')
  batch = next(data_lib.make_translation_data(config).iterator)
  np.testing.assert_allclose(batch['a'], -batch['b'], atol=1e-6)  # Pairs stay pairs.
  np.savez(tmp_path / 'bad.npz', images=images)
  with pytest.raises(sources.DatasetError, match='needs `inputs` and `images`'):
    data_lib.make_translation_data(_tiny('pix2pix.py:paired', dataset=f'npz:{tmp_path}/bad.npz'))
  np.savez(tmp_path / 'b.npz', images=np.full((45, 16, 16), 7, np.uint8))
  config = _tiny('cyclegan.py:digits', dataset=f'npz:{tmp_path / "pairs.npz"}', holdout_examples=8,
                 **{'translation.data': 'unpaired',
                    'translation.dataset_b': f'npz:{tmp_path / "b.npz"}'})
  config.generator.update(width=4)
  data = data_lib.make_translation_data(config)
  batch = next(data.iterator)
  assert data.shape_a == data.shape_b == (16, 16, 1)
  assert np.all(batch['b'] == 7 / 127.5 - 1) and not np.all(batch['a'] == batch['a'][0])


def test_unpaired_tfds_splits(tmp_path):
  """Two splits of one TFDS dataset as the two domains (as cycle_gan/horse2zebra's trainA and
  trainB), read through tfds.data_source from a dataset TFDS builds here."""
  data_dir = str(tmp_path)
  GanJaxTestShapes(data_dir=data_dir, file_format='array_record').download_and_prepare()
  config = _tiny('cyclegan.py:digits', dataset='gan_jax_test_shapes', data_dir=data_dir,
                 dataset_split='train', holdout_examples=4,
                 **{'translation.data': 'unpaired', 'translation.dataset_b': 'gan_jax_test_shapes',
                    'translation.split_b': 'test'})
  configuration.validate(config)
  data = data_lib.make_translation_data(config)
  batch = next(data.iterator)
  assert batch['a'].shape == batch['b'].shape == (8, 16, 16, 1)
  heldout = data_lib.heldout_set(config)
  assert heldout['a'].shape == heldout['b'].shape == (4, 16, 16, 1)
  config.translation.split_b = 'nope'
  with pytest.raises(sources.DatasetError, match="not 'nope'"):
    data_lib.make_translation_data(config)


@pytest.mark.parametrize('name', ['cyclegan.py:digits', 'pix2pix.py:inpaint'])
def test_resume_is_bitwise_exact(tmp_path, name):
  """A run to step 4 equals the same run restarted from its step-2 checkpoint (state, pools,
  optimizer states and the data iterator restored); the workdir holds grids and the errors."""
  config = _tiny(name, **({'translation.inpaint_size': 6} if 'inpaint' in name else {}))
  uninterrupted = train.train_and_evaluate(config, str(tmp_path / 'a'))
  shutil.copytree(tmp_path / 'a', tmp_path / 'b')
  shutil.rmtree(tmp_path / 'b' / 'checkpoints' / '4')
  resumed = train.train_and_evaluate(config, str(tmp_path / 'b'))
  assert int(resumed.step) == 4
  for x, y in zip(jax.tree.leaves(jax.device_get(uninterrupted)),
                  jax.tree.leaves(jax.device_get(resumed)), strict=True):
    np.testing.assert_array_equal(x, y)
  if 'cyclegan' in name:
    assert int(uninterrupted.extras['pool_counts']['a']) == 32  # 4 steps of 8 fakes, under the 50 kept.
    # The command line on the same workdir: grey 8 x 8 inputs fitted to 16 x 16 RGB for G_BA.
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8), np.uint8)
    np.savez(tmp_path / 'in.npz', images=images)
    command = [sys.executable, '-m', 'gan_jax.translate', f'--workdir={tmp_path / "a"}',
               f'--input={tmp_path / "in.npz"}', f'--output={tmp_path / "out.npz"}',
               '--direction=BA']
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / 'out.npz') as f:
      assert f['images'].shape == (3, 16, 16, 3) and f['inputs'].shape == (3, 16, 16, 3)
      assert np.all(f['inputs'][..., 0] == f['inputs'][..., 2])
    bad = subprocess.run(command[:-1] + ['--direction=CA'], cwd=REPO, capture_output=True,
                         text=True, check=False)
    assert bad.returncode != 0 and "--direction='CA'" in bad.stderr

  workdir = tmp_path / 'a'
  assert sorted(os.listdir(workdir / 'samples')) == ['step_0000002.png', 'step_0000004.png']
  records = [json.loads(line) for line in open(workdir / 'metrics.jsonl')]
  evals = [r for r in records if any(k.startswith('eval/') for k in r)]
  losses = [r for r in records if 'g_loss' in r]
  assert [r['step'] for r in evals] == [r['step'] for r in losses] == [2, 4]
  expected = ({'eval/mae_ab', 'eval/mae_identity', 'eval/mae_ba'} if 'cyclegan' in name
              else {'eval/mask_mae', 'eval/mask_mae_mean_fill'})
  assert set(evals[0]) == expected | {'step'}
  assert all(np.isfinite(v) for r in records for v in r.values())

  # gan_jax.translate on the same checkpoint, from Python.
  run_config, translation, state = translate_lib.load_translation(str(workdir))
  images = np.random.default_rng(0).integers(0, 256, (5, 16, 16), np.uint8)
  result = translate_lib.translate_images(run_config, translation, state, images,
                                          make_task_input=True)
  assert result['images'].dtype == np.uint8 and result['images'].shape[0] == 5
  if 'cyclegan' in name:  # AB: the digit as RGB in, its colour_invert as the truth.
    np.testing.assert_array_equal(result['inputs'][..., 0], images)
    np.testing.assert_array_equal(result['truth'], data_lib.colour_invert(images[..., None]))
  else:  # Inpainting: the image is the truth, the input hides a square of it.
    np.testing.assert_array_equal(result['truth'][..., 0], images)
  assert 0 <= result['mae' if 'cyclegan' in name else 'mask_mae'] <= 1
