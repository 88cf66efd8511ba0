"""The README's notebook example runs as written."""

import re

from tests.helpers import REPO


def test_readme_notebook_example_runs(monkeypatch, mnist8k_path):
  del mnist8k_path  # The example reads ../shared/data/mnist8k.npz relative to the repo.
  readme = (REPO / 'README.md').read_text()
  section = readme[readme.index('## From a notebook'):]
  code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
  monkeypatch.chdir(REPO)
  namespace = {}
  exec(compile(code, 'README.md', 'exec'), namespace)  # pylint: disable=exec-used
  assert int(namespace['state'].step) == 10
  assert namespace['samples'].shape == (16, 32, 32, 1)
  assert set(namespace['metrics']) >= {'d_loss', 'g_loss'}
