"""Check that the library, the notebooks and the README are in sync: `nbdev_export`, `nbdev_clean` and
`tools/make_readme.py` must not change anything git tracks (CI runs this on a clean clone)."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def git_state():
    run = lambda *a: subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return run('status', '--porcelain', '--untracked-files=all'), run('diff')

before = git_state()
for cmd in ([str(BIN/'nbdev_export')], [str(BIN/'nbdev_clean')], [sys.executable, 'tools/make_readme.py']):
    subprocess.run(cmd, cwd=ROOT, check=True)
after = git_state()
if after != before:
    print(after[0]); print(after[1][:5000])
    sys.exit('nbdev_export / nbdev_clean / tools/make_readme.py changed files: the library, README or notebook '
             'metadata were not in sync with nbs/. Run `make readme`, nbdev_export and nbdev_clean, then commit.')
print('in sync: nbdev_export, nbdev_clean and make_readme changed nothing' +
      ('' if not before[0] else ' (the working tree has uncommitted changes, checked relative to them)'))
