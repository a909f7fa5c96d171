"A full disk during a cache build: a clear error naming the file (it used to be SIGBUS); what is cached stays."
import errno, os, shutil, subprocess, sys, textwrap

import pytest

from depth_semantic_gan.cache import CacheDataset, build_cache
from depth_semantic_gan.data import DataError

SOURCE = textwrap.dedent('''
    import numpy as np
    class Source:
        "`n` deterministic items with depth; item `fail_at` cannot be read."
        def __init__(self, n, fail_at=None): self.ids, self.fail_at = [f'item{i}' for i in range(n)], fail_at
        def __len__(self): return len(self.ids)
        def read(self, i, size):
            if i == self.fail_at: raise OSError(f'item{i}.jpg: cannot read (test)')
            rng = np.random.default_rng(i)
            return {'image': rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
                    'label': rng.integers(0, 151, (size, size), dtype=np.uint8),
                    'depth': rng.uniform(1, 9, (size, size)).astype(np.float32)}
''')


@pytest.fixture
def small_disk(tmp_path):
    "A real 1 MiB file system (tmpfs), mounted for the test; skipped where mounting is not permitted."
    disk = tmp_path/'disk'
    disk.mkdir()
    if shutil.which('mount') is None: pytest.skip('no mount command')
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(disk)], capture_output=True, text=True)
    if r.returncode: pytest.skip(f'cannot mount a small tmpfs to fill (needs root): {r.stderr.strip()}')
    try: yield disk
    finally: subprocess.run(['umount', str(disk)], check=True)


def _build(tmp_path, root, split, size, n):
    "Run `build_cache` of `n` items in its own process (a SIGBUS there must not take the test with it)."
    script = (f'import sys; sys.path.insert(0, {str(tmp_path)!r})\nfrom source import Source\n'
              'from depth_semantic_gan.cache import build_cache\n'
              f'build_cache(Source({n}), {str(root)!r}, {split!r}, {size}, chunk=8, workers=1, progress=False)\n')
    return subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)


def _fill(disk):
    "Take every free block of `disk`."
    fd = os.open(disk/'filler', os.O_WRONLY | os.O_CREAT)
    try:
        while True: os.write(fd, bytes(4096))
    except OSError as e: assert e.errno == errno.ENOSPC
    finally: os.close(fd)


def test_full_disk_fails_clearly(tmp_path, small_disk):
    (tmp_path/'source.py').write_text(SOURCE)
    sys.path.insert(0, str(tmp_path))
    from source import Source
    root = small_disk/'cache'
    build_cache(Source(10), root, 'val', 8, progress=False)   # a complete cache, to be left alone
    before = {p.name: p.read_bytes() for p in root.glob('val_8*')}

    # a fresh build of 100 x 64 px (1.6 MB of images) on a 1 MiB disk
    r = _build(tmp_path, root, 'train', 64, 100)
    assert r.returncode == 1, (r.returncode, r.stderr)    # -7 (SIGBUS) before the fix
    assert (f'OSError: [Errno 28] {root}/train_64.partial.npy: not enough disk space: '
            'the file needs 1,6' in r.stderr), r.stderr
    assert not list(root.glob('train_64*partial*'))                             # the useless fresh file is removed
    assert {p.name: p.read_bytes() for p in root.glob('val_8*')} == before
    assert CacheDataset(root, 'val', 8, depth='exact')[9]['id'] == 'item9'

    # a resumable partial build (sparse beyond its 40 finished items), resumed on a full disk: refused, kept
    build_cache(Source(100), tmp_path/'ref', 'train', 32, progress=False)
    with pytest.raises(DataError, match='item40.jpg'):
        build_cache(Source(100, fail_at=40), tmp_path/'part', 'train', 32, chunk=8, progress=False)
    for f in sorted((tmp_path/'part').glob('train_32*')):
        subprocess.run(['cp', '--sparse=always', str(f), str(root/f.name)], check=True)
    part = {f.name: f.read_bytes() for f in root.glob('train_32*')}
    assert sorted(part) == ['train_32.depth_exact.partial.npy', 'train_32.depth_exact.progress.json',
                            'train_32.ids.json', 'train_32.partial.npy', 'train_32.progress.json']
    _fill(small_disk)
    r = _build(tmp_path, root, 'train', 32, 100)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert (f'{root}/train_32.partial.npy: not enough disk space' in r.stderr
            and 'resumes where it stopped' in r.stderr), r.stderr
    assert {f.name: f.read_bytes() for f in root.glob('train_32*')} == part   # the partial build is intact
    (small_disk/'filler').unlink()
    build_cache(Source(100), root, 'train', 32, chunk=8, progress=False)       # room again: it resumes and finishes
    a, b = (CacheDataset(root, 'train', 32, depth='exact').arrays(),
            CacheDataset(tmp_path/'ref', 'train', 32, depth='exact').arrays())
    assert ((a['images'] == b['images']).all() and (a['labels'] == b['labels']).all()
            and (a['depth'] == b['depth']).all())
    assert {p.name: p.read_bytes() for p in root.glob('val_8*')} == before
