"""Test setup: 8 fake CPU devices (set before JAX starts) and small shared fixtures."""

import os

# The tests' programs are small and many: XLA:CPU's backend optimisation (LLVM) takes more of
# their time than running them does, so it is turned down (the same programs, compiled faster).
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=8'
                           ' --xla_backend_optimization_level=0').strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# One compilation cache for the session (and the command lines it starts): the many tests that
# build the same program (a run and its resumed copy, a trainer and its command line) compile it
# once. A fresh directory each session, so nothing carries over between test runs.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  import tempfile  # pylint: disable=g-import-not-at-top,wrong-import-position
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(prefix='gan_jax_test_xla_cache_')
  os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'

import pathlib  # pylint: disable=g-import-not-at-top,wrong-import-position

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / 'configs').glob('*.py'))


@pytest.fixture(scope='session')
def mnist8k_path() -> str:
  """../shared/data/mnist8k.npz beside the repo (or $GAN_JAX_MNIST8K): real digits, not copied."""
  path = pathlib.Path(os.environ.get('GAN_JAX_MNIST8K', REPO.parent / 'shared/data/mnist8k.npz'))
  assert path.is_file(), f'{path} is missing: put ../shared beside the repo or set GAN_JAX_MNIST8K.'
  return str(path)


def pytest_sessionfinish(session, exitstatus):
  """Removes the session's compilation cache (made above, unless the caller chose a directory),
  in the main pytest process only: xdist's workers share it."""
  del exitstatus
  if hasattr(session.config, 'workerinput'):
    return
  cache = os.environ.get('JAX_COMPILATION_CACHE_DIR', '')
  if os.path.basename(cache).startswith('gan_jax_test_xla_cache_'):
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.rmtree(cache, ignore_errors=True)


# The files that take longest, started first: the two test processes each take files as they
# finish others (xdist's loadfile), so a long file taken last would leave the other idle.
LONGEST_FIRST = ('test_step.py', 'test_evaluation.py', 'test_notebooks.py', 'test_multiprocess.py',
                 'test_train.py', 'test_preemption.py', 'test_sngan.py', 'test_train_translation.py',
                 'test_convolutions.py', 'test_conditional.py', 'test_semisupervised.py',
                 'test_ada.py', 'test_data_efficient.py', 'test_translation.py', 'test_terms.py',
                 'test_extending.py', 'test_diffaugment.py',
                 'test_models.py')


def pytest_collection_modifyitems(items):
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
