"""InceptionV3 (FID): converting a pytorch-fid state_dict, loading it, and the errors on bad files.

The weights are random, written by the test in pytorch-fid's names and shapes: no torch, no
download. Equality with pytorch-fid's outputs on the real architecture was checked once, outside
CI, with torch (max |difference| below 1e-5 on pool3 features and logits).
"""

import sys

import jax
import numpy as np
import pytest

from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import inception

# sum(p.numel() for p in model.parameters()) of pytorch-fid 0.3.0's FIDInceptionV3 (the network
# fid_inception_v3() builds: torchvision 0.29 inception_v3(num_classes=1008, aux_logits=False) with
# the FIDInceptionA/C/E_1/E_2 blocks), computed once with torch 2.15; batch-norm running statistics
# are buffers, not parameters.
PYTORCH_FID_NUM_PARAMETERS = 23_850_960
# len(model.state_dict()) of the same network: 472 arrays plus 94 num_batches_tracked counters.
PYTORCH_FID_NUM_ARRAYS = 472
PYTORCH_FID_NUM_BATCH_NORMS = 94
# A few shapes written out from pytorch-fid (not derived from this module).
PYTORCH_FID_SOME_SHAPES = {
    'Conv2d_1a_3x3.conv.weight': (32, 3, 3, 3),
    'Conv2d_4a_3x3.bn.running_var': (192,),
    'Mixed_5b.branch_pool.conv.weight': (32, 192, 1, 1),
    'Mixed_6a.branch3x3.conv.weight': (384, 288, 3, 3),
    'Mixed_6e.branch7x7dbl_5.conv.weight': (192, 192, 1, 7),
    'Mixed_7a.branch7x7x3_3.conv.weight': (192, 192, 7, 1),
    'Mixed_7c.branch3x3dbl_3b.conv.weight': (384, 384, 3, 1),
    'Mixed_7c.branch_pool.bn.weight': (192,),
    'fc.weight': (1008, 2048),
    'fc.bias': (1008,),
}


def random_state_dict(seed: int = 0) -> dict[str, np.ndarray]:
  """Random weights in pytorch-fid's names and layouts (OIHW convolutions, [out, in] fc)."""
  rng = np.random.default_rng(seed)
  state_dict = {}
  for name, shape in inception.pytorch_fid_shapes().items():
    if name.endswith('conv.weight'):
      fan_in = shape[1] * shape[2] * shape[3]
      value = rng.normal(0, np.sqrt(2 / fan_in), shape)
    elif name.endswith('running_var'):
      value = rng.uniform(0.5, 2.0, shape)
    elif name.endswith('bn.weight'):
      value = rng.uniform(0.5, 1.5, shape)
    elif name == 'fc.weight':
      value = rng.normal(0, 0.05, shape)
    else:  # Batch-norm biases and running means, fc.bias.
      value = rng.normal(0, 0.2, shape)
    state_dict[name] = value.astype(np.float32)
    if name.endswith('bn.running_var'):  # PyTorch's batch-norm step counter, ignored on import.
      state_dict[name.replace('running_var', 'num_batches_tracked')] = np.array(0, np.int64)
  return state_dict


@pytest.fixture(scope='module')
def state_dict():
  return random_state_dict()


@pytest.fixture(scope='module')
def weights_path(state_dict, tmp_path_factory):
  path = str(tmp_path_factory.mktemp('inception') / 'inception_random.npz')
  features_lib.save_weights(path, inception.convert_pytorch_fid(state_dict), {'source': 'random'})
  return path


@pytest.fixture(scope='module')
def images():
  return np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)


def test_names_and_shapes_are_pytorch_fid_ones(state_dict):
  assert len(state_dict) == PYTORCH_FID_NUM_ARRAYS + PYTORCH_FID_NUM_BATCH_NORMS
  for name, shape in PYTORCH_FID_SOME_SHAPES.items():
    assert state_dict[name].shape == shape, name


def test_parameter_count_equals_pytorch_fid(weights_path):
  variables, _ = features_lib.load_weights(weights_path, 'test')
  assert sum(v.size for v in jax.tree.leaves(variables['params'])) == PYTORCH_FID_NUM_PARAMETERS


