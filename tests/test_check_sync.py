"""`tools/execute_notebooks.py` records what made a notebook's outputs; `tools/check_sync.py` fails, naming the
notebook, when its code cells changed since, and lists (without failing) those whose library modules changed.

On a temporary copy: a two-cell notebook, executed once in a real kernel, and a stand-in library folder for the
module hashes (`render` reached only through `core`)."""
import json, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from check_sync import outputs_problem                                           # noqa: E402
from execute_notebooks import KEY, NOTE, check, code_hash, execute, module_hashes      # noqa: E402

CELLS = [('markdown', '# Tiny\n> a notebook for the test'),
         ('code', 'from depth_semantic_gan.core import in_test'),
         ('code', 'print(in_test(), 6 * 7)')]


def _nb(cells=CELLS) -> dict:
    cell = lambda i, kind, src: dict(cell_type=kind, id=f'{i:08x}', metadata={}, source=src,
                                     **(dict(execution_count=None, outputs=[]) if kind == 'code' else {}))
    return dict(cells=[cell(i, k, s) for i, (k, s) in enumerate(cells)], nbformat=4, nbformat_minor=5,
                metadata={'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}})


def _lib(folder: Path) -> Path:
    "A stand-in library: `core` imports `render`, which the notebook never names."
    folder.mkdir()
    (folder/'core.py').write_text('from .render import draw\n')
    (folder/'render.py').write_text('def draw(): pass\n')
    return folder


@pytest.fixture(scope='module')
def executed(tmp_path_factory):
    "The notebook, executed in place (under a test runner's IN_TEST=1) with its record; and the library folder."
    root = tmp_path_factory.mktemp('sync')
    nbs, lib = root/'nbs', _lib(root/'lib')
    nbs.mkdir()
    (nbs/'00_tiny.ipynb').write_text(json.dumps(_nb()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('IN_TEST', '1')
        execute(nbs/'00_tiny.ipynb', lib=lib)
    return nbs/'00_tiny.ipynb', lib


@pytest.fixture
def copy(executed, tmp_path):
    "A fresh copy of the executed notebook, alone in an nbs/ folder."
    (tmp_path/'nbs').mkdir()
    return Path(shutil.copy(executed[0], tmp_path/'nbs')), executed[1]


def test_executed_notebook_passes(copy, capsys):
    path, lib = copy
    nb = json.loads(path.read_text())
    note = ''.join(nb['cells'][1]['source'])
    assert note.startswith(NOTE) and 's with at most' in note                 # the run's time, under the title
    assert nb['cells'][3]['outputs'][0]['text'] == ['False 42\n']          # full size: not in test mode
    rec = nb['metadata'][KEY]
    assert rec['code_sha256'] == code_hash(nb) and set(rec['modules']) == {'core', 'render'}
    assert rec['wall_s'] > 0 and rec['peak_rss_mib'] > 0 and rec['torch'] and rec['machine'] and rec['date']
    assert outputs_problem(path.parent, lib) is None
    assert 'outputs current' in capsys.readouterr().out


def test_record_survives_nbdev_clean(copy):
    path, lib = copy
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(path)], cwd=ROOT, check=True)
    nb = json.loads(path.read_text())
    assert KEY in nb['metadata'] and nb['cells'][3]['outputs'] and check(nb, lib) == (None, [])


def _edit(path, i, new):
    nb = json.loads(path.read_text())
    nb['cells'][i]['source'] = new
    path.write_text(json.dumps(nb))


def test_code_edit_fails_naming_the_notebook(copy):
    path, lib = copy
    _edit(path, 3, 'print(in_test(), 6 * 9)')
    assert 'code cells changed since the outputs were made: 00_tiny.ipynb' in outputs_problem(path.parent, lib)


def test_markdown_edit_passes(copy):
    path, lib = copy
    _edit(path, 0, '# Tiny\n> reworded')
    assert outputs_problem(path.parent, lib) is None


def test_notebook_without_record_fails(copy):
    path, lib = copy
    (path.parent/'01_new.ipynb').write_text(json.dumps(_nb()))
    (path.parent/'02_prose.ipynb').write_text(json.dumps(_nb(CELLS[:1])))    # no code: nothing to record
    assert 'no record of what made the outputs: 01_new.ipynb\n' in outputs_problem(path.parent, lib)


def test_module_change_is_listed_not_failed(copy, capsys):
    path, lib = copy
    (lib/'render.py').write_text('def draw(): return 1\n')
    try:
        assert outputs_problem(path.parent, lib) is None
        assert '00_tiny.ipynb (render)' in capsys.readouterr().out
    finally: (lib/'render.py').write_text('def draw(): pass\n')


def test_import_forms(tmp_path):
    lib = _lib(tmp_path/'lib')
    (lib/'data.py').write_text('import numpy\n')
    (lib/'spade.py').write_text('from depth_semantic_gan.data import x\n')
    for src, want in [('from depth_semantic_gan import (data,\n    render as r)', {'data', 'render'}),
                      ('import os, depth_semantic_gan.spade as s', {'spade', 'data'}),
                      ('from depth_semantic_gan.core import *', {'core', 'render'}),
                      ('#| default_exp render\nfrom depth_semantic_gan.core import f', {'core'}),       # not its own
                      ('import depth_semantic_gan\nfrom depth_semantic_gan.nothing import y', set())]:
        assert set(module_hashes(_nb([('code', src)]), lib)) == want, src
