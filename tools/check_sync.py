"""Check that the library, the notebooks, their outputs and the README are in sync (the first step of `make test`).

1. `nbdev_export`, `nbdev_clean` and `tools/make_readme.py` must not change anything git tracks (CI runs this on a
   clean clone).
2. Every notebook's stored outputs must come from its current code: `tools/execute_notebooks.py` records the hash of
   the code cells it ran; a notebook without that record, or whose code cells changed since, fails, named.
   Notebooks whose outputs predate a change of the library modules they import are listed, without failing.
"""
import subprocess, sys
from pathlib import Path

import nbformat

from execute_notebooks import NBS, check

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def git_state():
    run = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return run('status', '--porcelain', '--untracked-files=all'), run('diff')

def sync_problem():
    "None if nbdev_export, nbdev_clean and make_readme change nothing, else what to do."
    before = git_state()
    for cmd in ([str(BIN/'nbdev_export')], [str(BIN/'nbdev_clean')], [sys.executable, 'tools/make_readme.py']):
        subprocess.run(cmd, cwd=ROOT, check=True)
    after = git_state()
    if after != before:
        print(after[0]); print(after[1][:5000])
        return ('nbdev_export / nbdev_clean / tools/make_readme.py changed files: the library, README or notebook '
                'metadata were not in sync with nbs/. Run `make readme`, nbdev_export and nbdev_clean, then commit.')
    print('in sync: nbdev_export, nbdev_clean and make_readme changed nothing' +
          ('' if not before[0] else ' (the working tree has uncommitted changes, checked relative to them)'))

def outputs_problem(nbs=NBS, lib=None):
    "None if every notebook's outputs come from its current code, else which do not; prints the module-stale ones."
    kw = {'lib': lib} if lib else {}
    missing, changed, stale = [], [], []
    for p in sorted(Path(nbs).glob('*.ipynb')):
        why, mods = check(nbformat.read(p, as_version=4), **kw)
        if why == 'missing': missing.append(p.name)
        elif why == 'code': changed.append(p.name)
        elif mods: stale.append(f'{p.name} ({", ".join(mods)})')
    if stale:
        print('outputs made before a change of the library modules they import (not an error; '
              '`make notebooks-stale` re-executes them):\n  ' + '\n  '.join(stale))
    if not (missing or changed):
        print('outputs current: every notebook ran its present code cells'); return None
    return '\n'.join(
        [f'code cells changed since the outputs were made: {", ".join(changed)}'] * bool(changed) +
        [f'no record of what made the outputs: {", ".join(missing)}'] * bool(missing) +
        ['re-execute them (full size, in place): make notebook NB="<stem> ..."  (or `make notebooks-stale`)'])

if __name__ == '__main__':
    problems = [p for p in (sync_problem(), outputs_problem()) if p]
    if problems: sys.exit('\n'.join(problems))
