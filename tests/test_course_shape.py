"""The shape of the course, checked on the notebooks' text (nothing is run).

Part I (notebooks numbered below 90) is the method, Part II (90 and up) the engineering. Within a part, a lower-numbered
notebook never imports the module of a higher one (Part I may use Part II). A Part-I code cell has at most 40 lines,
and no markdown cell anywhere is over 2,000 characters: lessons build in small steps, and measured tables live in
benchmarks/.
"""
import json, re
from pathlib import Path

import pytest

NBS = Path(__file__).resolve().parents[1]/'nbs'
PART_II = 90


def _cells(nb: Path) -> list:
    return [(c['cell_type'], ''.join(c['source'])) for c in json.loads(nb.read_text())['cells']]


def _number(nb: Path) -> tuple:
    "Sort key of a notebook: (number, letter); `01b_scenes` -> (1, 'b')."
    m = re.match(r'(\d+)([a-z]?)_', nb.name)
    return int(m[1]), m[2]


def _modules() -> dict:
    "The module each numbered notebook exports: {'spade': Path('nbs/03_spade.ipynb'), ...}."
    out = {}
    for nb in NBS.glob('[0-9]*.ipynb'):
        for kind, src in _cells(nb):
            m = re.search(r'^#\| default_exp (\w+)', src, re.M)
            if kind == 'code' and m: out[m[1]] = nb
    return out


NOTEBOOKS = sorted(NBS.glob('[0-9]*.ipynb'))


def test_every_notebook_exports_one_module():
    assert len(_modules()) == len(NOTEBOOKS), 'each numbered notebook has one `#| default_exp`'


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lower_never_imports_higher_within_a_part(nb):
    mods, (n, _) = _modules(), _number(nb)
    used = {m for kind, src in _cells(nb) if kind == 'code'
            for m in re.findall(r'(?:from|import) depth_semantic_gan\.(\w+)', src)}
    higher = sorted(m for m in used if m in mods and (_number(mods[m])[0] >= PART_II) == (n >= PART_II)
                    and _number(mods[m]) > _number(nb))
    assert not higher, f'{nb.name} imports {higher}, from higher notebooks of its own part'


@pytest.mark.parametrize('nb', sorted(NBS.glob('*.ipynb')), ids=lambda p: p.stem)
def test_cell_sizes(nb):
    cells = _cells(nb)
    long_md = [i for i, (kind, src) in enumerate(cells) if kind == 'markdown' and len(src) > 2000]
    assert not long_md, f'{nb.name}: markdown cells {long_md} are over 2,000 characters (tables go to benchmarks/)'
    if nb.name[0].isdigit() and _number(nb)[0] < PART_II:
        big = [i for i, (kind, src) in enumerate(cells) if kind == 'code' and len(src.splitlines()) > 40]
        assert not big, f'{nb.name}: code cells {big} are over 40 lines (a lesson builds in small steps)'
