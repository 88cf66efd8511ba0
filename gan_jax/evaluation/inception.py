"""InceptionV3's FID weights, converted from pytorch-fid's PyTorch file to a gan_jax weights file.

The network FID, KID and the Inception Score use (pytorch-fid's FIDInceptionV3 in Flax) and the
loader of converted weights, `load_inception`, are in `inception_net.py`.

Weights: https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/
pt_inception-2015-12-05-6726825d.pth (pytorch-fid's port of TF's 2015-12-05 graph). Convert once:
  pip install torch   # only for this conversion; gan_jax itself does not need torch
  python -m gan_jax.evaluation.inception \
      --input=pt_inception-2015-12-05-6726825d.pth --output=inception_fid.npz
then `--features=inception_fid.npz` (or `load_inception('inception_fid.npz')`) computes the
metrics with it.
"""

import hashlib
import os
import sys
from typing import Any

import flax
import numpy as np
from absl import app, flags

from gan_jax.evaluation import features as features_lib
from gan_jax.evaluation import inception_net

WEIGHTS_URL = ('https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
               'pt_inception-2015-12-05-6726825d.pth')
WEIGHTS_SHA256_PREFIX = '6726825d'  # PyTorch Hub names files by their sha256's first digits.
# Defined with the network; also here for this module's callers.
KIND = inception_net.KIND
WEIGHTS_NAME = inception_net.WEIGHTS_NAME
load_inception = inception_net.load_inception

# Flax variable path (collection, *modules, leaf) <-> pytorch-fid state_dict name.
_LEAF_TO_TORCH = {('params', 'conv', 'kernel'): 'conv.weight',
                  ('params', 'bn', 'scale'): 'bn.weight',
                  ('params', 'bn', 'bias'): 'bn.bias',
                  ('batch_stats', 'bn', 'mean'): 'bn.running_mean',
                  ('batch_stats', 'bn', 'var'): 'bn.running_var',
                  ('params', 'fc', 'kernel'): 'fc.weight',
                  ('params', 'fc', 'bias'): 'fc.bias'}
_IGNORED_TORCH_SUFFIXES = ('.num_batches_tracked',)  # Batch-norm step counters: unused here.


def _torch_name(path: tuple[str, ...]) -> str:
  collection, *modules, layer, leaf = path
  return '.'.join(modules + [_LEAF_TO_TORCH[(collection, layer, leaf)]])


def _torch_shape(path: tuple[str, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
  if path[-1] == 'kernel' and len(shape) == 4:  # HWIO -> OIHW
    return (shape[3], shape[2], shape[0], shape[1])
  if path[-1] == 'kernel':  # Dense [in, out] -> Linear [out, in]
    return (shape[1], shape[0])
  return shape


def pytorch_fid_shapes() -> dict[str, tuple[int, ...]]:
  """The pytorch-fid FIDInceptionV3 state_dict names and shapes this port reads (the batch-norm
  num_batches_tracked counters are accepted and ignored)."""
  return {_torch_name(path): _torch_shape(path, shape)
          for path, shape in inception_net.variable_shapes().items()}


def convert_pytorch_fid(state_dict: dict[str, np.ndarray]) -> dict[str, Any]:
  """pytorch-fid state_dict (name -> array) -> InceptionV3 Flax variables {'params', 'batch_stats'}.

  Raises ValueError listing every missing or unexpected name and every shape mismatch.
  """
  expected = inception_net.variable_shapes()
  by_torch_name = {_torch_name(path): path for path in expected}
  given = {name: np.asarray(value) for name, value in state_dict.items()
           if not name.endswith(_IGNORED_TORCH_SUFFIXES)}
  missing = sorted(set(by_torch_name) - set(given))
  unexpected = sorted(set(given) - set(by_torch_name))
  mismatched = []
  flat = {}
  for name, path in by_torch_name.items():
    if name not in given:
      continue
    value = given[name]
    want = _torch_shape(path, expected[path])
    if value.shape != want:
      mismatched.append(f'{name}: {value.shape} in the file, {want} expected')
      continue
    if path[-1] == 'kernel' and value.ndim == 4:
      value = value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    elif path[-1] == 'kernel':
      value = value.T
    flat[path] = np.ascontiguousarray(value, dtype=np.float32)
  problems = []
  if missing:
    problems.append(f'{len(missing)} missing: {", ".join(missing)}')
  if unexpected:
    problems.append(f'{len(unexpected)} unexpected: {", ".join(unexpected)}')
  if mismatched:
    problems.append(f'{len(mismatched)} with the wrong shape: {"; ".join(mismatched)}')
  if problems:
    raise ValueError('Not a pytorch-fid FIDInceptionV3 state_dict (pt_inception-2015-12-05): '
                     + ' | '.join(problems))
  return flax.traverse_util.unflatten_dict(flat)


def convert_file(input_path: str, output_path: str) -> None:
  """pytorch-fid's .pth (read with torch) -> gan_jax .npz weights file."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    sys.exit('Reading the PyTorch weights needs torch: `pip install torch` (only for this '
             'one-time conversion; gan_jax does not use torch otherwise).')
  with open(input_path, 'rb') as f:
    sha256 = hashlib.sha256(f.read()).hexdigest()
  if not sha256.startswith(WEIGHTS_SHA256_PREFIX):
    print(f'warning: {input_path} is not pytorch-fid\'s {WEIGHTS_NAME} file (sha256 {sha256} does '
          f'not start with {WEIGHTS_SHA256_PREFIX}); converting it anyway.', file=sys.stderr)
  state_dict = torch.load(input_path, map_location='cpu', weights_only=True)
  variables = convert_pytorch_fid(
      {name: tensor.detach().numpy() for name, tensor in state_dict.items()})
  features_lib.save_weights(output_path, variables, {
      'kind': KIND,
      'architecture': 'InceptionV3 (pytorch-fid FIDInceptionV3)',
      'weights': WEIGHTS_NAME,
      'source_file': os.path.basename(input_path),
      'source_sha256': sha256,
      'source_url': WEIGHTS_URL,
      'feature_dim': inception_net.FEATURE_DIM,
      'num_classes': inception_net.NUM_CLASSES})


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  convert_file(flags.FLAGS.input, flags.FLAGS.output)
  print(f'Wrote {flags.FLAGS.output}')


if __name__ == '__main__':
  # Defined here, not at import, so that importing this module adds no flags to other programs.
  flags.DEFINE_string('input', None, 'pt_inception-2015-12-05-6726825d.pth from ' + WEIGHTS_URL)
  flags.DEFINE_string('output', None, 'Where to write the converted .npz weights.')
  flags.mark_flags_as_required(['input', 'output'])
  app.run(main)