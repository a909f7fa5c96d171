"""Damaged model files, verified downloads and broken depth files for `depth_semantic_gan.depth` (02_pseudo_depth).

Moved out of the lesson, which keeps one statement of each behaviour."""
import shutil, zipfile

import numpy as np
import pytest
import torch

from depth_semantic_gan.cache import DepthWriter, build_cache, depth_path, depth_problem
from depth_semantic_gan.core import DownloadError, file_hash, seed_everything, serve_folder
from depth_semantic_gan.depth import (Monodepth2, Monodepth2Config, download_monodepth2, load_monodepth2,
                                      make_pseudo_depth, make_teacher, save_monodepth2)
from depth_semantic_gan.fixtures import FixtureSource


@pytest.fixture(scope='module')
def md_dir(tmp_path_factory):
    "A monodepth2 model folder in the official format, random weights, 64x96."
    seed_everything(1)
    return save_monodepth2(Monodepth2(Monodepth2Config(height=64, width=96)), tmp_path_factory.mktemp('md')/'random')


def broken_copy(md_dir, tmp_path, edit, file):
    "Copy of the model folder with `edit(state_dict)` applied to its checkpoint `file`."
    d = tmp_path/'broken'
    shutil.copytree(md_dir, d)
    sd = torch.load(d/file, weights_only=True)
    edit(sd)
    torch.save(sd, d/file)
    return d


@pytest.mark.parametrize('cut', [True, False])
def test_unreadable_checkpoints(md_dir, tmp_path, cut):
    "A download cut short, or an error page saved as the file."
    d = tmp_path/'bad'
    shutil.copytree(md_dir, d)
    (d/'encoder.pth').write_bytes((md_dir/'encoder.pth').read_bytes()[:1000] if cut else b'<html>404 Not Found</html>')
    with pytest.raises(ValueError, match='truncated or corrupt') as e: load_monodepth2(d)
    assert str(e.value).startswith(f"{d/'encoder.pth'} cannot be read as a PyTorch checkpoint")


def test_missing_folder_points_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match='download_monodepth2'): load_monodepth2(tmp_path/'nowhere')


def test_not_a_state_dict(md_dir, tmp_path):
    d = tmp_path/'list'
    shutil.copytree(md_dir, d)
    torch.save([1, 2], d/'depth.pth')
    with pytest.raises(ValueError, match='holds a list, not a state dict'): load_monodepth2(d)


def test_resnet50_encoder_refused(md_dir, tmp_path):
    "monodepth2 can be trained with a ResNet-50; no official depth model uses one."
    from torchvision.models import resnet50
    d = tmp_path/'r50'
    shutil.copytree(md_dir, d)
    torch.save(dict({'encoder.' + k: v for k, v in resnet50().state_dict().items()}, height=192, width=640,
                    use_stereo=False), d/'encoder.pth')
    with pytest.raises(ValueError, match='ResNet-50'): load_monodepth2(d)


def _set(key, value):
    def edit(sd): sd[key] = value
    return edit


def _del(key):
    def edit(sd): del sd[key]
    return edit


def _poison(key, value):
    def edit(sd): sd[key].view(-1)[0] = value
    return edit


@pytest.mark.parametrize('file, edit, msg', [
    ('encoder.pth', _set('encoder.conv1.weight', torch.zeros(64, 6, 7, 7)),   # the pose encoder's 6 input channels
     r'encoder.conv1.weight has shape \(64, 6, 7, 7\)'),
    ('depth.pth', _del('decoder.13.conv.bias'), r"1 keys missing \['decoder.13.conv.bias'\]"),
    ('encoder.pth', _del('height'), 'height'),
    ('encoder.pth', _poison('encoder.layer2.0.conv1.weight', float('nan')), 'encoder.layer2.0.conv1.weight holds NaN'),
    ('encoder.pth', _poison('encoder.bn1.running_var', float('inf')), 'encoder.bn1.running_var holds inf'),  # a buffer
    ('depth.pth', _poison('decoder.10.conv.bias', float('nan')), 'decoder.10.conv.bias holds NaN'),
])
def test_damaged_checkpoints_named(md_dir, tmp_path, file, edit, msg):
    d = broken_copy(md_dir, tmp_path, edit, file)
    with pytest.raises(ValueError, match=msg) as e: load_monodepth2(d)
    if 'holds' in msg: assert str(e.value).startswith(f'{d/file}: ')


