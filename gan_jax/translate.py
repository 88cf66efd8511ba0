"""python -m gan_jax.translate --workdir=DIR --input=FILE.npz --output=FILE.npz [--direction=AB|BA]
                             [--make_task_input]

Translates the `images` of an npz file (uint8 [N, H, W] or [N, H, W, C], as npz datasets) with the
latest checkpoint of a pix2pix or CycleGAN workdir: G (pix2pix) or G_AB / G_BA (CycleGAN, by
--direction). Writes `images` (the translations, uint8) and `inputs` (what G read). Images are
fitted to the run's image_size as in training (super-resolution inputs smaller than it are
bicubic-upsampled, as its training inputs were); grey images are copied to RGB where G reads RGB.

--make_task_input: the file holds full images of an offline task, and G's inputs are made from
them as in training (superres: box-downsampled and bicubic-upsampled; inpaint: the square of
record i hidden; colour_digits: the digit as RGB for AB, colour_invert of it for BA); the images
themselves are written as `truth` and the task's error, beside its baseline, is printed.
Also usable from Python: `load_translation(workdir)` and `translate_images(...)`.
"""


import jax
import numpy as np
from absl import app, flags

from gan_jax import checkpointing
from gan_jax import cli
from gan_jax import errors
from gan_jax import runs
from gan_jax import sharding
from gan_jax.data import pipeline
from gan_jax.data import sources
from gan_jax.data import translation as data_lib
from gan_jax.evaluation import translation as metrics_lib
from gan_jax.games import translation_game
from gan_jax.games.translation_game import make_translate_fn


def load_translation(workdir: str):
  """(config, Translation, TrainState of the latest checkpoint) of a translation workdir."""
  config, info = runs.read_run_info(workdir)
  if config.task == 'gan':
    raise FileNotFoundError(f'{workdir!r} holds a GAN run; draw its samples with '
                            'python -m gan_jax.sample.')
  translation = translation_game.build_translation(config, info['shape_a'], info['shape_b'])
  checkpointer = checkpointing.Checkpointer(workdir, config.keep_checkpoints, read_only=True)
  if checkpointer.latest_step() is None:
    raise FileNotFoundError(f'No checkpoint in {checkpointer.directory}.')
  template = sharding.create_state(translation.init, jax.random.key(config.seed),
                                   sharding.make_mesh())
  state, _ = checkpointer.restore_latest_good(template, data_iterator=None, move_damaged=False)
  checkpointer.close()
  return config, translation, state


def prepare_inputs(config, images: np.ndarray, channels: int,
                   make_task_input: bool = False, direction: str = 'ab'):
  """uint8 images [N, h, w, c] -> (G's uint8 inputs [N, S, S, channels], the truth or None)."""
  size, t = config.image_size, config.translation
  images = images[..., None] if images.ndim == 3 else images
  if make_task_input:
    if t.data in ('paired', 'unpaired'):
      raise ValueError(f'--make_task_input: translation.data={t.data!r} has no hidden truth; '
                       'the offline tasks are superres, inpaint and colour_digits.')
    truth = np.stack([pipeline.fit_to_size(x, size) for x in images])
    if t.data == 'colour_digits':
      rgb = np.repeat(truth[..., :1], 3, axis=-1)
      coloured = data_lib.colour_invert(truth)
      return (rgb, coloured) if direction == 'ab' else (coloured, rgb)
    inputs = np.stack([data_lib.task_input(config, x, i) for i, x in enumerate(truth)])
    return inputs, truth
  if t.data == 'superres':
    fit = lambda x: (data_lib.upsample_bicubic(x, size) if max(x.shape[:2]) < size
                     else pipeline.fit_to_size(x, size))
  else:
    fit = lambda x: pipeline.fit_to_size(x, size)
  inputs = np.stack([fit(x) for x in images])
  if inputs.shape[-1] != channels:
    if inputs.shape[-1] != 1:
      raise ValueError(f'G reads {channels}-channel images; the input has {inputs.shape[-1]}.')
    inputs = np.repeat(inputs, channels, axis=-1)
  return inputs, None


def translate_images(config, translation, state, images: np.ndarray, direction: str = 'ab',
                     make_task_input: bool = False) -> dict[str, np.ndarray]:
  """{'images': uint8 translations, 'inputs': uint8 inputs[, 'truth'], [the task's errors]}."""
  if translation.kind == 'pix2pix' and direction != 'ab':
    raise ValueError('pix2pix translates one way; use --direction=AB.')
  shape = translation.shape_a if direction == 'ab' else translation.shape_b
  inputs, truth = prepare_inputs(config, images, shape[-1], make_task_input, direction)
  to_float = lambda x: x.astype(np.float32) / 127.5 - 1.0
  outputs = make_translate_fn(translation)(state)(to_float(inputs), direction)
  out = {'images': np.clip(np.round((outputs + 1.0) * 127.5), 0, 255).astype(np.uint8),
         'inputs': inputs}
  if truth is not None:
    out['truth'] = truth
    heldout = {'a': to_float(inputs), 'b': to_float(truth)}
    if config.translation.data == 'superres':
      out['psnr'], out['psnr_bicubic'] = (metrics_lib.psnr(outputs, heldout['b']),
                                          metrics_lib.psnr(heldout['a'], heldout['b']))
    elif config.translation.data == 'inpaint':
      mask = np.stack([data_lib.inpaint_mask(i, config.image_size,
                                             config.translation.inpaint_size, config.seed)
                       for i in range(len(inputs))])
      out['mask_mae'] = metrics_lib.mae(outputs, heldout['b'], mask)
      out['mask_mae_input'] = metrics_lib.mae(heldout['a'], heldout['b'], mask)
    else:
      out['mae'], out['mae_identity'] = (metrics_lib.mae(outputs, heldout['b']),
                                         metrics_lib.mae(heldout['a'], heldout['b']))
  return out


def main(argv):
  del argv
  args = flags.FLAGS
  if not (args.workdir and args.input and args.output):
    cli.fail('--workdir, --input and --output are required.')
  cli.check_output(args.output)
  direction = args.direction.lower()
  if direction not in ('ab', 'ba'):
    cli.fail(f'--direction={args.direction!r}: choose AB or BA.')
  try:
    config, translation, state = load_translation(args.workdir)
    images = sources.load_npz(args.input)['image']
    result = translate_images(config, translation, state, images, direction,
                              args.make_task_input)
  except (FileNotFoundError, ValueError, errors.Error) as e:
    cli.fail(f'{e}')
  arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
  np.savez(args.output, **arrays)
  print(f'Wrote {arrays["images"].shape} translations ({direction.upper()}) from step '
        f'{int(state.step)} to {args.output}.')
  for key, value in result.items():
    if not isinstance(value, np.ndarray):
      print(f'{key} = {value:.4f}')


if __name__ == '__main__':
  flags.DEFINE_string('workdir', None, 'A pix2pix or CycleGAN training workdir.')
  flags.DEFINE_string('input', None, 'An .npz file with `images` (uint8).')
  flags.DEFINE_string('output', None, 'The .npz file to write.')
  flags.DEFINE_string('direction', 'AB', 'CycleGAN: AB (G_AB) or BA (G_BA).')
  flags.DEFINE_bool('make_task_input', False,
                    "Make G's inputs from full images as the offline task does; report the error.")
  app.run(main)
