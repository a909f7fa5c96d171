"""A cache build killed mid-way (SIGKILL, in its own process) resumes where it stopped and ends identical to an
uninterrupted build."""
import json, os, signal, subprocess, sys, textwrap, time

from depth_semantic_gan.cache import CacheDataset, build_cache

SOURCE = textwrap.dedent('''
    import sys, time
    import numpy as np
    class SlowSource:
        "20 deterministic items with depth; `delay` seconds per read."
        def __init__(self, delay=0.0):
            self.ids, self.delay, self.reads = [f'item{i}' for i in range(20)], delay, []
        def __len__(self): return len(self.ids)
        def read(self, i, size):
            time.sleep(self.delay); self.reads.append(i)
            rng = np.random.default_rng(i)
            return {'image': rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                    'label': rng.integers(0, 151, (size, size), dtype=np.uint8),
                    'depth': rng.uniform(1, 9, (size, size)).astype(np.float32)}
''')


def test_killed_build_resumes(tmp_path):
    (tmp_path/'resume_source.py').write_text(SOURCE)
    sys.path.insert(0, str(tmp_path))
    from resume_source import SlowSource
    root = tmp_path/'cache'
    script = (f'import sys; sys.path.insert(0, {str(tmp_path)!r})\n'
              'from resume_source import SlowSource\nfrom depth_semantic_gan.cache import build_cache\n'
              f'build_cache(SlowSource(0.05), {str(root)!r}, "train", 8, chunk=4, workers=1, progress=False)\n')
    proc = subprocess.Popen([sys.executable, '-c', script])
    progress = root/'train_8.progress.json'
    deadline = time.time() + 60
    while time.time() < deadline:
        if progress.exists() and json.loads(progress.read_text())['done'] >= 8: break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    done = json.loads(progress.read_text())['done']
    assert 8 <= done < 20 and not (root/'train_8.npy').exists()

    src = SlowSource()
    build_cache(src, root, 'train', 8, chunk=4, workers=1, progress=False)
    assert src.reads == list(range(done, 20))          # nothing redone before the recorded point
    build_cache(SlowSource(), tmp_path/'ref', 'train', 8, progress=False)
    got, ref = CacheDataset(root, 'train', 8, depth='exact'), CacheDataset(tmp_path/'ref', 'train', 8, depth='exact')
    a, b = got.arrays(), ref.arrays()
    assert all((a[k] == b[k]).all() for k in ('images', 'labels', 'depth'))
    assert sorted(p.name for p in root.iterdir()) == ['.lock', 'train_8.depth_exact.npy', 'train_8.ids.json',
                                                      'train_8.npy']
