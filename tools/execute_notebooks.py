"""Execute notebooks at full size (outside test mode) and store their outputs with a record of what made them.

Each notebook runs top to bottom in a fresh kernel with nbs/ as its working folder and `IN_TEST` unset, so
`test_size(full, tiny)` gives the full sizes. Its outputs are stored in place (or in `--out DIR`, leaving nbs/ alone)
and its metadata gets a record under `dsg_outputs` (kept by `nbdev_clean`: settings.ini's `allowed_metadata_keys`):
the hash of its code cells' sources, the hashes of the library modules it imports (directly or through them), the
wall time, the kernel's peak memory, the date, the Python and torch versions, the machine and the command.
`tools/check_sync.py` fails when a notebook's code no longer matches its record and lists those whose modules changed.

    python tools/execute_notebooks.py                      # every notebook in nbs/, in place (`make notebooks`)
    python tools/execute_notebooks.py 92_batches 06_fid    # some (`make notebook NB="92_batches 06_fid"`)
    python tools/execute_notebooks.py --stale              # only those check_sync fails or lists
    python tools/execute_notebooks.py 92_batches --out /tmp/x   # a timing run: executed copy in /tmp/x, nbs/ untouched
"""
import argparse, ast, datetime, hashlib, json, os, platform, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, LIB = ROOT/'nbs', ROOT/'depth_semantic_gan'
KEY = 'dsg_outputs'                       # the notebook-metadata key of the record (settings.ini allows it)
NOTE = "**This notebook's run.**"          # the markdown cell, under the title, that the executor keeps current
PROBE = '__dsg_probe__'                   # marks the line the last (temporary) cell prints


def _sha(data) -> str: return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()[:16]

def _src(cell) -> str: return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _code(nb) -> list:
    "The sources of the non-empty code cells: all that decides what a notebook computes."
    return [s for s in (_src(c) for c in nb['cells'] if c['cell_type'] == 'code') if s.strip()]

def code_hash(nb) -> str:
    "Hash of the code cells' source text alone (not ids, outputs, metadata or markdown): stable under nbdev_clean."
    return _sha(json.dumps(_code(nb)))


_FROM = re.compile(r'^[ \t]*from[ \t]+depth_semantic_gan(?:\.(\w+))?[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)', re.M)
_IMPORT = re.compile(r'^[ \t]*import[ \t]+([^\n#]+)', re.M)

def _imported(text: str, lib: Path) -> set:
    "Library modules that `from depth_semantic_gan[.m] import ...` / `import depth_semantic_gan.m` lines name."
    mods = set()
    for sub, names in _FROM.findall(text):
        mods |= {sub} if sub else {n.split()[0] for n in names.strip('()').split(',') if n.strip()}
    for items in _IMPORT.findall(text):
        mods |= {m.group(1) for m in re.finditer(r'\bdepth_semantic_gan\.(\w+)', items)}
    return {m for m in mods if (lib/f'{m}.py').is_file()}

def _module_imports(path: Path) -> set:
    "Library modules that a library module imports (relatively or absolutely, anywhere in it)."
    mods = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level == 1 or base.startswith('depth_semantic_gan'):
                base = base.removeprefix('depth_semantic_gan').lstrip('.')
                mods |= {base.split('.')[0]} if base else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            mods |= {a.name.split('.')[1] for a in node.names if a.name.startswith('depth_semantic_gan.')}
    return {m for m in mods if (path.parent/f'{m}.py').is_file()}

def module_hashes(nb, lib: Path = LIB) -> dict:
    "{module: hash} for the library modules the notebook imports, directly or through them (not its own module)."
    text = '\n'.join(_code(nb))
    todo, seen = _imported(text, lib), set()
    while todo:
        m = todo.pop(); seen.add(m)
        todo |= _module_imports(lib/f'{m}.py') - seen
    own = set(re.findall(r'^#\|\s*default_exp\s+(\w+)', text, re.M))
    return {m: _sha((lib/f'{m}.py').read_bytes()) for m in sorted(seen - own - {'__init__', '_modidx'})}


def check(nb, lib: Path = LIB):
    "('missing' | 'code' | None, [modules changed since the record]) for one notebook (a dict)."
    rec = nb.get('metadata', {}).get(KEY)
    if not _code(nb): return None, []
    if not rec: return 'missing', []
    now = module_hashes(nb, lib)
    changed = sorted(m for m in set(now) | set(rec.get('modules', {})) if now.get(m) != rec.get('modules', {}).get(m))
    return ('code' if rec.get('code_sha256') != code_hash(nb) else None), changed


def machine() -> str:
    "CPU model, cores this process may use, memory (the GPU, if any, comes from the kernel)."
    try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): cpu = platform.processor() or platform.machine()
    mem = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30
    return f'{cpu}, {len(os.sched_getaffinity(0))} CPUs, {mem:.0f} GiB'

_PROBE_CELL = f'''import json, resource, sys, torch
_r = [resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
_g = torch.cuda.is_available()
print({PROBE!r}, json.dumps(dict(peak_rss_mib=round(max(_r) / 1024), torch=torch.__version__,
      device=torch.cuda.get_device_name() if _g else 'cpu',
      peak_gpu_mib=round(torch.cuda.max_memory_allocated() / 2**20) if _g else None)))'''

