"""GPU check of the trainer (depth_semantic_gan.train): full SPADE models at the paper's settings, fast path (bf16 autocast,
channels_last, fused Adam[, torch.compile]) vs plain fp32, img/s for full iterations (G step + D step), peak memory,
finite losses. Random data kept on the GPU, so only the training step is timed.

    python benchmarks/train_gpu_check.py                 # stages 1, 2, baseline at 64 px batch 64 (+ Stage 1 at 128 px batch 12)
    python benchmarks/train_gpu_check.py --compile       # also the torch.compile'd fast path
Runs in about 2-4 minutes on one H100 (more with --compile).
"""
import argparse, dataclasses, time
import numpy as np
import torch
from depth_semantic_gan.core import env_report
from depth_semantic_gan.train import DeviceData, GANTrainer, paper_config


def run(cfg, data, steps, warmup):
    torch.cuda.reset_peak_memory_stats()
    t = GANTrainer(cfg, data, cbs=[])
    t.fit(until=warmup); torch.cuda.synchronize()
    t0 = time.perf_counter(); t.fit(until=warmup + steps); torch.cuda.synchronize(); dt = time.perf_counter() - t0
    losses = t.read_losses()
    return steps * cfg.batch_size / dt, torch.cuda.max_memory_allocated() / 2**30, losses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=20); ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--compile', action='store_true')
    a = ap.parse_args()
    print({k: v for k, v in env_report().items() if k in ('torch', 'device', 'device_name')})
    rng = np.random.RandomState(0)
    for stage, size in (('1', 64), ('2', 64), ('baseline', 64), ('1', 128)):
        n = 512
        data = DeviceData(rng.randint(0, 151, (n, size, size)).astype(np.uint8), rng.randint(0, 256, (n, size, size, 3)).astype(np.uint8),
                          rng.rand(n, size, size).astype(np.float32) * 2 - 1, device='cuda')
        base = paper_config(stage, size, depth='stage1-x', eval_depth='stage1-x', steps=1000)
        variants = {'plain fp32': dataclasses.replace(base, amp=False, channels_last=False), 'fast': base}
        if a.compile: variants['fast + compile'] = dataclasses.replace(base, compile=True)
        res = {}
        for name, cfg in variants.items():
            ips, mem, losses = run(cfg, data, a.steps, a.warmup + (10 if cfg.compile else 0))
            assert all(np.isfinite(v) for k, v in losses.items() if k != 'step'), losses
            res[name] = ips
            print(f'stage {stage:>8} {size:>3}px batch {base.batch_size:>2} {name:>15}: {ips:8.1f} img/s  peak {mem:5.1f} GiB  '
                  f'x{ips / res["plain fp32"]:.2f}', flush=True)


if __name__ == '__main__': main()
