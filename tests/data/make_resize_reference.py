"""Writes resize_reference.npz: the legacy resizes as PyTorch and TensorFlow compute them.

gan_jax does not depend on torch or tensorflow, so the outputs are computed once, here, in a
separate environment, and tests/test_resize.py compares gan_jax.evaluation.resize with them:

  python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install numpy torch tensorflow-cpu
  /tmp/refvenv/bin/python tests/data/make_resize_reference.py

(last written with torch 2.14.1+cu130 run on the CPU, tensorflow-cpu 2.21.0 and numpy 2.4.6; the
versions are also stored in the file). Three references, all on 0..255 values in float32:

- 'torch': F.interpolate(mode='bilinear', align_corners=False), pytorch-fid's resize.
- 'nvlabs': the resize inside NVIDIA's TorchScript Inception (inception-2015-12-05.pt, the detector
  of stylegan2-ada-pytorch and clean-fid), written out: theta = identity 2x3 with its translation
  increased by 1/in - 1/out on each axis (out = 299 there), affine_grid(align_corners=False),
  grid_sample(mode='bilinear', padding_mode='border', align_corners=False).
- 'tf1': tf.compat.v1.image.resize_bilinear(align_corners=False) (no half-pixel centres), TTUR's.

Contents, for each reference R:
- 'matrix/R/IN_OUT': the [OUT, IN] 1-D weights, read off the library by resizing IN basis images
  (image k: ones on row k, zeros elsewhere, two columns wide, resized to OUT x 2: the width is
  left alone, so column 0 of the output is column k of the weights).
- 'image/NAME/input' (uint8 [N, H, W, 3]) and 'image/NAME/R' (float32 [N, OUT, OUT, 3]) for a few
  small random images; 'image/NAME/rows' keeps the output indices stored (all of them, or a
  subset of rows and columns for the one upsampled to 299, to keep the file small).
- 'versions': a string naming the library versions.
"""

import pathlib

import numpy as np
import tensorflow as tf
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent / 'resize_reference.npz'

MATRIX_CASES = [(8, 299), (28, 299), (32, 299), (37, 299), (50, 299), (64, 299), (256, 299),
                (300, 299), (512, 299), (299, 299), (8, 29), (28, 17), (37, 29), (50, 29), (64, 23),
                (64, 17), (28, 64), (13, 5)]
# name: (height, width, output size, images).
IMAGE_CASES = {'up8': (8, 8, 29, 1), 'down28': (28, 28, 17, 2), 'nonsquare': (37, 50, 29, 1),
               'down64': (64, 64, 23, 1), 'to299': (8, 8, 299, 1)}
# The rows and columns stored for the 8x8 -> 299 case: both borders and a stride between.
ROWS_299 = np.unique(np.concatenate([np.arange(0, 24), np.arange(24, 275, 11),
                                     np.arange(275, 299)]))


def torch_interpolate(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
  t = torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2)
  y = F.interpolate(t, size=(out_h, out_w), mode='bilinear', align_corners=False)
  return y.permute(0, 2, 3, 1).numpy()


def nvlabs_grid_sample(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
  t = torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2)
  n, c, height, width = t.shape
  theta = torch.eye(2, 3)
  theta[0, 2] += theta[0, 0] / width - theta[0, 0] / out_w
  theta[1, 2] += theta[1, 1] / height - theta[1, 1] / out_h
  grid = F.affine_grid(theta[None].repeat(n, 1, 1), [n, c, out_h, out_w], align_corners=False)
  y = F.grid_sample(t, grid, mode='bilinear', padding_mode='border', align_corners=False)
  return y.permute(0, 2, 3, 1).numpy()


def tf1_resize_bilinear(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
  y = tf.compat.v1.image.resize_bilinear(tf.constant(x.astype(np.float32)), (out_h, out_w),
                                         align_corners=False, half_pixel_centers=False)
  return y.numpy()


REFERENCES = {'torch': torch_interpolate, 'nvlabs': nvlabs_grid_sample,
              'tf1': tf1_resize_bilinear}


def basis_matrix(fn, in_size: int, out_size: int) -> np.ndarray:
  basis = np.zeros((in_size, in_size, 2, 1), np.float32)
  basis[np.arange(in_size), np.arange(in_size)] = 1.0
  return fn(basis, out_size, 2)[:, :, 0, 0].T


def main() -> None:
  rng = np.random.default_rng(20220601)
  arrays = {'versions': np.array(f'torch {torch.__version__}, tensorflow {tf.__version__}, '
                                 f'numpy {np.__version__}')}
  for name, fn in REFERENCES.items():
    for in_size, out_size in MATRIX_CASES:
      arrays[f'matrix/{name}/{in_size}_{out_size}'] = basis_matrix(fn, in_size, out_size)
  for case, (height, width, size, count) in IMAGE_CASES.items():
    images = rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)
    rows = ROWS_299 if size == 299 else np.arange(size)
    arrays[f'image/{case}/input'] = images
    arrays[f'image/{case}/rows'] = rows
    for name, fn in REFERENCES.items():
      arrays[f'image/{case}/{name}'] = fn(images, size, size)[:, rows][:, :, rows]
  np.savez_compressed(OUT, **arrays)
  print(f'wrote {OUT} ({OUT.stat().st_size} bytes): {arrays["versions"]}')


if __name__ == '__main__':
  main()
