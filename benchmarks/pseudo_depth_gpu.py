"""GPU check of the pseudo-depth teachers (depth_semantic_gan.depth): CUDA vs CPU agreement and throughput.

Random monodepth2 weights in the official file format (no download needed). Run from the repository root:
    python benchmarks/pseudo_depth_gpu.py [--n 256] [--batch-size 32]
Prints one JSON line: max |target(cuda) - target(cpu)|, images/s of the whole teacher call on 683x512 photos stored at
64 px, and how much of that time is the PIL Lanczos resize on the CPU.
"""
import argparse, json, sys, time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from depth_semantic_gan.core import env_report, scratch_dir, seed_everything
from depth_semantic_gan.depth import Monodepth2, Monodepth2Config, Monodepth2Teacher, save_monodepth2

p = argparse.ArgumentParser()
p.add_argument('--n', type=int, default=256); p.add_argument('--device', default='cuda')
p.add_argument('--batch-size', type=int, default=32)
args = p.parse_args()
dev = torch.device(args.device)
sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
seed_everything(0)
folder = save_monodepth2(Monodepth2(Monodepth2Config()), scratch_dir()/'random_640x192')
rng = np.random.default_rng(0)
imgs = [rng.integers(0, 256, (512, 683, 3), dtype=np.uint8) for _ in range(args.n)]

cpu = Monodepth2Teacher(folder, device='cpu', batch_size=4)
gpu = Monodepth2Teacher(folder, device=dev, batch_size=args.batch_size)
diff = (cpu(imgs[:4], size=64) - gpu(imgs[:4], size=64)).abs().max().item()
disp_diff = max((a - b.cpu()).abs().max().item() for a, b in zip(cpu.disparity(imgs[:4]), gpu.disparity(imgs[:4])))

gpu(imgs[:args.batch_size], size=64); sync()          # warm-up
t = time.perf_counter(); gpu(imgs, size=64); sync(); total = time.perf_counter() - t
from PIL import Image
t = time.perf_counter()
for a in imgs: np.array(Image.fromarray(a).resize((640, 192), Image.LANCZOS))
resize = time.perf_counter() - t
print(json.dumps({'device': str(dev), 'max_abs_target_diff_vs_cpu': diff, 'max_abs_disp_diff_vs_cpu': disp_diff,
                  'images_per_s': args.n / total, 'seconds': total, 'pil_resize_seconds': resize, 'n': args.n,
                  'batch_size': args.batch_size,
                  'peak_gpu_mem_gib': torch.cuda.max_memory_allocated() / 2**30 if dev.type == 'cuda' else None,
                  'env': env_report()}))
