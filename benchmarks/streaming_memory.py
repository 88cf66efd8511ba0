"""Memory and time of streaming evaluation: 50,000 samples at 256 px in the memory of one chunk.

  python benchmarks/streaming_memory.py --data=../shared/data/mnist8k.npz
  python benchmarks/streaming_memory.py --data=../shared/data/mnist8k.npz --sizes=500,5000
  python benchmarks/streaming_memory.py --data=../shared/data/mnist8k.npz --inception=random
  python benchmarks/streaming_memory.py --data=../shared/data/mnist8k.npz \
      --inception=inception_fid.npz --inception_images=200

Run it from the repository root. The generator is a DCGAN of configs/dcgan.py at --image_size
(256) with one channel and narrow players (--width, 16), freshly initialised from the config
(random weights: the point is memory and time, not quality; the FID and KID say only that the
path computes them), its batch-norm statistics set by --calibrate_steps train-mode passes so that
the samples differ from one another. Each --sizes entry N is one run in its own process (this
script again, with the hidden --_worker flag, answering one JSON line), so that its peak RSS is
its own: it builds the GAN and its state, builds an Evaluator of plain `fid,kid` with --features
(the digit classifier, which resizes 256 px to its 28 px itself) against --num_reference images
of --data fitted to --image_size, and streams `sample.generate_chunks(..., batch_size=--chunk)`
into `Evaluator.evaluate_stream`, which keeps only the features (KID) and running moments (FID).

The table, in markdown, one row per N:
  all N as float32  the bytes that holding the N samples at once would take (N x H x W x C x 4);
  peak RSS          ru_maxrss of the run's process at its end (Linux: KiB), in MiB;
  before stream     ru_maxrss once the GAN, its state and the Evaluator (with the reference
                    features) are built, i.e. before the first sample;
  RSS chunk 1 / end the resident set (/proc/self/statm) when the second chunk is asked for (the
                    first evaluated; a one-chunk run: its end) and after evaluate_stream: what
                    stays held, so growth with N shows here;
  stream s          wall seconds of evaluate_stream (generation, features, FID and KID), with
                    the first chunk's compilation; samples/s = N / stream s;
  run s             wall seconds of the whole process (imports, setup, reference, stream).
The claim holds when the largest N's peak RSS is within --tolerance of the smallest (one-chunk)
run's. The summary also gives the peak's growth per sample between the two largest N, against
the 256 KiB that each 256 px sample would take if held.

--inception=PATH adds an extrapolation: InceptionV3 (load_inception, legacy_tensorflow resize to
299 px) on --inception_images random 256 px RGB images, timed after one warm-up batch, and the
50,000-image time that rate implies on this machine. PATH is converted FID weights, or `random`
for random weights of the same architecture (the same cost), written to a temporary file.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

EXTRAPOLATE_TO = 50_000


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--data', default='../shared/data/mnist8k.npz',
                      help='The reference images (.npz), relative to the repository root.')
  parser.add_argument('--features', default='classifiers/mnist_cnn.npz',
                      help='The feature network (a classifier weights file).')
  parser.add_argument('--sizes', default='500,5000,50000',
                      help='Comma-separated sample counts N, one run each.')
  parser.add_argument('--chunk', type=int, default=500, help='Samples generated per chunk.')
  parser.add_argument('--image_size', type=int, default=256)
  parser.add_argument('--width', type=int, default=16, help='generator.width (and D\'s).')
  parser.add_argument('--calibrate_steps', type=int, default=40,
                      help="Train-mode passes that set G's batch-norm statistics (0: none).")
  parser.add_argument('--num_reference', type=int, default=2000)
  parser.add_argument('--seed', type=int, default=0, help='Seed of the latent codes.')
  parser.add_argument('--tolerance', type=float, default=0.10,
                      help='The largest N\'s peak RSS may exceed the smallest\'s by this fraction.')
  parser.add_argument('--inception', default='',
                      help='InceptionV3 weights (.npz) or `random`: add the extrapolation rows.')
  parser.add_argument('--inception_images', type=int, default=200,
                      help='Images timed through InceptionV3 (after one warm-up batch; '
                      'rounded up to whole batches).')
  parser.add_argument('--_worker', default='', help=argparse.SUPPRESS)
  return parser.parse_args()


# ---- Workers: each runs in its own process and returns a dict, printed as JSON. ----

def peak_mib():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB.


def current_mib():
  """The resident set now (None where /proc is absent)."""
  try:
    with open('/proc/self/statm') as f:
      return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
  except OSError:
    return None


def log(message):
  print(f'  {message}', file=sys.stderr, flush=True)


def build_generator(args):
  """configs/dcgan.py at args.image_size, one channel, players of args.width; a fresh state, its
  batch-norm running statistics then set from G's own batch statistics (calibrate())."""
  import jax
  from gan_jax import configuration, sharding
  from gan_jax.games import gan_game
  config = configuration.from_file(os.path.join(REPO, 'configs/dcgan.py'))
  config.image_size = args.image_size
  config.generator.width = config.discriminator.width = args.width
  mesh = sharding.make_mesh()
  configuration.validate(config, num_data_shards=mesh.devices.size)
  gan = gan_game.build_gan(config, (args.image_size, args.image_size, 1))
  state = sharding.create_state(gan.init, jax.random.key(config.seed), mesh)
  return gan, calibrate(gan, state, args.calibrate_steps)


