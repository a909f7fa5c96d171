"""VGG19 weights files that are missing, damaged or not VGG19, and downloads that fail (`depth_semantic_gan.vgg`).

Moved out of nbs/03a_vgg.ipynb, which keeps one demonstration of each rule. Every file here is made by
`write_random_vgg19` (random weights, ~80 MB); downloads use `file://` addresses and a local port where nothing listens,
never the network.
"""
import shutil, socket
from pathlib import Path

import pytest
import torch

import depth_semantic_gan.vgg as vgg_mod
from depth_semantic_gan.core import DownloadError, file_hash
from depth_semantic_gan.vgg import (VGG19_FILE, VGG19_URL, VGGLoss, VGGWeightsInvalid, VGGWeightsMissing,
                                    check_vgg19_hash, download_vgg19, find_vgg19_weights, vgg19_cache_path,
                                    write_random_vgg19)


@pytest.fixture(scope='module')
def rnd(tmp_path_factory):
    "A random VGG19 file in torchvision's format, and its SHA-256."
    path = write_random_vgg19(tmp_path_factory.mktemp('vgg')/'my-vgg19.pth')
    return path, file_hash(path, 'sha256')


@pytest.fixture
def cache(tmp_path, monkeypatch):
    "The torch hub cache's `checkpoints` folder under a fresh `$TORCH_HOME`."
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'home'))
    return Path(torch.hub.get_dir())/'checkpoints'


def test_loss_refuses_bad_files(tmp_path):
    torch.save({'features.0.weight': torch.zeros(1)}, tmp_path/'bad.pth')
    with pytest.raises(VGGWeightsInvalid, match='bad.pth is not a torchvision vgg19 state_dict'):
        VGGLoss(tmp_path/'bad.pth')
    with pytest.raises(VGGWeightsMissing, match='not found: /nonexistent/vgg19.pth'): VGGLoss('/nonexistent/vgg19.pth')


def test_own_file_checked_by_loading(rnd, tmp_path):
    path, _ = rnd
    assert find_vgg19_weights(path) == path
    (tmp_path/'notes.txt').write_text('not weights')
    with pytest.raises(VGGWeightsInvalid, match='notes.txt is not a torchvision vgg19 state_dict'):
        find_vgg19_weights(tmp_path/'notes.txt')
    torch.save({'features.0.weight': torch.zeros(64, 3, 3, 3)}, tmp_path/'part.pth')
    with pytest.raises(VGGWeightsInvalid): find_vgg19_weights(tmp_path/'part.pth')   # keys missing
    with pytest.raises(FileNotFoundError, match='VGG19 weights file not found: ' + str(tmp_path/'none.pth')):
        find_vgg19_weights(tmp_path/'none.pth')


def test_cached_file_hash_checked(rnd, cache, monkeypatch):
    path, digest = rnd
    assert vgg19_cache_path() == cache/VGG19_FILE
    with pytest.raises(VGGWeightsMissing) as e: find_vgg19_weights()
    assert isinstance(e.value, FileNotFoundError)
    for s in (VGG19_FILE, str(cache), VGG19_URL, '--vgg-weights PATH', '--no-vgg'): assert s in str(e.value), s
    cache.mkdir(parents=True)
    shutil.copy(path, cache/VGG19_FILE)                                 # the right name, other contents
    with pytest.raises(VGGWeightsInvalid) as e: find_vgg19_weights()
    for s in (str(cache/VGG19_FILE), 'does not start with dcbb9e9d', digest): assert s in str(e.value), s
    own = shutil.copy(path, cache/f'vgg19-{digest[:8]}.pth')            # a name carrying the file's own hash prefix
    assert check_vgg19_hash(own) == own
    monkeypatch.setattr(vgg_mod, 'VGG19_FILE', own.name)                # a cached file that passes the check
    assert find_vgg19_weights() == own
    with pytest.raises(ValueError, match='my-vgg19.pth carries no hash prefix'): check_vgg19_hash(path)


def test_download(rnd, cache, tmp_path):
    path, digest = rnd
    server = tmp_path/'server'
    server.mkdir()
    good = shutil.copy(path, server/f'vgg19-{digest[:12]}.pth')
    got = download_vgg19(good.as_uri(), progress=False)
    assert got == cache/good.name and file_hash(got, 'sha256') == digest
    good.unlink()
    assert download_vgg19(good.as_uri(), progress=False) == got         # already in the cache: not fetched again
    with pytest.raises(VGGWeightsInvalid) as e:
        download_vgg19(shutil.copy(path, server/VGG19_FILE).as_uri(), progress=False)
    for s in ('dcbb9e9d', digest, 'nothing was saved', '--no-vgg'): assert s in str(e.value), s
    assert sorted(p.name for p in cache.iterdir()) == [good.name]       # no VGG19_FILE, no partial file left


def test_download_unreachable(cache, tmp_path):
    with socket.socket() as s:                                          # a port where nothing listens: as offline
        s.bind(('127.0.0.1', 0))
        with pytest.raises(DownloadError) as e:
            download_vgg19(f'http://127.0.0.1:{s.getsockname()[1]}/{VGG19_FILE}', progress=False)
    for s in ('Cannot download http://127.0.0.1', 'Offline?', str(cache/VGG19_FILE), '--vgg-weights PATH', '--no-vgg'):
        assert s in str(e.value), s
    with pytest.raises(DownloadError, match='Cannot download file://'):
        download_vgg19((tmp_path/'nowhere'/VGG19_FILE).as_uri())
    with pytest.raises(ValueError, match='carries no hash prefix'): download_vgg19('file:///x/vgg19.pth')
