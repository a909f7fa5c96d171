"""Full training iterations (G step + D step, hinge + feature matching [+ VGG]) of Stage 1, Stage 2 and the SPADE
baseline: the project's fast path against the same model run plainly (fp32, eager, no compile), side by side in one run.

    python benchmarks/train_step.py                          # GPU: paper networks at 64 and 128 px, batch 64
    python benchmarks/train_step.py --compile                # the fast path with torch.compile of G and D
    python benchmarks/train_step.py --profile                # also torch.profiler's top operators, plain and fast
    python benchmarks/train_step.py --tiny --threads 1 2     # CPU: the tiny preset of `make demo` (32 px, batch 8)
    python benchmarks/train_step.py --paper                  # the paper preset's five models and its projected time

For every stage and size it prints img/s of each variant, the ratio to plain, peak memory, and the achieved TFLOP/s:
FLOPs of one iteration as torch's FlopCounterMode counts them (convolutions and matmuls, forward and backward, both
steps), divided by the time per iteration, against the device's dense bf16 peak where it is known. Random label maps,
images and depth kept on the device: only the training step is timed. On the CPU the fast path is the plain path
(bf16 autocast and channels_last are CUDA-only in the trainer), so only plain runs there.
"""
import argparse, dataclasses, resource, tempfile, time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from depth_semantic_gan.core import default_device, env_report
from depth_semantic_gan.batches import DeviceData
from depth_semantic_gan.config import paper_config, tiny_config
from depth_semantic_gan.trainer import GANTrainer
from depth_semantic_gan.vgg import write_random_vgg19
from depth_semantic_gan.experiment import PRESETS, plan

BF16_PEAK_TFLOPS = {'H100': 989., 'H200': 989., 'A100': 312., 'L40S': 362., 'RTX 3060': 51.}  # dense, vendor sheets

def _peak(name):
    return next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)

def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)

def random_data(n, size, device, seed=0):
    rng = np.random.RandomState(seed)
    return DeviceData(rng.randint(0, 151, (n, size, size)).astype(np.uint8),
                      rng.randint(0, 256, (n, size, size, 3)).astype(np.uint8),
                      rng.rand(n, size, size).astype(np.float32) * 2 - 1, device=device)

def flops_per_iteration(cfg, data):
    "FLOPs of one full iteration, counted on the plain model (the fast path runs the same operations)."
    t = GANTrainer(dataclasses.replace(cfg, compile=False, amp=False, channels_last=False), data, cbs=[])
    t.fit(until=1)
    with FlopCounterMode(display=False) as fc: t.fit(until=2)
    return fc.get_total_flops()

def time_variant(cfg, data, steps, warmup, dev, profile=False):
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(dev)
    t = GANTrainer(cfg, data, cbs=[])
    t.fit(until=warmup); _sync(dev)
    t0 = time.perf_counter(); t.fit(until=warmup + steps); _sync(dev); dt = time.perf_counter() - t0
    losses = t.read_losses()
    if not all(np.isfinite(v) for k, v in losses.items() if k != 'step'):
        raise RuntimeError(f'non-finite losses {losses}')
    mem = (torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == 'cuda'
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    table = None
    if profile:
        acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA]
                                                        if dev.type == 'cuda' else [])
        with torch.profiler.profile(activities=acts) as prof:
            t.fit(until=warmup + steps + 3); _sync(dev)
        key = 'self_cuda_time_total' if dev.type == 'cuda' else 'self_cpu_time_total'
        table = prof.key_averages().table(sort_by=key, row_limit=12, max_name_column_width=40)
    return steps * cfg.batch_size / dt, dt / steps, mem, table

