"""Every notebook in notebooks/ runs from top to bottom without an error."""

import nbclient
import nbformat
import pytest

from tests.helpers import REPO

NOTEBOOKS = sorted((REPO / 'notebooks').glob('*.ipynb'))


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch, mnist8k_path):
  monkeypatch.setenv('GAN_JAX_MNIST8K', mnist8k_path)
  monkeypatch.setenv('PYTHONPATH', str(REPO))
  # The kernel sees one CPU device, as a user's laptop does (the 8 fake devices of the tests
  # only slow its training down; sharding has its own tests).
  monkeypatch.setenv('XLA_FLAGS', '')
  notebook = nbformat.read(path, as_version=4)
  # Run in a scratch directory so the notebook's outputs/ folder is not left in the repository.
  nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3',
                          resources={'metadata': {'path': str(tmp_path)}}).execute()
  errors = [o for cell in notebook.cells if cell.cell_type == 'code'
            for o in cell.outputs if o.output_type == 'error']
  assert not errors


def test_the_notebooks_are_found():
  assert [p.name for p in NOTEBOOKS] == ['quickstart.ipynb']