def test_converter_transposes_to_flax_layouts(state_dict):
  variables = inception.convert_pytorch_fid(state_dict)
  kernel = variables['params']['Mixed_6e']['branch7x7dbl_5']['conv']['kernel']
  np.testing.assert_array_equal(
      kernel, state_dict['Mixed_6e.branch7x7dbl_5.conv.weight'].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(variables['params']['fc']['kernel'], state_dict['fc.weight'].T)
  np.testing.assert_array_equal(variables['batch_stats']['Mixed_5b']['branch1x1']['bn']['var'],
                                state_dict['Mixed_5b.branch1x1.bn.running_var'])


def test_loaded_network_outputs(weights_path, state_dict, images, tmp_path):
  extractor = inception.load_inception(weights_path, batch_size=2)
  assert extractor.name == ('InceptionV3 (FID weights pt_inception-2015-12-05, pool3 2048-d, '
                            'preprocessing legacy_pytorch)')
  assert (extractor.feature_dim, extractor.num_classes, extractor.batch_size) == (2048, 1008, 2)
  features, logits = (np.asarray(a) for a in extractor.apply(images))
  assert features.shape == (2, 2048) and logits.shape == (2, 1008)
  assert np.isfinite(features).all() and np.isfinite(logits).all()
  assert (features >= 0).all() and features.std() > 0  # Averages of ReLU outputs, not constant.
  assert not np.allclose(logits[0], logits[1])
  # One channel is the same as its three-channel repeat.
  repeated_features, _ = extractor.apply(np.repeat(images, 3, axis=-1))
  np.testing.assert_allclose(repeated_features, features, rtol=1e-5, atol=1e-5)
  # The logits are pool3 @ W without the output bias (the Inception Score's original code and
  # StyleGAN's is50k): shifting fc.bias leaves them; a weight from the file changes them as
  # pool3 @ dW.
  shift = np.linspace(-1, 1, 1008, dtype=np.float32)
  weight_change = np.outer(shift, np.ones(2048, np.float32)) * 1e-3
  changed = dict(state_dict, **{'fc.bias': state_dict['fc.bias'] + shift,
                                'fc.weight': state_dict['fc.weight'] + weight_change})
  changed_path = str(tmp_path / 'changed.npz')
  features_lib.save_weights(changed_path, inception.convert_pytorch_fid(changed), {})
  changed_features, changed_logits = inception.load_inception(changed_path).apply(images)
  np.testing.assert_array_equal(changed_features, features)
  np.testing.assert_allclose(changed_logits - logits, features @ weight_change.T,
                             rtol=1e-3, atol=1e-4)


def test_converter_names_every_problem(state_dict):
  bad = dict(state_dict)
  del bad['Mixed_6e.branch_pool.conv.weight']
  bad['AuxLogits.fc.weight'] = np.zeros((1000, 768), np.float32)
  bad['fc.weight'] = state_dict['fc.weight'].T
  with pytest.raises(ValueError) as error:
    inception.convert_pytorch_fid(bad)
  message = str(error.value)
  assert '1 missing: Mixed_6e.branch_pool.conv.weight' in message
  assert '1 unexpected: AuxLogits.fc.weight' in message
  assert 'fc.weight: (2048, 1008) in the file, (1008, 2048) expected' in message


def test_loader_names_the_bad_variable(state_dict, tmp_path):
  variables = inception.convert_pytorch_fid(state_dict)
  variables['params']['Mixed_5b']['branch1x1']['conv']['kernel'] = np.zeros((1, 1, 192, 63))
  del variables['batch_stats']['Mixed_7c']['branch_pool']['bn']['mean']
  path = str(tmp_path / 'bad.npz')
  features_lib.save_weights(path, variables, {})
  with pytest.raises(ValueError) as error:
    inception.load_inception(path)
  message = str(error.value)
  assert 'batch_stats/Mixed_7c/branch_pool/bn/mean missing' in message
  assert ('params/Mixed_5b/branch1x1/conv/kernel has shape (1, 1, 192, 63), '
          'expected (1, 1, 192, 64)') in message
  with pytest.raises(FileNotFoundError, match='InceptionV3 weights'):
    inception.load_inception(str(tmp_path / 'absent.npz'))


def test_conversion_without_torch_says_what_to_install(monkeypatch, tmp_path):
  monkeypatch.setitem(sys.modules, 'torch', None)  # `import torch` fails.
  with pytest.raises(SystemExit, match='pip install torch'):
    inception.convert_file(str(tmp_path / 'in.pth'), str(tmp_path / 'out.npz'))



def test_evaluate_loads_converted_weights_by_kind(state_dict, tmp_path):
  path = str(tmp_path / 'inception_fid.npz')
  features_lib.save_weights(path, inception.convert_pytorch_fid(state_dict),
                            {'kind': inception.KIND})
  assert features_lib.load_extractor(path).feature_dim == 2048
