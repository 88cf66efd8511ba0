"""The FID/KID/IS preprocessing modes against the libraries they reproduce.

'clean' is compared with PIL itself. The legacy modes are compared with outputs of PyTorch
(F.interpolate, and the grid_sample resize of NVIDIA's TorchScript Inception) and TensorFlow 1's
resize_bilinear, stored in tests/data/resize_reference.npz by tests/data/make_resize_reference.py
(gan_jax depends on neither library); and with torch directly where it happens to be installed.

Tolerances, on 0..255 values. The weights of F.interpolate and TF1's resize_bilinear are
reproduced bit for bit (both computed in float32; measured: equal), and PIL's (double) to 1e-6,
so those outputs differ only by float32 rounding (measured: below 1e-4). NVIDIA's grid_sample
reaches the same source coordinates through several float32 steps, so its weights differ from
TF1's by up to about 4e-5 (measured: 3.1e-5); between neighbouring pixels up to 255 apart that
moves an output by up to 1e-2, and by about 1e-3 on the random images stored (measured: 8.9e-4).
"""

import pathlib

import jax
import numpy as np
import pytest
from PIL import Image

from gan_jax.evaluation import resize as resize_lib

REFERENCE = pathlib.Path(__file__).resolve().parent / 'data' / 'resize_reference.npz'
# Which mode reproduces each stored reference.
REFERENCE_MODES = {'torch': 'legacy_pytorch', 'nvlabs': 'legacy_tensorflow',
                   'tf1': 'legacy_tensorflow'}
WEIGHT_TOLERANCE = {'torch': 1e-6, 'tf1': 1e-6, 'nvlabs': 1e-4}
IMAGE_TOLERANCE = {'torch': 5e-4, 'tf1': 5e-4, 'nvlabs': 3e-3}
CLEAN_TOLERANCE = 1e-3


@pytest.fixture(scope='module')
def reference():
  with np.load(REFERENCE) as data:
    return {key: data[key] for key in data.files}


def realistic_image(rng, height: int, width: int) -> np.ndarray:
  """uint8 [H, W, 3] with what photographs have: smooth gradients, hard edges, fine texture."""
  y, x = np.mgrid[0:height, 0:width] / max(height, width)
  disc = ((y - 0.45) ** 2 + (x - 0.55) ** 2 < 0.09).astype(float)
  stripes = 0.5 + 0.5 * np.sin(2 * np.pi * x * width / 3.7)
  image = np.stack([200 * x + 40 * disc, 120 + 100 * disc * stripes, 255 * (1 - y) * (1 - disc)],
                   axis=-1)
  image += rng.normal(0, 8, image.shape)
  return np.clip(np.round(image), 0, 255).astype(np.uint8)


def pil_bicubic(image: np.ndarray, size: int) -> np.ndarray:
  """clean-fid's resize: each channel a float32 ('F') PIL image, BICUBIC, clipped to 0..255."""
  channels = []
  for c in range(image.shape[-1]):
    channel = Image.fromarray(np.ascontiguousarray(image[:, :, c], np.float32))
    assert channel.mode == 'F'
    channels.append(np.asarray(channel.resize((size, size), resample=Image.BICUBIC)))
  return np.clip(np.stack(channels, axis=-1), 0, 255)


@pytest.mark.parametrize('height,width,size', [
    (28, 28, 299), (32, 32, 299), (64, 64, 299), (256, 256, 299), (300, 300, 299),
    (512, 512, 299), (37, 50, 299), (320, 200, 299), (512, 512, 64), (300, 300, 100),
    (64, 48, 17)])
def test_clean_matches_pil(height, width, size):
  rng = np.random.default_rng(height * 1000 + width + size)
  images = np.stack([rng.uniform(0, 255, (height, width, 3)),
                     realistic_image(rng, height, width)]).astype(np.float32)
  expected = np.stack([pil_bicubic(image, size) for image in images])
  got = np.asarray(resize_lib.resize(images, size, 'clean'))
  assert got.shape == (2, size, size, 3) and got.dtype == np.float32
  np.testing.assert_allclose(got, expected, rtol=0, atol=CLEAN_TOLERANCE)


