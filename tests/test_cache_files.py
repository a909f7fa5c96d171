"Cache builds and depth writes meeting bad arguments, stale files, leftovers of killed writes, a full disk (91_cache)."
import contextlib, errno, json, os

import numpy as np
import pytest
import torch

from depth_semantic_gan.cache import CacheDataset, DepthWriter, build_cache, depth_sources
from depth_semantic_gan.core import folder_lock
from depth_semantic_gan.data import DataError
from depth_semantic_gan.fixtures import FixtureSource


class Source(FixtureSource):
    "`FixtureSource` that counts its reads, cannot read item `fail_at`, and gives depth only if `depth`."
    def __init__(self, n=10, fail_at=None, depth=True):
        super().__init__(n)
        self.fail_at, self.reads, self.depth = fail_at, 0, depth
    def read(self, i, size):
        if i == self.fail_at: raise DataError(f'{self.ids[i]}.jpg: cannot read image (test)')
        self.reads += 1
        r = super().read(i, size)
        return r if self.depth is True or (self.depth == 'odd' and i % 2) else {**r, 'depth': None}


def _build(src, root, split='train', **kw): return build_cache(src, root, split, 4, progress=False, **kw)


def test_depth_writer_refuses_gaps_and_other_shapes(tmp_path):
    (tmp_path/'val_4.ids.json').write_text(json.dumps(['a', 'b', 'c']))
    w = DepthWriter(tmp_path, 'val', 4, 'teacher')
    w.write(0, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match='items 0..0 are done, writing at 2 would leave a gap'):
        w.write(2, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match=r'targets must be \(B, 4, 4\) or \(B, 1, 4, 4\)'):
        w.write(1, torch.zeros(1, 2, 8))
    with pytest.raises(ValueError, match='exceed N = 3'): w.write(1, torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match='NaN or inf'): w.write(1, torch.full((1, 4, 4), float('nan')))
    with pytest.raises(ValueError, match='bad depth source name'): DepthWriter(tmp_path, 'val', 4, '../x')
    w.write(1, torch.zeros(2, 4, 4))
    with pytest.raises(FileExistsError, match='is complete; delete it to write it again'):
        w.write(0, torch.zeros(1, 4, 4))


def test_a_split_of_other_items_or_stale_depth_is_not_adopted(tmp_path):
    _build(Source(), tmp_path)
    assert _build(Source(), tmp_path) == tmp_path/'train_4.npy'                    # already built: nothing to do
    with pytest.raises(FileExistsError, match='holds other items'): _build(Source(2), tmp_path)
    (tmp_path/'train_4.npy').rename(tmp_path/'old.npy')   # the images are gone, their depth is not
    with pytest.raises(FileExistsError, match='train_4.depth_exact.npy \\(and 0 more\\) belong to an earlier'):
        _build(Source(), tmp_path)


def test_items_must_all_give_depth_or_none(tmp_path):
    with pytest.raises(DataError, match='item 1 \\(fx001\\) has depth, unlike the items before it'):
        _build(Source(3, depth='odd'), tmp_path)
    _build(Source(3, depth=False), tmp_path, 'val')
    assert depth_sources(tmp_path, 'val', 4) == []


def test_leftovers_removed_and_lock_released(tmp_path):
    (tmp_path/'.train_4.progress.json.x1y2z3.tmp').write_text('{"do')   # what a kill -9 during an atomic write leaves
    _build(Source(3), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.lock', 'train_4.depth_exact.npy', 'train_4.ids.json',
                                                          'train_4.npy']
    with folder_lock(tmp_path): pass   # not held any more (it would raise `FolderBusy`), also after a failed build:
    with pytest.raises(DataError, match='fx001.jpg'): _build(Source(fail_at=1), tmp_path, 'val', chunk=1)
    with folder_lock(tmp_path): pass


@contextlib.contextmanager
def _disk_full():
    "`os.posix_fallocate` fails as on a full disk."
    def no_space(fd, offset, length): raise OSError(errno.ENOSPC, 'No space left on device')
    real, os.posix_fallocate = os.posix_fallocate, no_space
    try: yield
    finally: os.posix_fallocate = real


@pytest.mark.skipif(not hasattr(os, 'posix_fallocate'), reason='no posix_fallocate: nothing is reserved')
def test_full_disk(tmp_path):
    "Fresh partial files are removed, a resumable one is kept and resumes once there is room; complete files stay."
    _build(Source(3), tmp_path, 'val')                                 # a complete cache in the same folder
    before = {p.name: p.read_bytes() for p in tmp_path.glob('val_4*')}
    with _disk_full():
        with pytest.raises(OSError, match=f'{tmp_path}/train_4.partial.npy: not enough disk space: the file needs'):
            _build(Source(), tmp_path)
        with pytest.raises(OSError, match='val_4.depth_teacher.partial.npy: not enough disk space'):
            DepthWriter(tmp_path, 'val', 4, 'teacher')
    assert sorted(p.name for p in tmp_path.glob('*partial*')) == []
    assert {p.name: p.read_bytes() for p in tmp_path.glob('val_4*')} == before
    with pytest.raises(DataError, match='fx004.jpg'): _build(Source(fail_at=4), tmp_path, chunk=2)
    part = (tmp_path/'train_4.partial.npy').read_bytes()
    with _disk_full(), pytest.raises(OSError, match='resumes where it stopped'):   # resuming needs the space too
        _build(Source(), tmp_path, chunk=2)
    assert (tmp_path/'train_4.partial.npy').read_bytes() == part
    assert json.loads((tmp_path/'train_4.progress.json').read_text())['done'] == 4
    src = Source()
    _build(src, tmp_path, chunk=2)
    assert src.reads == 6                                                # resumed at item 4
    labels = CacheDataset(tmp_path, 'train', 4, depth='exact').arrays()['labels']
    assert np.array_equal(labels[7].numpy(), Source().read(7, 4)['label'])
    with folder_lock(tmp_path): pass
