"""Broken files and hostile downloads for `depth_semantic_gan.data` (01_data): each error names the file and says why.

Moved out of the lesson, which keeps one statement of each behaviour."""
import shutil, stat, struct, zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from depth_semantic_gan.core import DownloadError, file_hash, serve_folder
from depth_semantic_gan.data import (ADE20K_MAX_BYTES, ADE20K_PAIRS, ADE20K_SHA1, ADE20KFiles, DataError,
                                     download_ade20k, make_pair, read_image, read_label)

TINY = {'training': 3, 'validation': 2}


@pytest.fixture
def pair(tmp_path):
    return make_pair(tmp_path/'ADEChallengeData2016', 'validation', 'ADE_val_00000001')


def test_unreadable_image(tmp_path, pair):
    (tmp_path/'broken.jpg').write_bytes(pair[0].read_bytes()[:100])   # a JPEG cut short
    with pytest.raises(DataError, match='broken.jpg: cannot read image'): read_image(tmp_path/'broken.jpg', 8)


def test_draft_decoding_is_opt_in_and_for_jpegs_only(tmp_path, pair):
    with Image.open(pair[0]) as im: ref = np.asarray(im.convert('RGB').resize((8, 8), Image.BICUBIC))
    draft = read_image(pair[0], 8, draft=True)
    assert np.array_equal(read_image(pair[0], 8), ref) and not np.array_equal(draft, ref)
    assert np.array_equal(ADE20KFiles(tmp_path, 'val', draft=True).read(0, 8)['image'], draft)   # passed on
    assert np.array_equal(ADE20KFiles(tmp_path, 'val').read(0, 8)['image'], ref)
    Image.open(pair[0]).save(tmp_path/'photo.png')                               # no reduced-scale decode for PNG
    assert np.array_equal(read_image(tmp_path/'photo.png', 8, draft=True), read_image(tmp_path/'photo.png', 8))


def test_bad_label_maps(tmp_path):
    (tmp_path/'junk.png').write_bytes(b'not a png')
    with pytest.raises(DataError, match='junk.png: cannot read label map'): read_label(tmp_path/'junk.png', 8)
    Image.fromarray(np.full((4, 4), 200, np.uint8)).save(tmp_path/'big.png')
    with pytest.raises(DataError, match='big.png: label values go up to 200'): read_label(tmp_path/'big.png', 4)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path/'rgb.png')   # a colour-coded map
    with pytest.raises(DataError, match='colors_to_ids'): read_label(tmp_path/'rgb.png', 4)


def test_bad_pairs_named(tmp_path):
    bad = tmp_path/'bad'/'ADEChallengeData2016'
    make_pair(bad, 'training', 'ADE_train_1'); ip2, lp2 = make_pair(bad, 'training', 'ADE_train_2')
    lp2.unlink()
    with pytest.raises(DataError, match='ADE_train_2.png is missing'): ADE20KFiles(bad, 'train')
    make_pair(bad, 'training', 'ADE_train_2', w=41)
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(lp2)
    with pytest.raises(DataError, match='ADE_train_2.png: label map is 40x30 but its image is 41x30'):
        ADE20KFiles(bad, 'train').read(1, 8)
    ip2.write_bytes(b'\xff\xd8junk')
    with pytest.raises(DataError, match='ADE_train_2.jpg: cannot read image'): ADE20KFiles(bad, 'train').read(1, 8)


def test_bad_depth_map(tmp_path, pair):
    dd = tmp_path/'depth'; dd.mkdir()
    np.save(dd/'ADE_val_00000001.npy', np.ones((30, 41), np.float32))
    with pytest.raises(DataError, match=r'expected \(H, W\) = \(30, 40\)'):
        ADE20KFiles(tmp_path/'ADEChallengeData2016', 'val', depth=dd).read(0, 8)
    np.save(dd/'ADE_val_00000001.npy', np.zeros((30, 40), np.float32))
    with pytest.raises(DataError, match='finite and > 0'):
        ADE20KFiles(tmp_path/'ADEChallengeData2016', 'val', depth=dd).read(0, 8)


