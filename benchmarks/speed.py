"""Speed of gan_jax's train step against the PyTorch reference of benchmarks/torch_reference.py.

  python benchmarks/speed.py                                     # dcgan32, dcgan64 and mlp_toy
  python benchmarks/speed.py --cases=dcgan32,mlp_toy --steps=10
  python benchmarks/speed.py --cases=dcgan32 --cli --cli_steps=60 --cli_log_every=20
  python benchmarks/speed.py --markdown=benchmarks/RESULTS.md    # also a Markdown report

Run it from the repository root. Cases: dcgan32 = configs/dcgan.py (32 px, 1 channel, batch 64),
dcgan64 = the same at 64 px with 3 channels, mlp_toy = configs/gan_toy2d.py (2-D points, batch
256). Each measurement runs alone in its own process (this script again, with the hidden
--_worker flag, answering one JSON line), so that its peak memory is its own and the thread pools
of torch and XLA never compete. --cli adds end-to-end rows: `python -m gan_jax.main` on the --data
images against the torch reference on the same images.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# case: (config file, one sample's shape (H, W, C) or (2,), batch, timed steps per window).
CASES = {'dcgan32': ('configs/dcgan.py', (32, 32, 1), 64, 30),
         'dcgan64': ('configs/dcgan.py', (64, 64, 3), 64, 10),
         'mlp_toy': ('configs/gan_toy2d.py', (2,), 256, 30)}
MATMUL_SIZE, WARMUP_STEPS, WINDOWS = 2048, 3, 3
COLUMNS = ['case', 'implementation', 'compile s', 'GFLOP/step', 'ms/step', 'img/s', 'GFLOP/s',
           '% peak', 'peak MiB', 'JAX / PyTorch', 'notes']


def parse_args():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--cases', default='dcgan32,dcgan64,mlp_toy')
  parser.add_argument('--batch_size', type=int, default=0, help="Overrides every case's batch.")
  parser.add_argument('--steps', type=int, default=0, help='Steps a timed window (30; 10 at 64 px).')
  parser.add_argument('--cli', action='store_true', help='Add end-to-end rows (DCGAN cases).')
  parser.add_argument('--data', default='npz:../shared/data/mnist8k.npz',
                      help='npz dataset of the --cli rows, relative to the repository root.')
  parser.add_argument('--cli_steps', type=int, default=200, help='total_steps of the --cli runs.')
  parser.add_argument('--cli_log_every', type=int, default=50, help='log_every of the --cli runs.')
  parser.add_argument('--markdown', default='', help='Also write a Markdown report to this file.')
  parser.add_argument('--_worker', default='', help=argparse.SUPPRESS)
  return parser.parse_args()


# ---- Workers: each runs in its own process and returns a dict, printed as JSON. ----

def rss_mib():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB.


def time_windows(step, sync, steps, windows=WINDOWS):
  """Seconds per step of each of `windows` windows of `steps` steps, after WARMUP_STEPS steps."""
  for _ in range(WARMUP_STEPS):
    step()
  sync()
  seconds = []
  for _ in range(windows):
    start = time.perf_counter()
    for _ in range(steps):
      step()
    sync()
    seconds.append((time.perf_counter() - start) / steps)
  return seconds


def matmul_gflops(run, sync, repeats=10):
  """Median of `repeats` samples; a sample is several calls when one is short (on a GPU)."""
  sync(run())
  start = time.perf_counter()
  sync(run())
  calls = max(1, int(0.05 / (time.perf_counter() - start)))
  samples = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(calls):
      out = run()
    sync(out)
    samples.append((time.perf_counter() - start) / calls)
  return 2 * MATMUL_SIZE**3 / statistics.median(samples) / 1e9


def jax_setup():
  import flax
  import jax
  import jaxlib
  info = {'jax': jax.__version__, 'jaxlib': jaxlib.__version__, 'flax': flax.__version__,
          'backend': jax.default_backend(), 'device_kind': jax.devices()[0].device_kind}
  return jax, info


def jax_peak_mib(jax):
  stats = jax.devices()[0].memory_stats() if jax.default_backend() != 'cpu' else None
  return stats['peak_bytes_in_use'] / 2**20 if stats and 'peak_bytes_in_use' in stats else rss_mib()


def load_config(path):
  import importlib.util
  spec = importlib.util.spec_from_file_location('benchmark_config', os.path.join(REPO, path))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def jax_worker(case, batch, steps):
  import numpy as np
  from gan_jax import configuration, sharding
  from gan_jax.games import gan_game, gan_step
  jax, info = jax_setup()
  path, shape, _, _ = CASES[case]
  config = load_config(path)
  config.batch_size = batch
  if len(shape) == 3:
    config.image_size = shape[0]
  mesh = sharding.make_mesh()
  configuration.validate(config, num_data_shards=mesh.devices.size)
  gan = gan_game.build_gan(config, shape)
  state = sharding.create_state(gan.init, jax.random.key(0), mesh)
  train_step = sharding.jit_train_step(gan_step.make_train_step(gan), mesh)
  images = np.random.default_rng(0).uniform(-1, 1, (batch * config.n_critic,) + shape)
  real = {'image': jax.device_put(images.astype(np.float32), sharding.batch_sharding(mesh))}
  start = time.perf_counter()
  compiled = train_step.lower(state, real).compile()
  compile_s = time.perf_counter() - start
  cost = compiled.cost_analysis()  # A dict, or a list of one dict in some JAX versions.
  cost = (cost[0] if cost else {}) if isinstance(cost, (list, tuple)) else (cost or {})

  def step():
    nonlocal state
    state, _ = compiled(state, real)

  windows = time_windows(step, lambda: jax.block_until_ready(state), steps)
  return {'compile_s': compile_s, 'flops': cost.get('flops'), 'windows': windows,
          'images_per_step': batch * config.n_critic, 'peak_mib': jax_peak_mib(jax), 'info': info}


def torch_setup():
  """torch on cuda when there is one (the reference draws z on the default device)."""
  import torch
  device = 'cuda' if torch.cuda.is_available() else 'cpu'
  torch.set_default_device(device)
  torch.manual_seed(0)
  sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
  info = {'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
          'torch_device': torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}
  return torch, sync, info


def npz_images(torch, data, size):
  """The npz images as the pipeline makes them: NCHW, zero-padded when a little smaller than
  size (28 -> 32) or else resized bilinearly, scaled to [-1, 1]; square images assumed."""
  import numpy as np
  import torch.nn.functional as F
  images = np.load(os.path.join(REPO, data.removeprefix('npz:')))['images']
  images = images[..., None] if images.ndim == 3 else images
  x = torch.from_numpy(images).permute(0, 3, 1, 2).float().to(torch.get_default_device())
  side = x.shape[-1]
  if side < size <= side + size // 8:
    before, after = (size - side) // 2, size - side - (size - side) // 2
    x = F.pad(x, (before, after, before, after))
  elif side != size:
    x = F.interpolate(x, size=(size, size), mode='bilinear', antialias=True)
  return x / 127.5 - 1.0


def torch_worker(case, batch, steps, channels_last, data):
  """The reference's step on a fixed random batch or, given data (the e2e rows), on a random
  batch of those images drawn from an in-memory tensor every step, timed in one window."""
  import torch_reference
  torch, sync, info = torch_setup()
  shape = CASES[case][1]
  if len(shape) == 1:
    gan, images = torch_reference.mlp_toy(), torch.rand(batch, *shape) * 2 - 1
  else:
    images = (npz_images(torch, data, shape[0]) if data else
              torch.rand(batch, shape[2], shape[0], shape[1]) * 2 - 1)
    gan = torch_reference.dcgan(shape[0], images.shape[1], channels_last=channels_last)
  if data:
    step = lambda: gan.step(images[torch.randint(0, images.shape[0], (batch,))])
  else:
    step = lambda: gan.step(images)
  windows = time_windows(step, sync, steps, windows=1 if data else WINDOWS)
  peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else rss_mib()
  return {'windows': windows, 'images_per_step': batch, 'peak_mib': peak, 'info': info}


def run_worker(args):
  kind, case = args._worker.split(':')
  if kind == 'matmul' and case == 'jax':
    jax, info = jax_setup()
    a, b = jax.random.normal(jax.random.key(0), (2, MATMUL_SIZE, MATMUL_SIZE))
    matmul = jax.jit(lambda a, b: a @ b)
    return {'gflops': matmul_gflops(lambda: matmul(a, b), jax.block_until_ready), 'info': info}
  if kind == 'matmul':
    torch, sync, info = torch_setup()
    a, b = torch.randn(2, MATMUL_SIZE, MATMUL_SIZE)
    return {'gflops': matmul_gflops(lambda: a @ b, lambda _: sync()), 'info': info}
  if kind == 'jax':
    return jax_worker(case, args.batch_size, args.steps)
  data = args.data if kind.startswith('e2e') else ''
  return torch_worker(case, args.batch_size, args.steps, kind.endswith('_cl'), data)


# ---- The parent: runs the workers one after another and prints the table. ----

def measure(spec, batch=0, steps=0, data=''):
  """Runs one worker; a failure becomes {'error': its last line}, so the other rows still print."""
  print(f'measuring {spec} ...', file=sys.stderr, flush=True)
  cmd = [sys.executable, os.path.abspath(__file__), f'--_worker={spec}', f'--batch_size={batch}',
         f'--steps={steps}', f'--data={data}']
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
  if proc.returncode:
    error = (proc.stderr.strip().splitlines() or [f'exit code {proc.returncode}'])[-1]
    print(f'  {spec} failed: {error}', file=sys.stderr)
    return {'error': error}
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  if 'windows' in result:
    result['step_s'] = statistics.median(result['windows'])
  return result


def run_cli(case, batch, args):
  """python -m gan_jax.main on args.data: the median images/s of the log intervals after the
  first (which includes compilation), the command's wall time and its peak RSS."""
  tmp = tempfile.mkdtemp(prefix='gan_jax_speed_')
  cmd = [sys.executable, '-m', 'gan_jax.main', '--config=configs/dcgan.py', f'--workdir={tmp}/run',
         f'--config.dataset={args.data}', f'--config.total_steps={args.cli_steps}',
         f'--config.log_every={args.cli_log_every}', f'--config.batch_size={batch}']
  if CASES[case][1][0] != 32:
    cmd.append(f'--config.image_size={CASES[case][1][0]}')
  print(f'running {shlex.join(cmd[1:])} ...', file=sys.stderr, flush=True)
  start = time.perf_counter()
  with open(f'{tmp}/log.txt', 'w') as log:
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)  # wait4 gives this child's own peak RSS.
    proc.returncode = os.waitstatus_to_exitcode(status)
  wall = time.perf_counter() - start
  if proc.returncode:
    return {'error': f'exit code {proc.returncode}, see {tmp}/log.txt'}
  with open(f'{tmp}/run/metrics.jsonl') as f:
    rates = [r['images_per_sec'] for r in map(json.loads, f) if 'images_per_sec' in r][1:]
  if not rates:
    return {'error': f'no log interval after the first (raise --cli_steps), see {tmp}/run'}
  shutil.rmtree(tmp)  # Kept when the run failed, for its log.
  return {'step_s': batch / statistics.median(rates), 'images_per_step': batch, 'wall_s': wall,
          'peak_mib': usage.ru_maxrss / 1024}


