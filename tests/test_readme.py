"""The README's notebook example runs as written."""

import json
import os
import re
import subprocess
import sys

from tests.helpers import REPO

# What the test prints after the example has run, to check it from outside.
_REPORT = '''
import json as _json
print(_json.dumps({'step': int(state.step), 'samples': list(samples.shape),
                   'metrics': sorted(metrics)}))
'''


def test_readme_notebook_example_runs(mnist8k_path):
  del mnist8k_path  # The example reads ../shared/data/mnist8k.npz relative to the repo.
  readme = (REPO / 'README.md').read_text()
  section = readme[readme.index('## From a notebook'):]
  code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
  # In a fresh Python on one CPU device, as a user's notebook kernel on a laptop (the tests' 8
  # fake devices only slow it down; sharding has its own tests).
  env = dict(os.environ, PYTHONPATH=str(REPO),
             XLA_FLAGS=os.environ['XLA_FLAGS'].replace(
                 '--xla_force_host_platform_device_count=8', ''))
  result = subprocess.run([sys.executable, '-c', code + _REPORT], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report['step'] == 10
  assert report['samples'] == [16, 32, 32, 1]
  assert {'d_loss', 'g_loss'} <= set(report['metrics'])