def calibrate(gan, state, steps, batch=16):
  """`steps` train-mode passes of G over `batch` codes, keeping the running statistics they
  update (momentum 0.9) and nothing else. A fresh state's running statistics (mean 0, variance
  1) against DCGAN's N(0, 0.02) weights shrink every sample to the same near-zero image
  (|x| < 1e-3), whose features, FID and KID hardly depend on N; calibrated, the samples differ."""
  import jax
  from gan_jax.games.gan import G
  update = jax.jit(lambda state, z: gan.generate(state, z, None, train=True)[1])
  for step in range(steps):
    stats = update(state, gan.noise(jax.random.key(step), batch))
    state = state.replace(players={**state.players,
                                   G: state.players[G].replace(batch_stats=stats)})
  return state


def watched(chunks, shape, rss):
  """The chunks, each checked to be [B, *shape]; rss gets the resident set whenever the next
  chunk is asked for (the previous one evaluated). collect stops asking after the last chunk.
  Holds no chunk while the next is made (that would add one chunk to the peak)."""
  for images, labels in chunks:
    if tuple(images.shape[1:]) != shape:
      raise RuntimeError(f'the generator made {images.shape}, not '
                         f'[B, {", ".join(map(str, shape))}]')
    yield images, labels
    del images, labels
    rss.append(current_mib())


def stream_worker(args, num):
  start = time.perf_counter()
  from gan_jax import sample
  from gan_jax.evaluation import evaluator
  gan, state = build_generator(args)
  shape = (args.image_size, args.image_size, 1)
  ev = evaluator.Evaluator(('fid', 'kid'), f'npz:{args.data}', features_path=args.features,
                           image_size=args.image_size, num_reference=args.num_reference,
                           seed=args.seed, num_samples=num, log=log)
  before = peak_mib()
  rss = []
  stream_start = time.perf_counter()
  result = ev.evaluate_stream(
      watched(sample.generate_chunks(gan, state, num, args.seed, batch_size=args.chunk), shape,
              rss), num)
  stream_s = time.perf_counter() - stream_start
  rss.append(current_mib())  # After the stream; also 'after chunk 1' of a one-chunk run.
  return {'num': num, 'peak_mib': peak_mib(), 'before_mib': before, 'rss_first_mib': rss[0],
          'rss_end_mib': rss[-1], 'stream_s': stream_s, 'run_s': time.perf_counter() - start,
          'values': result.values, 'protocols': result.protocols, 'shape': list(shape)}


def random_inception_weights(path, seed=0):
  """Random weights in pytorch-fid's names and layouts, converted as real ones are (the same
  architecture and cost as the FID weights)."""
  import numpy as np
  from gan_jax.evaluation import features as features_lib
  from gan_jax.evaluation import inception
  rng = np.random.default_rng(seed)
  state_dict = {}
  for name, shape in inception.pytorch_fid_shapes().items():
    if name.endswith('conv.weight'):
      value = rng.normal(0, np.sqrt(2 / (shape[1] * shape[2] * shape[3])), shape)
    elif name.endswith('running_var'):
      value = rng.uniform(0.5, 2.0, shape)
    elif name.endswith('bn.weight'):
      value = rng.uniform(0.5, 1.5, shape)
    elif name == 'fc.weight':
      value = rng.normal(0, 0.05, shape)
    else:
      value = rng.normal(0, 0.2, shape)
    state_dict[name] = value.astype(np.float32)
    if name.endswith('bn.running_var'):
      state_dict[name.replace('running_var', 'num_batches_tracked')] = np.array(0, np.int64)
  features_lib.save_weights(path, inception.convert_pytorch_fid(state_dict),
                            {'kind': inception.KIND, 'source': 'random'})


def inception_worker(args):
  import numpy as np
  from gan_jax.evaluation import inception_net
  with tempfile.TemporaryDirectory() as tmp:
    path = args.inception
    if path == 'random':
      path = os.path.join(tmp, 'inception_random.npz')
      random_inception_weights(path)
    extractor = inception_net.load_inception(path, preprocessing='legacy_tensorflow')
  size, batch = args.image_size, extractor.batch_size
  images = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
  start = time.perf_counter()
  extractor([images])  # Compiles the batch shape.
  warmup_s = time.perf_counter() - start
  batches = -(-args.inception_images // batch)  # Whole batches: the compiled shape.
  start = time.perf_counter()
  for _ in range(batches):
    features, _ = extractor([images])
  seconds, done = time.perf_counter() - start, batches * batch
  return {'images': done, 'seconds': seconds, 'warmup_s': warmup_s, 'batch': batch,
          'feature_dim': int(features.shape[1]), 'name': extractor.name,
          'peak_mib': peak_mib(), 'random': args.inception == 'random'}


def run_worker(args):
  if args._worker == 'inception':
    return inception_worker(args)
  return stream_worker(args, int(args._worker))


# ---- The parent: runs the workers one after another and prints the tables. ----

def measure(spec, args):
  """Runs one worker; a failure becomes {'error': its last line}, so the other rows still print."""
  print(f'measuring {spec} ...', file=sys.stderr, flush=True)
  cmd = [sys.executable, os.path.abspath(__file__), f'--_worker={spec}']
  for key in ('data', 'features', 'chunk', 'image_size', 'width', 'calibrate_steps',
              'num_reference', 'seed', 'inception', 'inception_images'):
    cmd.append(f'--{key}={getattr(args, key)}')
  start = time.perf_counter()
  proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)  # stderr: progress.
  if proc.returncode:
    return {'error': f'exit code {proc.returncode} (its stderr is above)'}
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  result['process_s'] = time.perf_counter() - start
  return result