def img_per_s(row):
  return row['images_per_step'] / row['step_s'] if 'step_s' in row else None


def case_rows(case, args):
  """The JAX row, the PyTorch rows (also channels_last for DCGAN) and with --cli the e2e rows."""
  batch, steps = args.batch_size or CASES[case][2], args.steps or CASES[case][3]
  jax_row = dict(measure(f'jax:{case}', batch, steps), case=case, impl='JAX (gan_jax)')
  torch_rows = [dict(measure(f'torch:{case}', batch, steps), case=case, impl='PyTorch')]
  if case != 'mlp_toy':
    torch_rows.append(dict(measure(f'torch_cl:{case}', batch, steps), case=case,
                           impl='PyTorch channels_last'))
  for row in torch_rows:
    row['flops'] = jax_row.get('flops')
  fastest = max((r for r in torch_rows if 'step_s' in r), key=img_per_s, default=None)
  if fastest and 'step_s' in jax_row:
    jax_row['ratio'] = img_per_s(jax_row) / img_per_s(fastest)
  if not args.cli or case == 'mlp_toy':
    return [jax_row] + torch_rows
  cli = dict(run_cli(case, batch, args), case=f'{case} e2e', impl='JAX CLI (gan_jax.main)')
  variant = '_cl' if fastest and fastest['impl'].endswith('channels_last') else ''
  e2e = dict(measure(f'e2e{variant}:{case}', batch, args.cli_steps, args.data), case=f'{case} e2e',
             impl=f"PyTorch{' channels_last' if variant else ''} e2e")
  one_channel = CASES[case][1][2] != 1  # The npz digits have 1 channel, fewer than this case.
  if not one_channel:
    cli['flops'] = e2e['flops'] = jax_row.get('flops')
  suffix = ', 1 channel (the npz data)' if one_channel else ''
  if 'wall_s' in cli:
    cli['note'] = f'{args.cli_steps} steps in {cli["wall_s"]:.0f} s wall{suffix}'
  e2e['note'] = f'{args.cli_steps} steps after {WARMUP_STEPS} warm-up{suffix}'
  if 'step_s' in cli and 'step_s' in e2e:
    cli['ratio'] = img_per_s(cli) / img_per_s(e2e)
  return [jax_row] + torch_rows + [cli, e2e]


