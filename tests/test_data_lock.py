"Two processes writing one cache folder at once: the second waits for the first, finds the work done; nothing breaks."
import subprocess, sys, textwrap

import numpy as np

from depth_semantic_gan.cache import CacheDataset, build_cache, encode_depth, read_depth

SOURCE = textwrap.dedent('''
    import time
    import numpy as np
    class SlowSource:
        "20 deterministic items with depth; `delay` seconds per read."
        def __init__(self, delay=0.0): self.ids, self.delay = [f'item{i}' for i in range(20)], delay
        def __len__(self): return len(self.ids)
        def read(self, i, size):
            time.sleep(self.delay)
            rng = np.random.default_rng(i)
            return {'image': rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                    'label': rng.integers(0, 151, (size, size), dtype=np.uint8),
                    'depth': rng.uniform(1, 9, (size, size)).astype(np.float32)}
''')

START = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tmp!r})
    from slow_source import SlowSource
    from depth_semantic_gan.cache import DepthWriter, build_cache
    print('ready', flush=True)
    while not Path({go!r}).exists(): time.sleep(0.005)
''')


def _race(tmp_path, body):
    "Run `body` in two processes started together; returns their (returncode, stdout + stderr)."
    (tmp_path/'slow_source.py').write_text(SOURCE)
    go = tmp_path/'go'
    script = START.format(tmp=str(tmp_path), go=str(go)) + textwrap.dedent(body)
    procs = [subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
             for _ in range(2)]
    for p in procs: assert p.stdout.readline().strip() == 'ready'
    go.touch()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    return [(p.returncode, o) for p, o in zip(procs, outs)]


def _reference(tmp_path):
    sys.path.insert(0, str(tmp_path))
    from slow_source import SlowSource
    build_cache(SlowSource(), tmp_path/'ref', 'train', 8, progress=False)
    return CacheDataset(tmp_path/'ref', 'train', 8, depth='exact').arrays()


def test_two_builds_of_one_cache(tmp_path):
    root = tmp_path/'cache'
    res = _race(tmp_path, f'''
        p = build_cache(SlowSource(0.03), {str(root)!r}, 'train', 8, chunk=4, workers=1, progress=False)
        print('built', p)
    ''')
    for rc, out in res:
        assert rc == 0, out
        assert f'built {root}/train_8.npy' in out and 'delete' not in out.lower(), out
    assert sum('is in use by another process' in out and 'waiting for it to finish' in out for _, out in res) == 1, res
    a, b = CacheDataset(root, 'train', 8, depth='exact').arrays(), _reference(tmp_path)
    assert ((a['images'] == b['images']).all() and (a['labels'] == b['labels']).all()
            and (a['depth'] == b['depth']).all())
    assert a['ids'] == b['ids']
    assert sorted(p.name for p in root.iterdir()) == ['.lock', 'train_8.depth_exact.npy', 'train_8.ids.json',
                                                      'train_8.npy']


def test_two_depth_writers_of_one_source(tmp_path):
    "As `depth.make_pseudo_depth` writes a teacher's depth: the second writer finds the file complete, writes nothing."
    root = tmp_path/'cache'
    sys.path.insert(0, str(tmp_path))
    (tmp_path/'slow_source.py').write_text(SOURCE)
    from slow_source import SlowSource
    build_cache(SlowSource(), root, 'train', 8, progress=False)
    res = _race(tmp_path, f'''
        import numpy as np
        w = DepthWriter({str(root)!r}, 'train', 8, 'teacher')
        for start in range(w.done, w.n, 4):
            time.sleep(0.05)
            w.write(start, np.linspace(-1, 1, 4 * 64, dtype=np.float32).reshape(4, 8, 8) * (start % 3 - 1))
        print('wrote', w.close())
    ''')
    for rc, out in res:
        assert rc == 0, out
        assert f'wrote {root}/train_8.depth_teacher.npy' in out and 'delete' not in out.lower(), out
    want = np.concatenate([np.linspace(-1, 1, 4 * 64, dtype=np.float32).reshape(4, 8, 8) * (s % 3 - 1)
                           for s in range(0, 20, 4)])
    assert (read_depth(root, 'train', 8, 'teacher') == encode_depth(want)).all()
    assert not list(root.glob('*partial*')) and not list(root.glob('*progress*')) and not list(root.glob('.*.tmp'))