def test_clean_weights_are_pils_coefficients():
  """Downsampling widens the bicubic window by the scale (antialiasing); upsampling keeps it 4 taps
  wide; rows sum to 1; a one-dimensional PIL resize of basis images gives the same weights."""
  for in_size, out_size in [(512, 299), (256, 64), (28, 299)]:
    matrix = resize_lib.resize_matrix(in_size, out_size, 'clean')
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-12)
    taps = (matrix != 0).sum(axis=1).max()
    assert taps <= 4 * max(in_size / out_size, 1) + 2
    if in_size > out_size:
      assert taps > 4
    basis = np.eye(in_size, dtype=np.float32)
    pil = np.stack([np.asarray(Image.fromarray(basis[:, [k]]).resize(
        (1, out_size), resample=Image.BICUBIC))[:, 0] for k in range(in_size)], axis=1)
    np.testing.assert_allclose(matrix, pil, rtol=0, atol=1e-6)


def test_legacy_weights_match_references(reference):
  keys = [key for key in reference if key.startswith('matrix/')]
  assert len(keys) >= 3 * 10
  for key in keys:
    _, name, sizes = key.split('/')
    in_size, out_size = map(int, sizes.split('_'))
    matrix = resize_lib.resize_matrix(in_size, out_size, REFERENCE_MODES[name])
    assert matrix.shape == (out_size, in_size) and matrix.dtype == np.float64
    np.testing.assert_allclose(matrix, reference[key], rtol=0, atol=WEIGHT_TOLERANCE[name],
                               err_msg=key)


def test_legacy_images_match_references(reference):
  cases = sorted({key.split('/')[1] for key in reference if key.startswith('image/')})
  assert len(cases) >= 5
  for case in cases:
    images = reference[f'image/{case}/input']
    rows = reference[f'image/{case}/rows']
    height, width = images.shape[1:3]
    size = 299 if case == 'to299' else len(rows)
    for name, mode in REFERENCE_MODES.items():
      expected = reference[f'image/{case}/{name}']
      # The library's own op is the separable product of its own 1-D weights.
      wh = reference[f'matrix/{name}/{height}_{size}']
      ww = reference[f'matrix/{name}/{width}_{size}']
      separable = np.einsum('ia,nabc,jb->nijc', wh, images.astype(np.float64), ww)
      np.testing.assert_allclose(separable[:, rows][:, :, rows], expected, rtol=0, atol=2e-4)
      got = np.asarray(resize_lib.resize(images.astype(np.float32), size, mode))
      np.testing.assert_allclose(got[:, rows][:, :, rows], expected, rtol=0,
                                 atol=IMAGE_TOLERANCE[name], err_msg=f'{case} {name}')


def test_network_inputs_match_references(reference):
  """End to end from real images u / 127.5 - 1: NVIDIA's detector feeds
  (grid_sample(u) - 128) / 128, pytorch-fid 2 * interpolate(u / 255) - 1."""
  images = reference['image/to299/input']
  rows = reference['image/to299/rows']
  generated = images.astype(np.float32) / 127.5 - 1.0
  tf_input = np.asarray(resize_lib.to_network_input(generated, 299, 'legacy_tensorflow'))
  np.testing.assert_allclose(tf_input[:, rows][:, :, rows],
                             (reference['image/to299/nvlabs'] - 128.0) / 128.0,
                             rtol=0, atol=IMAGE_TOLERANCE['nvlabs'] / 128)
  torch_input = np.asarray(resize_lib.to_network_input(generated, 299, 'legacy_pytorch'))
  np.testing.assert_allclose(torch_input[:, rows][:, :, rows],
                             2.0 * (reference['image/to299/torch'] / 255.0) - 1.0,
                             rtol=0, atol=IMAGE_TOLERANCE['torch'] / 127.5)


def test_legacy_pytorch_matches_torch():
  torch = pytest.importorskip('torch')
  functional = torch.nn.functional
  rng = np.random.default_rng(7)
  for height, width, size in [(28, 28, 299), (37, 50, 299), (512, 512, 299), (300, 300, 17)]:
    images = rng.integers(0, 256, (2, height, width, 3)).astype(np.float32)
    expected = functional.interpolate(torch.from_numpy(images).permute(0, 3, 1, 2),
                                      size=(size, size), mode='bilinear', align_corners=False)
    got = np.asarray(resize_lib.resize(images, size, 'legacy_pytorch'))
    np.testing.assert_allclose(got, expected.permute(0, 2, 3, 1).numpy(), rtol=0,
                               atol=IMAGE_TOLERANCE['torch'])