def project_paper(dev, steps:int, warmup:int, vgg:str=None, batch:int=None):
    """The paper preset's models, each timed here as the preset trains it (fp32; and bf16 + channels_last, `--fast`,
    on CUDA), and the projected wall time of the whole preset's training on this device: planned steps x batch / img/s,
    summed over its models and seeds. `batch` times every model at another batch (a CPU check of this code path)."""
    preset = PRESETS['paper']
    with tempfile.TemporaryDirectory() as d:
        if vgg is None: vgg = write_random_vgg19(Path(d)/'vgg19_random.pth')   # the same cost as ImageNet weights
        preset = dataclasses.replace(preset, vgg_weights=str(vgg))
        models, measured = plan(preset)['models'], {}
        print(f"paper preset on {dev}: {len(models)} models; "
              f"timed at {'the planned batch' if batch is None else f'batch {batch}'}", flush=True)
        print(f"{'model':>15} {'batch':>5} {'steps':>8} {'variant':>6} {'img/s':>8} {'hours':>8}")
        totals = {}
        for m in models:
            key = (m['stage'], m['size'])
            if key not in measured:
                cfg = preset.train_config(m['stage'], 0, '.', m['size'] if m['stage'] == '1' else 128,
                                          stage1_run='stage1_x')
                cfg = dataclasses.replace(cfg, batch_size=batch or cfg.batch_size, steps=10_000)
                data = random_data(max(4 * cfg.batch_size, 64), cfg.size, dev)
                variants = {'fp32': cfg}
                if dev.type == 'cuda': variants['bf16'] = dataclasses.replace(cfg, amp=True, channels_last=True)
                measured[key] = {v: time_variant(c, data, steps, warmup, dev)[0] for v, c in variants.items()}
            for v, ips in measured[key].items():
                hours = m['steps'] * m['batch_size'] / ips / 3600
                totals[v] = totals.get(v, 0) + hours
                print(f"{m['name']:>15} {m['batch_size']:>5} {m['steps']:>8} {v:>6} {ips:8.1f} {hours:8.1f}",
                      flush=True)
        for v, h in totals.items():
            print(f'projected training time of the paper preset ({v}) on this device: {h:.1f} h = {h / 24:.1f} days '
                  f'(both seeds; evaluation not included)')

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--stages', nargs='+', default=['1', '2', 'baseline'])
    ap.add_argument('--sizes', nargs='+', type=int, default=None, help='default: 64 128 (paper), 32 (--tiny)')
    ap.add_argument('--batch', type=int, default=None, help='default: 64 (paper networks), 8 (--tiny)')
    ap.add_argument('--steps', type=int, default=20); ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--compile', action='store_true', help='fast path with torch.compile')
    ap.add_argument('--tiny', action='store_true', help='the tiny CPU networks of the quick preset')
    ap.add_argument('--threads', nargs='+', type=int, default=None, help='CPU threads to try (default: torch default)')
    ap.add_argument('--vgg', default=None, help='VGG19 weights file: include the VGG loss')
    ap.add_argument('--profile', action='store_true', help='print torch.profiler top operators per variant')
    ap.add_argument('--paper', action='store_true', help="the paper preset's models and its projected wall time")
    a = ap.parse_args()
    dev = default_device()
    if a.paper: return project_paper(dev, a.steps, a.warmup, a.vgg, a.batch)
    env = env_report()
    name = env['device_name']
    peak = _peak(name) if dev.type == 'cuda' else None
    sizes = a.sizes or ([32] if a.tiny else [64, 128])
    batch = a.batch or (8 if a.tiny else 64)
    print(f"device {dev} ({name}), torch {env['torch']}, bf16 peak {peak or 'unknown'} TFLOP/s; batch {batch}, "
          f"{a.steps} timed steps after {a.warmup} warm-up; VGG loss {'on' if a.vgg else 'off'}", flush=True)
    print(f"{'model':>9} {'px':>4} {'threads':>7} {'variant':>16} {'img/s':>9} {'ms/it':>8} {'ratio':>6} "
          f"{'peak GiB':>9} {'TFLOP/s':>8} {'% peak':>7}")
    for threads in a.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        for size in sizes:
            data = random_data(max(4 * batch, 64), size, dev)
            for stage in a.stages:
                depth = {'1': ('exact', None), '2': ('stage1-x', 'stage1-x'), 'baseline': (None, None)}[stage]
                kw = dict(depth=depth[0], eval_depth=depth[1], steps=10_000, batch_size=batch, vgg_weights=a.vgg)
                base = dataclasses.replace((tiny_config if a.tiny else paper_config)(stage, 32 if a.tiny else 64, **kw),
                                           size=size)
                variants = {'plain fp32': dataclasses.replace(base, amp=False, channels_last=False, compile=False)}
                if dev.type == 'cuda':
                    variants['fast'] = dataclasses.replace(base, amp=True, channels_last=True, compile=False)
                    if a.compile:
                        variants['fast + compile'] = dataclasses.replace(base, amp=True, channels_last=True,
                                                                         compile=True)
                flops = flops_per_iteration(base, data)
                plain = None
                for vname, cfg in variants.items():
                    ips, sec, mem, table = time_variant(cfg, data, a.steps, a.warmup + (10 if cfg.compile else 0), dev,
                                                        a.profile)
                    plain = plain or ips
                    tf = flops / sec / 1e12
                    print(f"{stage:>9} {size:>4} {threads:>7} {vname:>16} {ips:9.1f} {1e3 * sec:8.1f} "
                          f"{ips / plain:6.2f} {mem:9.2f} {tf:8.3f} "
                          f"{'' if peak is None else f'{100 * tf / peak:6.1f}%':>7}", flush=True)
                    if table: print(table, flush=True)
    if dev.type != 'cuda': print('peak GiB on the CPU is the process maximum RSS so far, not per variant')

if __name__ == '__main__': main()