def _cell_seconds(cell) -> float:
    t = cell.get('metadata', {}).get('execution', {})
    a, b = t.get('iopub.execute_input'), t.get('shell.execute_reply')
    if not (a and b): return 0.
    parse = lambda s: datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))
    return (parse(b) - parse(a)).total_seconds()


def execute(path: Path, out: Path = None, timeout: int = None, lib: Path = LIB, command: str = '') -> dict:
    "Run notebook `path` in its own folder outside test mode; write it (outputs, record) to `out` or in place."
    import nbformat
    from nbclient import NotebookClient
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    before = [_src(c) for c in nb.cells]
    rec = dict(code_sha256=code_hash(nb), modules=module_hashes(nb, lib))
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE_CELL))
    env = {k: v for k, v in os.environ.items() if k not in ('IN_TEST', 'DSG_TEST_FLAGS')}
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
    t0 = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}},
                   record_timing=True).execute(env=env)
    wall = time.time() - t0
    probe = nb.cells.pop()
    line = next(l for o in probe.outputs if o.get('name') == 'stdout' for l in o['text'].splitlines() if PROBE in l)
    rec.update(wall_s=round(wall, 1), **json.loads(line.split(PROBE, 1)[1]),
               date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
               python=platform.python_version(), machine=machine(), command=command)
    slow = sorted(((_cell_seconds(c), i) for i, c in enumerate(nb.cells) if c.cell_type == 'code'), reverse=True)[:3]
    nb.metadata[KEY] = rec
    if path.name != 'index.ipynb': set_run_note(nb, rec)          # the README has no run of its own to report
    dest = Path(out)/path.name if out else path
    if not out and [_src(c) for c in nbformat.read(path, as_version=4).cells] != before:
        raise RuntimeError(f'{path.name} was edited while it ran: not overwritten; run it again')
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(dest)], cwd=ROOT, check=True)
    return {**rec, 'slowest_cells': [(round(s, 1), i, _src(nb.cells[i]).strip().splitlines()[0][:60]) for s, i in slow]}


def run_note(rec: dict) -> str:
    "What a reader sees of the record: the time, memory and machine of the run whose outputs are stored."
    return (f"{NOTE} The outputs below were made top to bottom, outside test mode, in {rec['wall_s']:.0f} s "
            f"with at most {rec['peak_rss_mib'] / 1024:.1f} GiB of memory, on {rec['date'][:10]} ({rec['machine']}; "
            f"{rec['device']}; torch {rec['torch']}): `{rec['command']}`.")

def set_run_note(nb, rec: dict):
    "Write `run_note(rec)` into the notebook's note cell, or add one under the title (a markdown edit: no new run)."
    import nbformat
    cells = nb.cells
    at = next((i for i, c in enumerate(cells) if c.cell_type == 'markdown' and _src(c).startswith(NOTE)), None)
    if at is not None: cells[at].source = run_note(rec); return
    title = next((i for i, c in enumerate(cells) if c.cell_type == 'markdown' and _src(c).startswith('# ')), 0)
    cells.insert(title + 1, nbformat.v4.new_markdown_cell(run_note(rec)))


def _notebooks(names) -> list:
    if not names: return sorted(NBS.glob('*.ipynb'))
    found = []
    for n in names:
        p = Path(n) if n.endswith('.ipynb') else NBS/f'{n}.ipynb'
        if not p.is_file(): sys.exit(f'no notebook {p}')
        found.append(p)
    return found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('notebooks', nargs='*', help='stems (92_batches) or paths; default: every notebook in nbs/')
    ap.add_argument('--out', type=Path, help='write executed copies here instead of in place (for timing runs)')
    ap.add_argument('--stale', action='store_true', help='only notebooks whose record is missing or out of date')
    ap.add_argument('--timeout', type=int, help='seconds allowed per cell (default: no limit)')
    a = ap.parse_args(argv)
    import nbformat
    nbs = _notebooks(a.notebooks)
    if a.stale: nbs = [p for p in nbs if any(check(nbformat.read(p, as_version=4)))]
    failed, total = [], time.time()
    for p in nbs:
        print(f'{p.name}: running ...', flush=True)
        try: r = execute(p, a.out, a.timeout, command=f'python tools/execute_notebooks.py {p.stem}')
        except Exception as e:                  # a cell's error (nbclient prints its traceback) or a kernel death
            print(f'{p.name}: FAILED: {str(e)[-3000:]}', flush=True); failed.append(p.name); continue
        print(f"{p.name}: {r['wall_s']:.1f} s, peak {r['peak_rss_mib']:,} MiB"
              + (f", GPU {r['peak_gpu_mib']:,} MiB" if r['peak_gpu_mib'] else '') + f" ({r['machine']}, {r['device']})"
              + ''.join(f'\n    {s:7.1f} s  cell {i}: {first}' for s, i, first in r['slowest_cells']), flush=True)
    if not a.out and any(p.name == 'index.ipynb' for p in nbs):
        subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py')], cwd=ROOT, check=True)   # README from index
    print(f'{len(nbs) - len(failed)} of {len(nbs)} notebooks executed in {time.time() - total:.0f} s'
          + (f'; failed: {", ".join(failed)}' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main())
