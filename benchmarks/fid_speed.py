"""FID of N vs N 64-px PNG images: the project's `evaluate` against the pytorch-fid command line, same folders, one run.

    python benchmarks/fid_speed.py                  # 2,000 vs 2,000, default device (the GPU when present)
    python benchmarks/fid_speed.py --n 100          # a quick check on a CPU

Both sides are timed end to end from the PNG folders to the number: the command line as a fresh process (interpreter,
imports, network, features, `scipy.linalg.sqrtm`), the project cold (network built in this process) and warm (network
already built, as inside a training run). The project also computes KID. Where SciPy >= 1.18 removed `sqrtm(disp=...)`,
the command line runs with a shim that restores the argument (see `depth_semantic_gan.metrics.run_pytorch_fid`); the
output says so. `--weights random` writes randomly initialised weights in pytorch-fid's layout into a temporary
TORCH_HOME for both sides, accepted by the weights check through `$DSG_FID_WEIGHTS_SHA256`: timings stay valid, the FID
values are then meaningless (for machines without the real weights).
"""
import argparse, os, time, warnings

import torch
from PIL import Image


def make_folder(path, n, size, seed, noise):
    "n smooth random colour images (upsampled 8x8 fields) plus pixel noise, as PNGs."
    path.mkdir(parents=True)
    g = torch.Generator().manual_seed(seed)
    for i in range(0, n, 500):
        base = torch.nn.functional.interpolate(torch.rand(min(500, n - i), 3, 8, 8, generator=g) * 255,
                                               size=(size, size), mode='bicubic')
        ims = (base + noise * torch.randn(base.shape, generator=g)).clamp(0, 255).round().to(torch.uint8)
        for j, im in enumerate(ims): Image.fromarray(im.permute(1, 2, 0).numpy()).save(path/f'{i + j:05d}.png')


def random_weights(path):
    "Randomly initialised weights in pytorch-fid's layout (He-normal convs, identity batch norm), accepted by digest."
    from depth_semantic_gan.inception import fid_inception_template, tensors_digest
    torch.manual_seed(0)
    sd = fid_inception_template()
    for k, v in sd.items():
        if k.endswith('conv.weight'): torch.nn.init.kaiming_normal_(v, nonlinearity='relu')
        elif k.endswith('bn.weight') or k.endswith('running_var'): v.fill_(1)
        elif k.endswith('bn.bias') or k.endswith('running_mean'): v.zero_()
        elif k.startswith('fc.'): v.fill_(float('nan'))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    os.environ['DSG_FID_WEIGHTS_SHA256'] = tensors_digest(sd)   # else checked as not the real weights and replaced


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=2000, help='images per set')
    p.add_argument('--size', type=int, default=64, help='image size in pixels')
    p.add_argument('--device', default=None, help='default: depth_semantic_gan.core.default_device()')
    p.add_argument('--batch-size', type=int, default=None,
                   help="the project's batch size (default 200 on a GPU, 50 on a CPU)")
    p.add_argument('--cli-batch-size', type=int, default=50, help="the command line's --batch-size (its default: 50)")
    p.add_argument('--weights', choices=('real', 'random'), default='real')
    p.add_argument('--skip-cli', action='store_true', help='time the project only')
    a = p.parse_args()

    from depth_semantic_gan.core import scratch_dir   # (reads no TORCH_HOME)
    tmp = scratch_dir('fid_speed_')                     # deleted at exit
    if a.weights == 'random':
        os.environ['TORCH_HOME'] = str(tmp/'torch')       # before torch.hub reads it; the CLI child inherits it
    from depth_semantic_gan.core import default_device, env_report
    from depth_semantic_gan.fid import FIDWarning, evaluate
    from depth_semantic_gan.inception import _FID_NETS, inception_weights_path, install_inception_weights
    from depth_semantic_gan.metrics import run_pytorch_fid
    if a.weights == 'random':
        random_weights(inception_weights_path()); print('RANDOM WEIGHTS: timings only, FID values are meaningless')
    else: install_inception_weights()
    dev = torch.device(a.device) if a.device else default_device()
    bs = a.batch_size or (200 if dev.type == 'cuda' else 50)
    rep = env_report()
    print(f"device {dev} ({rep['device_name']}), torch {rep['torch']}, {rep['cpu_count']} CPUs, "
          f"N = {a.n} vs {a.n} at {a.size} px")

    t = time.perf_counter()
    make_folder(tmp/'a', a.n, a.size, 0, 4.); make_folder(tmp/'b', a.n, a.size, 1, 12.)
    print(f'wrote {2 * a.n} PNGs in {time.perf_counter() - t:.1f}s (not timed below)')

    def ours():
        if dev.type == 'cuda': torch.cuda.synchronize()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FIDWarning)
            r = evaluate(tmp/'a', tmp/'b', device=dev, batch_size=bs)
        if dev.type == 'cuda': torch.cuda.synchronize()
        return r, time.perf_counter() - t

    _FID_NETS.clear()
    r_cold, t_cold = ours()
    r_warm, t_warm = ours()
    print(f'project  cold {t_cold:7.2f}s  warm {t_warm:7.2f}s  FID {r_warm.fid:.4f}  '
          f'KID {r_warm.kid:.5f} ± {r_warm.kid_std:.5f}  (batch {bs})')
    if a.skip_cli: return
    cli_dev = str(dev) if dev.type != 'cuda' or dev.index is not None else 'cuda:0'
    cli = run_pytorch_fid(tmp/'a', tmp/'b', '--device', cli_dev, '--batch-size', a.cli_batch_size)
    shim = ' (with the scipy.linalg.sqrtm(disp=) shim: SciPy >= 1.18)' if cli['shim'] else ''
    print(f"pytorch-fid CLI {cli['seconds']:7.2f}s  FID {cli['fid']:.4f}{shim}")
    print(f"|FID difference| {abs(cli['fid'] - r_warm.fid):.2e}")
    print(f"speed-up end to end: {cli['seconds'] / t_cold:.2f}x cold, {cli['seconds'] / t_warm:.2f}x warm")


if __name__ == '__main__':
    main()