def test_download_verified(md_dir, tmp_path):
    "The official MD5 rejects another zip before it is unpacked; its own MD5 accepts it; `+` travels as %2B."
    (tmp_path/'srv').mkdir()
    with zipfile.ZipFile(tmp_path/'srv'/'mono+stereo_640x192.zip', 'w') as z:
        for f in ('encoder.pth', 'depth.pth'): z.write(md_dir/f, f)
        z.writestr('pose.pth', b'not needed for depth')
    md5 = file_hash(tmp_path/'srv'/'mono+stereo_640x192.zip')
    models = tmp_path/'models'
    with serve_folder(tmp_path/'srv') as (url, srv):
        with pytest.raises(DownloadError, match='md5'):
            download_monodepth2('mono+stereo_640x192', models, base_url=url, progress=False)
        assert not (models/'mono+stereo_640x192').exists()
        got = download_monodepth2('mono+stereo_640x192', models, base_url=url, md5=md5, progress=False)
        assert got == models/'mono+stereo_640x192'
        assert load_monodepth2(got).cfg == Monodepth2Config(height=64, width=96)
        sent = srv.bytes_sent
        assert download_monodepth2('mono+stereo_640x192', models, base_url=url, md5=md5, progress=False) == got
        assert srv.bytes_sent == sent                                       # nothing fetched again
        with pytest.raises(DownloadError, match='HTTP 404'):
            download_monodepth2('mono_1024x320', models, base_url=url, progress=False)
        teacher = make_teacher('monodepth2-mono+stereo_640x192', model=got, device='cpu')
        assert teacher.name == 'monodepth2-mono+stereo_640x192'
    with pytest.raises(DownloadError, match='Are you offline?'):          # the server is gone
        download_monodepth2('mono_640x192', models, base_url=url)


def test_zip_without_model_files(tmp_path):
    (tmp_path/'srv').mkdir()
    with zipfile.ZipFile(tmp_path/'srv'/'mono_640x192.zip', 'w') as z: z.writestr('readme.txt', b'no weights')
    md5 = file_hash(tmp_path/'srv'/'mono_640x192.zip')
    with serve_folder(tmp_path/'srv') as (url, srv):
        with pytest.raises(DownloadError, match='holds no encoder.pth'):
            download_monodepth2('mono_640x192', tmp_path/'models', base_url=url, md5=md5, progress=False)


@pytest.fixture
def cache(tmp_path):
    "A tiny cache of the fixture source with its depth stored as 'exact'."
    build_cache(FixtureSource(3), tmp_path/'cache', 'val', 8, progress=False)
    return tmp_path/'cache'


def test_depth_problems_named(cache):
    assert depth_problem(cache, 'val', 8, 'exact') is None
    w = DepthWriter(cache, 'val', 8, 'half', 3); w.write(0, torch.zeros(1, 8, 8)); w.close()   # interrupted
    assert 'an unfinished write' in depth_problem(cache, 'val', 8, 'half')
    bad = depth_path(cache, 'val', 8, 'cut')
    bad.write_bytes(depth_path(cache, 'val', 8, 'exact').read_bytes()[:200])                   # truncated
    assert depth_problem(cache, 'val', 8, 'cut').startswith(f'{bad}: cannot be read')
    np.save(depth_path(cache, 'val', 8, 'f32'), np.zeros((3, 8, 8), np.float32))               # wrong type
    assert 'malformed, holds float32 (3, 8, 8), expected uint16 (3, 8, 8)' in depth_problem(cache, 'val', 8, 'f32')


def test_make_pseudo_depth_checks_its_source(cache):
    with pytest.raises(ValueError, match='pass the source the cache was built from'):
        make_pseudo_depth(make_teacher('exact-x', source=FixtureSource(4)), cache, 'val', 8,
                          source=FixtureSource(4), progress=False)
    with pytest.raises(ValueError, match='pass model='): make_teacher('hf-depth-anything')   # a local folder only
    with pytest.raises(FileNotFoundError, match='no such cache'):
        make_pseudo_depth(make_teacher('exact', source=FixtureSource(3)), cache, 'train', 8, progress=False)
