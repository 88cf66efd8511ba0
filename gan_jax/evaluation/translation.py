"""Held-out errors of the image-to-image tasks whose truth is known, each beside its baseline.

All images are float in [-1, 1]; errors are reported on the [0, 1] pixel scale.
  superres       psnr: mean over images of 10 log10(1 / MSE(G(x), y)); psnr_bicubic: the same for
                 the input itself (the bicubic upsampling of the low-resolution image).
  inpaint        mask_mae: mean |G(x) - y| over the hidden square's pixels; mask_mae_mean_fill:
                 the same for the mean training image's pixels there (the mean digit).
  colour_digits  mae_ab: mean |G_AB(a) - colour_invert(a)|, mae_identity: the same for a itself;
                 mae_ba: mean |G_BA(colour_invert(a)) - a|. With a digit classifier:
                 agreement_ab, the fraction of a whose predicted class is that of
                 undo_colour_invert(G_AB(a)), and agreement_identity, that of undo_colour_invert(a).
"""

import numpy as np

from gan_jax.data import translation as data_lib


def mae(x, y, mask=None) -> float:
  """Mean |x - y| on the [0, 1] scale, over the pixels where mask is True (all by default)."""
  error = np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)) / 2.0
  if mask is None:
    return float(error.mean())
  mask = np.broadcast_to(mask, error.shape)
  return float(error[mask].mean())


def psnr(x, y) -> float:
  """Mean over images of the PSNR in dB of x against y on the [0, 1] scale."""
  mse = np.mean(((np.asarray(x, np.float64) - np.asarray(y, np.float64)) / 2.0)**2,
                axis=tuple(range(1, np.ndim(x))))
  return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def _classes(extractor, images) -> np.ndarray:
  return extractor([images])[1].argmax(-1)


def evaluate(data: str, heldout: dict, translate_ab, translate_ba=None, mean_image=None,
             extractor=None) -> dict[str, float]:
  """The task's errors on the held-out set; translate_xy maps a float batch to its translation."""
  a, b = heldout['a'], heldout['b']
  if data == 'superres':
    return {'psnr': psnr(translate_ab(a), b), 'psnr_bicubic': psnr(a, b)}
  if data == 'inpaint':
    fill = np.broadcast_to(mean_image, b.shape)
    return {'mask_mae': mae(translate_ab(a), b, heldout['mask']),
            'mask_mae_mean_fill': mae(fill, b, heldout['mask'])}
  if data == 'colour_digits':
    fake_b = translate_ab(a)
    out = {'mae_ab': mae(fake_b, b), 'mae_identity': mae(a, b), 'mae_ba': mae(translate_ba(b), a)}
    if extractor is not None:
      truth = _classes(extractor, a[..., :1])
      out['agreement_ab'] = float(np.mean(
          _classes(extractor, data_lib.undo_colour_invert(fake_b)) == truth))
      out['agreement_identity'] = float(np.mean(
          _classes(extractor, data_lib.undo_colour_invert(a)) == truth))
    return out
  return {}