def fmt(value, spec):
  return '-' if value is None else format(value, spec)


def cells(row, peak_gflops):
  step_s, flops, windows = row.get('step_s'), row.get('flops'), row.get('windows', [])
  gflops = flops / step_s / 1e9 if flops and step_s else None
  note = row.get('note') or ('FAILED: ' + row['error'] if 'error' in row else '')
  if len(windows) > 1:
    note = f'windows {1000 * min(windows):.1f}-{1000 * max(windows):.1f} ms'
  return [row['case'], row['impl'], fmt(row.get('compile_s'), '.1f'),
          fmt(flops and flops / 1e9, '.2f'), fmt(step_s and 1000 * step_s, '.1f'),
          fmt(img_per_s(row), '.0f'), fmt(gflops, '.1f'),
          fmt(gflops and peak_gflops and 100 * gflops / peak_gflops, '.0f'),
          fmt(row.get('peak_mib'), '.0f'), fmt(row.get('ratio'), '.2f'), note]


def report(args, matmul, rows, load):
  peak = matmul['jax'].get('gflops')
  jax_info, torch_info = matmul['jax'].get('info', {}), matmul['torch'].get('info', {})
  header = [f'matmul {MATMUL_SIZE}x{MATMUL_SIZE} fp32: JAX {fmt(peak, ".1f")} GFLOP/s (the peak '
            f'of "% peak"), PyTorch {fmt(matmul["torch"].get("gflops"), ".1f")} GFLOP/s',
            f'JAX on {jax_info.get("backend")} ({jax_info.get("device_kind")}); PyTorch on '
            f'{torch_info.get("torch_device")} with {torch_info.get("torch_threads")} threads; '
            f'{os.cpu_count()} cores; 1-min load average {load[0]:.1f} before, '
            f'{os.getloadavg()[0]:.1f} after']
  table = [COLUMNS] + [cells(row, peak) for row in rows]
  notes = [f'ms/step: median of {WINDOWS} windows of {args.steps or "30 (10 at 64 px)"} steps '
           f'after {WARMUP_STEPS} warm-up steps (notes: the fastest and slowest window); img/s '
           'counts the real images of a step.',
           "GFLOP/step: XLA's cost analysis of the compiled JAX step; the PyTorch rows reuse it "
           '(the same math), torch is not counted itself. % peak: of the JAX matmul above (not '
           'the hardware peak: small, cache-resident matmuls can beat it).',
           'peak MiB: max RSS of the measuring process (CPU), or device peak bytes in use (GPU).',
           'JAX / PyTorch: JAX img/s over the faster PyTorch variant (contiguous or channels_last).']
  if args.cli:
    notes.append('e2e: python -m gan_jax.main, median img/s of the log intervals after the first '
                 '(which includes compilation), against the PyTorch reference on the same images, '
                 'a random batch from an in-memory tensor each step; JAX / PyTorch of the two.')
  print('\n'.join(header + ['', text_table(table), ''] + notes))
  if args.markdown:
    cpu = platform.processor() or platform.machine()
    if os.path.exists('/proc/cpuinfo'):
      names = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')]
      cpu = names[0] if names else cpu
    versions = ', '.join(f'{k} {jax_info.get(k)}' for k in ('jax', 'jaxlib', 'flax'))
    meta = [f'command: `python {shlex.join(sys.argv)}`',
            f'date: {datetime.datetime.now().isoformat(timespec="seconds")}',
            f'CPU: {cpu}, {os.cpu_count()} cores; JAX device kind: {jax_info.get("device_kind")}',
            f'versions: {versions}, torch {torch_info.get("torch")}']
    with open(args.markdown, 'w') as f:
      f.write('\n\n'.join(['# gan_jax train-step speed', bullets(meta + header),
                           markdown_table(table), bullets(notes)]) + '\n')


def text_table(table):
  widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
  lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
  return '\n'.join([lines[0], '-' * len(lines[0])] + lines[1:])


def markdown_table(table):
  lines = ['| ' + ' | '.join(r) + ' |' for r in table]
  return '\n'.join([lines[0], '|' + ' --- |' * len(COLUMNS)] + lines[1:])


def bullets(lines):
  return '\n'.join(f'- {line}' for line in lines)


def main():
  args = parse_args()
  if args._worker:
    print(json.dumps(run_worker(args)))
    return
  cases = args.cases.split(',')
  if set(cases) - set(CASES):
    sys.exit(f'unknown cases {sorted(set(cases) - set(CASES))}; choose from {sorted(CASES)}')
  load = os.getloadavg()
  matmul = {framework: measure(f'matmul:{framework}') for framework in ('jax', 'torch')}
  rows = [row for case in cases for row in case_rows(case, args)]
  report(args, matmul, rows, load)


if __name__ == '__main__':
  main()
