"""Run every notebook in nbs/ under nbdev's test runner, one pytest test per notebook.

Cells flagged with a `tst_flags` entry of settings.ini (`notest slow gpu`) are skipped; set
`DSG_TEST_FLAGS="slow gpu"` to run them too. The notebook count is checked against the notebook map in
nbs/index.ipynb, so an empty or partial glob can never pass as "no tests".
"""
import json, os, re, shutil, tempfile
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted((ROOT/'nbs').glob('*.ipynb'))


def _map_names():
    "Notebook file names that the notebook map in nbs/index.ipynb lists."
    text = ''.join(''.join(c['source']) for c in json.loads((ROOT/'nbs'/'index.ipynb').read_text())['cells'])
    return set(re.findall(r'\b(\d\d[a-z]?_\w+\.ipynb)', text))


def test_notebook_map_matches_nbs():
    found = {p.name for p in NBS if p.name != 'index.ipynb'}
    assert found, 'no notebooks found in nbs/'
    assert _map_names() == found, f'index.ipynb map lists {sorted(_map_names())}, nbs/ holds {sorted(found)}'


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))   # the notebook's scratch folders (and its subprocesses')
    monkeypatch.setenv('TMPDIR', str(tmp_path))
    monkeypatch.setenv('IN_TEST', '1')          # nbdev sets it for good: undone after the test, for the tests after it
    cfg = get_config()
    ok, secs = run_notebook(nb, skip_flags=cfg.tst_flags.split(),
                            force_flags=os.environ.get('DSG_TEST_FLAGS', '').split(), basepath=cfg.config_path)
    assert ok, f'{nb.name} failed under nbdev test (see the traceback above)'
    shutil.rmtree(tmp_path, ignore_errors=True)   # passed: free the disk now (pytest keeps a failure's files)
