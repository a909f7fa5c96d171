"""Equivalence of `depth_semantic_gan.depth` with the public monodepth2 code (github.com/nianticlabs/monodepth2).

The reference is not part of this project (its licence is non-commercial): point `MONODEPTH2_REF` at a checkout to run
this test, e.g. `MONODEPTH2_REF=/path/to/monodepth2 python -m pytest -q tests/test_monodepth2_reference.py`.
Random weights (BatchNorm statistics included) are saved by the reference modules in the official file format, loaded
by ours, and both are run on the same input, directly and along the reference `test_simple.py` path.
"""
import importlib, os, sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

REF = os.environ.get('MONODEPTH2_REF')
pytestmark = pytest.mark.skipif(not REF or not (Path(REF)/'networks'/'depth_decoder.py').is_file(),
                                reason='set MONODEPTH2_REF to a monodepth2 checkout to compare against it')


@pytest.fixture(scope='module')
def ref():
    importlib.import_module('depth_semantic_gan.depth')   # binds torchvision's resnet18 before the patch
    sys.path.insert(0, REF)
    r18 = torchvision.models.resnet18
    torchvision.models.resnet18 = lambda pretrained=False, **k: r18(weights=None, **k)   # the reference's old call
    try:
        import networks
        torch.manual_seed(0)
        enc = networks.ResnetEncoder(18, False); dec = networks.DepthDecoder(enc.num_ch_enc, range(4))
    finally: torchvision.models.resnet18 = r18
    with torch.no_grad():
        for m in list(enc.modules()) + list(dec.modules()):
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2); m.running_var.uniform_(0.5, 2.)
                m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.2, 0.2)
            if isinstance(m, torch.nn.Conv2d) and m.bias is not None: m.bias.uniform_(-0.1, 0.1)
    return enc.eval(), dec.eval()


def _save(enc, dec, d, h, w):
    torch.save(dict(enc.state_dict(), height=h, width=w, use_stereo=False), d/'encoder.pth')
    torch.save(dec.state_dict(), d/'depth.pth')
    return d


def test_network_matches_reference(ref, tmp_path):
    from depth_semantic_gan.depth import load_monodepth2
    enc, dec = ref
    mine = load_monodepth2(_save(enc, dec, tmp_path, 192, 640))
    x = torch.rand(2, 3, 192, 640)
    with torch.no_grad(): r, m = dec(enc(x)), mine(x)
    for s in range(4): torch.testing.assert_close(m[s], r[('disp', s)], rtol=0, atol=1e-6)


def test_test_simple_path_matches_reference(ref, tmp_path):
    "Lanczos resize to the training size, disparity resized back bilinearly to the photo size, disp_to_depth."
    from PIL import Image
    from layers import disp_to_depth
    from torchvision import transforms
    from depth_semantic_gan.core import depth_to_target
    from depth_semantic_gan.depth import Monodepth2Teacher
    enc, dec = ref
    teacher = Monodepth2Teacher(_save(enc, dec, tmp_path, 192, 640), device='cpu')
    rng = np.random.default_rng(0)
    for h, w in [(375, 500), (512, 683), (200, 130)]:           # none a multiple of 32
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        with torch.no_grad():
            disp = dec(enc(transforms.ToTensor()(img.resize((640, 192), Image.LANCZOS))[None]))[('disp', 0)]
        ref_disp = torch.nn.functional.interpolate(disp, (h, w), mode='bilinear', align_corners=False)
        torch.testing.assert_close(teacher.disparity([np.asarray(img)])[0], ref_disp[0], rtol=0, atol=1e-6)
        ref_scaled, ref_depth = disp_to_depth(ref_disp, 0.1, 100)              # 1 / depth, depth
        torch.testing.assert_close(teacher.predict([np.asarray(img)])[0], ref_scaled[0], rtol=1e-5, atol=0)
        torch.testing.assert_close(1 / teacher.predict([np.asarray(img)])[0], ref_depth[0], rtol=1e-5, atol=0)
        # the stored target is the reference depth map as normalised inverse depth
        torch.testing.assert_close(teacher([np.asarray(img)])[0], depth_to_target(ref_depth[0]), rtol=0, atol=1e-4)
