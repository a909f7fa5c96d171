"""FID's and the metrics' handling of bad input: damaged statistics files, shapes that do not fit, folders that hold
broken or no images, and the SciPy shim of pytorch-fid's command line. Each error names what is wrong (the lessons,
`06_fid` and `06a_metrics`, show the behaviour on good input). No Inception network runs here: a few seconds in all.
"""
import numpy as np
import pytest
import torch
from PIL import Image

from depth_semantic_gan.fid import FIDStats, folder_batches, frechet_distance, image_files, kid, png_quantize
from depth_semantic_gan.metrics import (_SQRTM_SHIM, depth_grey, depth_metrics, paired_bootstrap, save_results,
                                        scipy_needs_sqrtm_shim, shading_error)


def test_frechet_distance_refuses_bad_statistics():
    with pytest.raises(ValueError, match='shapes'):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match='NaN'):
        frechet_distance(np.zeros(2), np.full((2, 2), np.nan), np.zeros(2), np.eye(2))


def test_kid_refuses_bad_features():
    x = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(ValueError, match='do not match'): kid(x[:, :3], x, device='cpu')
    with pytest.raises(ValueError, match='at least 2 samples'): kid(x[:1], x, device='cpu')


def test_png_quantize_refuses_floats_outside_the_image_range():
    "Float images in 0..255, or NaN, are refused before rounding (clipping would hide them)."
    with pytest.raises(ValueError, match=r'must lie in \[-1, 1\], got \[0, 255\]'):
        png_quantize(torch.tensor([0., 255.]).view(1, 1, 1, 2))
    with pytest.raises(ValueError, match='must lie in'): png_quantize(torch.full((1, 3, 2, 2), float('nan')))


def test_statistics_files(tmp_path):
    s = FIDStats.from_features(np.random.default_rng(0).random((5, 8)))
    np.savez(tmp_path/'other.npz', x=np.zeros(2))                 # an .npz, but not of FID statistics
    with pytest.raises(ValueError, match='other.npz: no mu/sigma'): FIDStats.load(tmp_path/'other.npz')
    with pytest.raises(ValueError, match=r'\.npz'): s.save(tmp_path/'s.npy')   # pytorch-fid recognises .npz only
    with pytest.raises(ValueError, match='N >= 2'): FIDStats.from_features(np.zeros((1, 8)))
    (tmp_path/'cut.npz').write_bytes(s.save(tmp_path/'s.npz').read_bytes()[:50])
    with pytest.raises(Exception): FIDStats.load(tmp_path/'cut.npz')


def test_folders(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path/'0.png')
    (tmp_path/'1.PNG').write_bytes(b'')                            # upper-case extension: ignored, as by pytorch-fid
    assert [p.name for p in image_files(tmp_path)] == ['0.png']
    (tmp_path/'5.png').write_bytes(b'broken')
    with pytest.raises(ValueError, match='5.png'): list(folder_batches(tmp_path))
    with pytest.raises(FileNotFoundError, match='nowhere'): image_files(tmp_path/'nowhere')
    (tmp_path/'empty').mkdir()
    with pytest.raises(ValueError, match='holds no images'): image_files(tmp_path/'empty')


def test_metrics_refuse_bad_shapes():
    with pytest.raises(ValueError, match=r'\(N, 1, H, W\)'): depth_grey(torch.zeros(1, 3, 4, 4))
    gt = torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match='must both be'): depth_metrics(gt, gt[:, :, :4])
    img, lab = torch.zeros(2, 3, 8, 8), torch.zeros(2, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError, match=r'must be \(N, H, W\) of the images'): shading_error(img, img, lab[:, :4])
    with pytest.raises(ValueError, match='must have one shape'): shading_error(img, img[:1], lab)
    with pytest.raises(ValueError, match='expected'): shading_error(img[:, :1], img[:, :1], lab)
    with pytest.raises(ValueError, match='equal-length'): paired_bootstrap([1., 2.], [1.])


def test_save_results_refuses_bad_batches(tmp_path):
    img = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match='2 images for 1 ids'):
        save_results(tmp_path, 'x', ['a'], dict(synthesized_image=img))
    with pytest.raises(ValueError, match='0..255'):
        save_results(tmp_path, 'x', ['a'], dict(input_label=torch.full((1, 4, 4), 300)))


def test_sqrtm_shim(monkeypatch):
    "pytorch-fid 0.3.0 passes `disp=False` to `scipy.linalg.sqrtm`; the shim accepts it where SciPy >= 1.18 does not."
    import scipy.linalg
    monkeypatch.setattr(scipy.linalg, 'sqrtm', lambda A, **kw: np.sqrt(A))   # a SciPy >= 1.18-like signature
    assert scipy_needs_sqrtm_shim()
    exec(_SQRTM_SHIM.split('import runpy')[0], {})
    res, err = scipy.linalg.sqrtm(np.eye(2) * 4, disp=False)
    np.testing.assert_array_equal(res, np.eye(2) * 2)
    np.testing.assert_array_equal(scipy.linalg.sqrtm(np.eye(2) * 9), np.eye(2) * 3)