def fmt(value, spec):
  return '-' if value is None else format(value, spec)


def stream_table(args, rows):
  size = args.image_size
  print(f'\n### Streaming `fid,kid`: DCGAN generator (width {args.width}, random weights) at '
        f'{size} px, 1 channel, chunks of {args.chunk}; features: {args.features}; reference: '
        f'{args.num_reference} images of npz:{args.data}\n')
  print('| N | all N as float32 | peak RSS MiB | before stream MiB | RSS chunk 1 / end MiB | '
        'stream s | samples/s | run s | FID | KID (std) |')
  print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for num, row in rows:
    all_bytes = num * size * size * 4
    if 'error' in row:
      print(f'| {num:,} | {all_bytes / 2**20:,.0f} MiB | FAILED: {row["error"]} |||||||')
      continue
    values = row['values']
    print(f'| {num:,} | {all_bytes / 2**20:,.0f} MiB | {row["peak_mib"]:,.0f} | '
          f'{row["before_mib"]:,.0f} | {fmt(row["rss_first_mib"], ",.0f")} / '
          f'{fmt(row["rss_end_mib"], ",.0f")} | {row["stream_s"]:,.1f} | '
          f'{num / row["stream_s"]:.1f} | {row["run_s"]:,.1f} | {values["fid"]:.2f} | '
          f'{values["kid"]:.3f} ({values["kid_std"]:.3f}) |')
  done = sorted((num, row) for num, row in rows if 'error' not in row)
  if len(done) >= 2:
    (small, first), (large, last) = done[0], done[-1]
    growth = last['peak_mib'] - first['peak_mib']
    holds = growth <= args.tolerance * first['peak_mib']
    print(f'\nPeak RSS, {large:,} vs {small:,} samples: {growth:+,.0f} MiB '
          f'({100 * growth / first["peak_mib"]:+.1f}%), where holding the {large:,} samples would '
          f'take {large * size * size * 4 / 2**20:,.0f} MiB. Claim ({large:,} in the memory of '
          f'one chunk, within {100 * args.tolerance:.0f}%): '
          f'{"holds" if holds else "DOES NOT HOLD"}.')
    if len(done) >= 3:
      (middle, row), per_sample = done[-2], size * size * 4
      slope = (last['peak_mib'] - row['peak_mib']) * 2**20 / (large - middle)
      print(f'Growth per sample from {middle:,} to {large:,}: {slope:,.0f} bytes (a held sample: '
            f'{per_sample:,} bytes; its 128-d float32 features kept for KID: 512 bytes).')
  if done:
    print(f'\nProtocol lines of the {done[-1][0]:,} run:')
    for name, line in done[-1][1]['protocols'].items():
      print(f'- {name}: {line}')


def inception_table(args, row):
  print(f'\n### InceptionV3 at {args.image_size} px RGB (legacy_tensorflow resize to 299): an '
        f'EXTRAPOLATION to {EXTRAPOLATE_TO:,} images from the measured rate\n')
  if 'error' in row:
    print(f'FAILED: {row["error"]}')
    return
  rate = row['images'] / row['seconds']
  print('| weights | images timed | s/image | images/s | warm-up batch s | peak RSS MiB | '
        f'extrapolated {EXTRAPOLATE_TO:,} images |')
  print('| --- | --- | --- | --- | --- | --- | --- |')
  total = EXTRAPOLATE_TO / rate
  print(f'| {"random (same architecture)" if row["random"] else args.inception} | '
        f'{row["images"]} (batches of {row["batch"]}) | {1 / rate:.3f} | {rate:.2f} | '
        f'{row["warmup_s"]:.1f} | {row["peak_mib"]:,.0f} | {total:,.0f} s = '
        f'{total / 3600:.1f} h (features only, extrapolated) |')


def main():
  args = parse_args()
  if args._worker:
    print(json.dumps(run_worker(args)))
    return
  import jax
  load = os.getloadavg()
  sizes = [int(s) for s in args.sizes.split(',') if s]
  rows = [(num, measure(str(num), args)) for num in sizes]
  inception = measure('inception', args) if args.inception else None
  print(f'JAX {jax.__version__} on {jax.default_backend()}, {os.cpu_count()} cores; 1-min load '
        f'average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after')
  stream_table(args, rows)
  if inception is not None:
    inception_table(args, inception)


if __name__ == '__main__':
  main()