@pytest.fixture
def web(tmp_path):
    "A folder holding a tiny ADE20K zip (3 training and 2 validation pairs)."
    src = tmp_path/'zipsrc'
    for i in range(3): make_pair(src/'ADEChallengeData2016', 'training', f'ADE_train_{i:08d}', seed=i)
    for i in range(2): make_pair(src/'ADEChallengeData2016', 'validation', f'ADE_val_{i:08d}', seed=9 + i)
    shutil.make_archive(tmp_path/'web'/'ADEChallengeData2016', 'zip', src)
    return tmp_path/'web'


def test_download_verify_resume_offline(tmp_path, web):
    zsha = file_hash(web/'ADEChallengeData2016.zip', 'sha1')
    with serve_folder(web) as (base, srv):
        url = f'{base}/ADEChallengeData2016.zip'
        with pytest.raises(DataError, match=r"pairs per split are \{'training': 3, 'validation': 2\}"):
            download_ade20k(tmp_path/'dl0', url, sha1=zsha, pairs=ADE20K_PAIRS)
        got = download_ade20k(tmp_path/'dl', url, sha1=zsha, pairs=TINY)
        assert got == tmp_path/'dl'/'ADEChallengeData2016'
        assert ADE20KFiles(got, 'val').read(1, 8)['image'].shape == (8, 8, 3)
        assert sorted(p.name for p in (tmp_path/'dl').iterdir()) == ['ADEChallengeData2016']
        sent = srv.bytes_sent
        assert download_ade20k(tmp_path/'dl', url, sha1=zsha, pairs=TINY) == got   # already there: no traffic
        assert srv.bytes_sent == sent
        data = (web/'ADEChallengeData2016.zip').read_bytes(); (tmp_path/'dl2').mkdir()   # resume a partial download
        (tmp_path/'dl2'/'ADEChallengeData2016.zip.part').write_bytes(data[:len(data) // 2])
        download_ade20k(tmp_path/'dl2', url, sha1=zsha, pairs=TINY)
        assert srv.bytes_sent - sent == len(data) - len(data) // 2
    with pytest.raises(DownloadError, match='Are you offline?'):   # the server is gone
        download_ade20k(tmp_path/'dl3', url, sha1=zsha, pairs=TINY)


def test_default_sha1_refuses_other_zips(tmp_path, web):
    with serve_folder(web) as (base, srv):
        with pytest.raises(DownloadError) as e: download_ade20k(tmp_path/'dlh', f'{base}/ADEChallengeData2016.zip')
    zsha = file_hash(web/'ADEChallengeData2016.zip', 'sha1')
    assert str(e.value) == (f'{tmp_path}/dlh/ADEChallengeData2016.zip.part: sha1 is {zsha}, expected {ADE20K_SHA1}; '
                            'the file is corrupt or not the one expected. Delete it and download again.')
    assert list((tmp_path/'dlh').iterdir()) == []   # nothing unpacked, nothing kept


def test_unpaired_zip_not_unpacked(tmp_path, web):
    src = tmp_path/'zipsrc'
    (src/'ADEChallengeData2016/annotations/training/ADE_train_00000001.png').unlink()
    shutil.make_archive(tmp_path/'web2'/'ADEChallengeData2016', 'zip', src)
    with serve_folder(tmp_path/'web2') as (base, srv):
        with pytest.raises(DataError, match='e.g. ADE_train_00000001'):
            download_ade20k(tmp_path/'dl4', f'{base}/ADEChallengeData2016.zip', sha1=None, pairs=TINY)
    assert sorted(p.name for p in (tmp_path/'dl4').iterdir()) == ['ADEChallengeData2016.zip']


def ade_zip(web, path, *extra):
    "The tiny ADE20K zip plus `extra` `(name or ZipInfo, bytes)` members."
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(web/'ADEChallengeData2016.zip') as src, zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for i in src.infolist(): z.writestr(i, src.read(i))
        for name, data in extra: z.writestr(name, data)
    return path


def declare_size(path, name, size):
    "Make zip member `name` declare `size` bytes (in its local header and in the directory) whatever it holds."
    b = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z: struct.pack_into('<I', b, z.getinfo(name).header_offset + 22, size)
    i = b.find(b'PK\x01\x02')
    while i >= 0:
        if b[i + 46:i + 46 + struct.unpack_from('<H', b, i + 28)[0]] == name.encode():
            struct.pack_into('<I', b, i + 24, size)
        i = b.find(b'PK\x01\x02', i + 4)
    path.write_bytes(bytes(b))


def test_zip_bombs_and_lying_sizes(tmp_path, web):
    "A bomb is refused from its directory's sizes before anything is written; a member declaring less fails its CRC."
    pad = 'ADEChallengeData2016/pad.bin'
    bomb = ade_zip(web, tmp_path/'web3'/'bomb'/'ADEChallengeData2016.zip', (pad, bytes(2 << 20)))
    assert bomb.stat().st_size < 100_000
    big = ade_zip(web, tmp_path/'web3'/'big'/'ADEChallengeData2016.zip', (pad, bytes(1 << 20)))
    declare_size(big, pad, 3 << 30)   # says 3 GiB
    liar = ade_zip(web, tmp_path/'web3'/'liar'/'ADEChallengeData2016.zip', (pad, bytes(1 << 20)))
    declare_size(liar, pad, 10)       # says 10 bytes, holds 1 MiB
    with serve_folder(tmp_path/'web3') as (base, srv):
        def get(name, **kw):
            return download_ade20k(tmp_path/'dl_'/name, f'{base}/{name}/ADEChallengeData2016.zip', sha1=None,
                                   pairs=TINY, **kw)
        total = sum(i.file_size for i in zipfile.ZipFile(bomb).infolist())
        with pytest.raises(DataError, match=f'members unpack to {total:,} bytes, more than max_bytes=1,048,576'):
            get('bomb', max_bytes=1 << 20)
        with pytest.raises(DataError, match=f'more than max_bytes={ADE20K_MAX_BYTES:,}'): get('big')
        with pytest.raises(DataError, match="Bad CRC-32 for file 'ADEChallengeData2016/pad.bin'"): get('liar')
        for name in ('bomb', 'big', 'liar'):   # nothing unpacked: only the zip is there
            assert sorted(p.name for p in (tmp_path/'dl_'/name).iterdir()) == ['ADEChallengeData2016.zip']
        assert (get('bomb')/'pad.bin').stat().st_size == 2 << 20   # under the default limit it is just a big file


def test_members_cannot_escape(tmp_path, web):
    "`../` and absolute names, and link members, cannot write outside the destination."
    link = zipfile.ZipInfo('ADEChallengeData2016/link')
    link.external_attr = (stat.S_IFLNK | 0o777) << 16   # a symbolic link
    out = tmp_path/'dl_'/'evil'/'inner'
    ade_zip(web, tmp_path/'web4'/'ADEChallengeData2016.zip', ('../evil', b'x'), ('../../evil', b'x'),
            ('/abs_evil', b'x'), (link, '../../../evil'))
    with serve_folder(tmp_path/'web4') as (base, srv):
        got = download_ade20k(out, f'{base}/ADEChallengeData2016.zip', sha1=None, pairs=TINY)
    assert sorted(p.name for p in out.iterdir()) == ['ADEChallengeData2016']   # nothing beside the dataset...
    assert sorted(p.name for p in out.parent.iterdir()) == ['inner']           # ...nor above it
    assert not Path('/abs_evil').exists() and not (got/'link').is_symlink()
    assert (got/'link').read_text() == '../../../evil'
