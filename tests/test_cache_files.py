"""Cache builds and depth writes meeting bad arguments, stale files, leftovers of killed writes, a full disk, and
caches made with another recipe (JPEG decode, resize policy) or before caches recorded one (91_cache)."""
import contextlib, errno, json, os

import numpy as np
import pytest
import torch

from depth_semantic_gan.cache import CacheDataset, DepthWriter, build_cache, check_recipe, depth_sources
from depth_semantic_gan.core import folder_lock
from depth_semantic_gan.data import ADE20KFiles, DataError, ade20k_recipe, make_pair, read_image
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


class Photos(ADE20KFiles):
    "`ADE20KFiles` over `n` tiny 40x30 validation pairs that counts its reads and cannot read item `fail_at`."
    def __init__(self, folder, n=4, fail_at=None, **kw):
        for i in range(n): make_pair(folder/'ADEChallengeData2016', 'validation', f'ADE_val_{i:08d}', seed=i)
        super().__init__(folder, 'val', **kw)
        self.fail_at, self.reads = fail_at, 0
    def read(self, i, size):
        if i == self.fail_at: raise DataError(f'{self.ids[i]}.jpg: cannot read image (test)')
        self.reads += 1
        return super().read(i, size)


def _files(root): return {p.name: p.read_bytes() for p in root.iterdir() if p.name != '.lock'}


def test_a_cache_of_another_decode_or_resize_is_refused(tmp_path):
    c, d = tmp_path/'cache', tmp_path/'ade'
    build_cache(Photos(d, draft=True), c, 'val', 8, progress=False)
    assert json.loads((c/'val_8.recipe.json').read_text()) == {'decode': 'draft', 'resize': 'stretch'}
    before = _files(c)
    with pytest.raises(FileExistsError, match=r"val_8\.npy: its images were made with decode 'draft' \(this source: "
                                              r"'full'\); delete .*/cache/val_8\.\* \(images, ids, recipe, depth\)"):
        build_cache(Photos(d), c, 'val', 8, progress=False)
    with pytest.raises(FileExistsError, match=r"made with resize 'stretch' \(this source: 'crop'\); delete"):
        build_cache(Photos(d, resize='crop', draft=True), c, 'val', 8, progress=False)
    with pytest.raises(FileExistsError, match="decode 'draft' \\(this source: 'full'\\)"):   # without a source
        check_recipe(c, 'val', 8, ade20k_recipe())
    assert _files(c) == before                                                      # nothing touched
    check_recipe(c, 'val', 8, ade20k_recipe(draft=True)); check_recipe(c, 'train', 8, ade20k_recipe())  # same; none
    src = Photos(d, draft=True)
    assert build_cache(src, c, 'val', 8, progress=False) == c/'val_8.npy' and src.reads == 0   # the same: reused
    draft = CacheDataset(c, 'val', 8).arrays()['images']
    for f in c.glob('val_8.*'): f.unlink()                                          # as the message says
    build_cache(Photos(d), c, 'val', 8, progress=False)
    full = CacheDataset(c, 'val', 8)
    assert full.recipe == {'decode': 'full', 'resize': 'stretch'}
    assert np.array_equal(full.arrays()['images'][1].numpy(), read_image(Photos(d).paths(1)[0], 8))
    assert not np.array_equal(full.arrays()['images'].numpy(), draft.numpy())     # a different picture indeed


def test_a_cache_without_record_is_refused_for_a_recipe_and_kept_without_one(tmp_path):
    c = tmp_path/'cache'
    build_cache(Photos(tmp_path/'ade'), c, 'val', 8, progress=False)
    (c/'val_8.recipe.json').unlink()                                   # as every cache was before the record
    with pytest.raises(FileExistsError, match=r'val_8\.npy: it records no recipe \(made before caches recorded one, '
                                              r'when ADE20K JPEGs were decoded at reduced scale\).*; delete'):
        build_cache(Photos(tmp_path/'ade'), c, 'val', 8, progress=False)
    _build(Source(3), tmp_path/'fx')                                   # sources without a recipe: scenes, fixtures
    assert not list((tmp_path/'fx').glob('*recipe*')) and CacheDataset(tmp_path/'fx', 'train', 4).recipe == {}
    src = Source(3)
    assert _build(src, tmp_path/'fx') == tmp_path/'fx'/'train_4.npy' and src.reads == 0     # reused as before


def test_an_unfinished_build_of_another_recipe_starts_over(tmp_path):
    c, d = tmp_path/'cache', tmp_path/'ade'
    with pytest.raises(DataError, match='ADE_val_00000002.jpg'):
        build_cache(Photos(d, fail_at=2, draft=True), c, 'val', 8, chunk=1, progress=False)
    assert json.loads((c/'val_8.progress.json').read_text())['done'] == 2
    src = Photos(d)
    build_cache(src, c, 'val', 8, chunk=1, progress=False)
    assert src.reads == 4                                              # nothing of the draft build kept
    build_cache(Photos(d), tmp_path/'ref', 'val', 8, progress=False)
    assert _files(c) == _files(tmp_path/'ref')                         # as a fresh build, recipe included
    # an unfinished build of the same recipe resumes; one of an older version (no recipe in its progress) starts over
    for old, reads in ((False, 2), (True, 4)):
        c = tmp_path/f'cache_{old}'
        with pytest.raises(DataError): build_cache(Photos(d, fail_at=2), c, 'val', 8, chunk=1, progress=False)
        if old:
            state = json.loads((c/'val_8.progress.json').read_text())
            (c/'val_8.progress.json').write_text(json.dumps({k: v for k, v in state.items() if k != 'recipe'}))
        src = Photos(d)
        build_cache(src, c, 'val', 8, chunk=1, progress=False)
        assert src.reads == reads and _files(c) == _files(tmp_path/'ref')
