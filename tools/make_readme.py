"""Write README.md from nbs/index.ipynb (Quarto is not available here, so this replaces `nbdev_readme`), and
benchmarks/RESULTS.md from the parts in benchmarks/results/.

README: markdown cells are copied as they are (links into nbs/images/ and out of nbs/ are made relative to the top
level); code cells become ```python blocks followed by their text output; cells marked `#| hide` are left out, those
marked `#| echo: false` show their output alone.
RESULTS.md: a contents list, then each part (`benchmarks/results/<notebook stem>.md`) under its notebook's heading,
in the order of the notebook map in nbs/index.ipynb (the index's own part first).
Usage: python tools/make_readme.py [--check]
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ROOT/'benchmarks'/'results'

def _src(cell): return ''.join(cell['source'])

def _out_text(cell):
    parts = []
    for o in cell.get('outputs', []):
        if o['output_type'] == 'stream': parts.append(''.join(o['text']))
        elif 'text/markdown' in o.get('data', {}): parts.append(('MD', ''.join(o['data']['text/markdown'])))
        elif 'text/plain' in o.get('data', {}): parts.append(''.join(o['data']['text/plain']))
    return parts

def _top_level(md:str) -> str:
    "Links written from nbs/ made relative to the top level, where the README sits."
    return md.replace('](images/', '](nbs/images/').replace('](../', '](')

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    blocks = ['<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->']
    for cell in nb['cells']:
        src = _src(cell).strip()
        if not src: continue
        if cell['cell_type'] == 'markdown': blocks.append(_top_level(src)); continue
        lines = src.splitlines()
        if any(l.replace(' ', '').startswith(('#|hide', '#|export')) for l in lines): continue
        code = '\n'.join(l for l in lines if not l.replace(' ', '').startswith('#|')).strip()
        if code and not any(l.replace(' ', '') == '#|echo:false' for l in lines):
            blocks.append(f'```python\n{code}\n```')
        for part in _out_text(cell):
            if isinstance(part, tuple): blocks.append(_top_level(part[1].strip()))
            elif part.strip(): blocks.append(f'```\n{part.rstrip()}\n```')
    return '\n\n'.join(blocks) + '\n'

def course_order(nb_path=ROOT/'nbs'/'index.ipynb') -> list:
    "Notebook stems in the order the index's notebook map lists them."
    text = ''.join(_src(c) for c in json.loads(Path(nb_path).read_text(encoding='utf-8'))['cells'])
    return list(dict.fromkeys(re.findall(r'\b(\d\d[a-z]?_\w+)\.ipynb', text)))

def _demoted(md:str) -> str:
    "Headings moved so that the part's title (its first line) is a '##' heading; code blocks left alone."
    shift = 2 - len(md.split(' ', 1)[0])                     # '# title' -> 1 level down, '## title' -> none
    lines, fenced = [], False
    for l in md.splitlines():
        if l.startswith('```'): fenced = not fenced
        lines.append('#' * shift + l if not fenced and re.match(r'#+ ', l) else l)
    return '\n'.join(lines)

def render_results(parts=PARTS) -> str:
    "RESULTS.md: every part, its headings one level down, under one title and a contents list."
    order = ['index'] + course_order()
    rank = lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem)   # unknown stems last
    files = sorted(Path(parts).glob('*.md'), key=rank)
    title = lambda p: p.read_text(encoding='utf-8').split('\n', 1)[0].lstrip('# ').strip()
    anchor = lambda t: re.sub(r'[^\w\- ]', '', t.lower()).replace(' ', '-')
    out = ['<!-- Assembled from benchmarks/results/*.md by tools/make_readme.py: edit the parts, not this file. -->',
           '# Measured results', '',
           'Every measurement of this repository, one part per notebook, in course order; each table with the '
           'command that reproduces it and the machine it ran on. The parts live in `benchmarks/results/`.', '']
    out += [f'- [{title(p)}](#{anchor(title(p))})' for p in files]
    for p in files:
        out += ['', _demoted(p.read_text(encoding='utf-8').strip())]
    return '\n'.join(out) + '\n'

if __name__ == '__main__':
    outputs = {ROOT/'README.md': render(), ROOT/'benchmarks'/'RESULTS.md': render_results()}
    if '--check' in sys.argv:
        stale = [p.name for p, text in outputs.items() if not p.exists() or p.read_text(encoding='utf-8') != text]
        if stale: sys.exit(f'{", ".join(stale)} out of date with nbs/index.ipynb / benchmarks/results: '
                           'run `python tools/make_readme.py`.')
    else:
        for p, text in outputs.items(): p.write_text(text, encoding='utf-8')
