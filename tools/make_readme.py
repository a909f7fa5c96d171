"""Write README.md from nbs/index.ipynb (Quarto is not available here, so this replaces `nbdev_readme`).

Markdown cells are copied as they are (image links into nbs/images/ are made relative to the top level); code cells become ```python blocks followed by their text output;
cells marked `#| hide` are left out, those marked `#| echo: false` show their output alone. Usage: python tools/make_readme.py [--check]
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _src(cell): return ''.join(cell['source'])

def _out_text(cell):
    parts = []
    for o in cell.get('outputs', []):
        if o['output_type'] == 'stream': parts.append(''.join(o['text']))
        elif 'text/markdown' in o.get('data', {}): parts.append(('MD', ''.join(o['data']['text/markdown'])))
        elif 'text/plain' in o.get('data', {}): parts.append(''.join(o['data']['text/plain']))
    return parts

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    blocks = ['<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->']
    for cell in nb['cells']:
        src = _src(cell).strip()
        if not src: continue
        if cell['cell_type'] == 'markdown': blocks.append(src.replace('](images/', '](nbs/images/')); continue  # README sits above nbs/
        lines = src.splitlines()
        if any(l.replace(' ', '').startswith(('#|hide', '#|export')) for l in lines): continue
        code = '\n'.join(l for l in lines if not l.replace(' ', '').startswith('#|')).strip()
        if code and not any(l.replace(' ', '') == '#|echo:false' for l in lines): blocks.append(f'```python\n{code}\n```')
        for part in _out_text(cell):
            if isinstance(part, tuple): blocks.append(part[1].strip())
            elif part.strip(): blocks.append(f'```\n{part.rstrip()}\n```')
    return '\n\n'.join(blocks) + '\n'

if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`.')
    else: readme.write_text(text, encoding='utf-8')