@pytest.mark.parametrize('mode', resize_lib.MODES)
def test_identity_at_equal_size(mode, reference):
  for n in (1, 8, 299):
    np.testing.assert_array_equal(resize_lib.resize_matrix(n, n, mode), np.eye(n))
    # The libraries' own formulas (used for unequal sizes) reduce to the identity too.
    formula = resize_lib._WEIGHTS[mode]  # pylint: disable=protected-access
    np.testing.assert_allclose(formula(n, n), np.eye(n), rtol=0, atol=1e-12)
  images = np.random.default_rng(1).uniform(0, 255, (2, 299, 299, 3)).astype(np.float32)
  np.testing.assert_array_equal(np.asarray(resize_lib.resize(images, 299, mode)), images)
  for name, reference_mode in REFERENCE_MODES.items():
    if reference_mode == mode:
      np.testing.assert_allclose(reference[f'matrix/{name}/299_299'], np.eye(299), atol=1e-4)
  if mode == 'clean':
    pil = Image.fromarray(images[0, :, :, 0])
    np.testing.assert_array_equal(np.asarray(pil.resize((299, 299), Image.BICUBIC)),
                                  images[0, :, :, 0])


def test_quantize_round_trips_uint8_and_floors_like_stylegan2_ada():
  values = np.arange(256, dtype=np.float32)
  np.testing.assert_array_equal(np.asarray(resize_lib.quantize(values / 127.5 - 1.0)), values)
  np.testing.assert_array_equal(np.asarray(resize_lib.quantize(values / np.float64(127.5) - 1)),
                                values)  # float64 images too (cast to float32 first)
  # (img * 127.5 + 128).clamp(0, 255).to(torch.uint8): truncation of non-negatives is floor.
  x = np.random.default_rng(2).uniform(-1.3, 1.3, (4, 5, 6, 3)).astype(np.float32)
  expected = np.floor(np.clip(x * np.float32(127.5) + np.float32(128), 0, 255))
  got = np.asarray(resize_lib.quantize(x))
  assert got.dtype == np.float32
  np.testing.assert_array_equal(got, expected)
  np.testing.assert_array_equal(np.asarray(resize_lib.quantize(np.array([-1, 1, -2, 2, 0]))),
                                [0, 255, 0, 255, 128])


def test_check_mode():
  for mode in resize_lib.MODES:
    resize_lib.check_mode(mode)
  with pytest.raises(ValueError, match=r"'bogus'.*legacy_tensorflow, legacy_pytorch, clean"):
    resize_lib.check_mode('bogus')
  with pytest.raises(ValueError, match='bogus'):
    resize_lib.resize(np.zeros((1, 8, 8, 3)), 16, 'bogus')
  with pytest.raises(ValueError, match='bogus'):
    resize_lib.resize_matrix(8, 16, 'bogus')
  assert tuple(resize_lib.DESCRIPTIONS) == resize_lib.MODES
  for mode, description in resize_lib.DESCRIPTIONS.items():
    assert description.startswith(f'{mode}: uint8, ')


@pytest.mark.parametrize('mode', resize_lib.MODES)
def test_to_network_input_normalisation(mode):
  """Constant images stay constant through every resize; uint8 128 is 0 for the detector's
  (x - 128) / 128 and 128 / 127.5 - 1 for pytorch-fid; channels are left alone."""
  u = np.array([0, 128, 255], np.float32)
  images = np.broadcast_to((u / 127.5 - 1)[:, None, None, None], (3, 20, 31, 1))
  got = np.asarray(jax.jit(lambda x: resize_lib.to_network_input(x, 29, mode))(images))
  assert got.shape == (3, 29, 29, 1) and got.dtype == np.float32
  if mode == 'legacy_pytorch':
    expected = u / 127.5 - 1
    assert expected[1] == pytest.approx(0.5 / 127.5, abs=1e-6)
  else:
    expected = (u - 128) / 128
    assert expected[1] == 0.0
  np.testing.assert_allclose(got, np.broadcast_to(expected[:, None, None, None], got.shape),
                             rtol=0, atol=1e-6)
