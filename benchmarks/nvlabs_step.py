"""The training iteration of this package's `GANTrainer` against the NVlabs SPADE code's, side by side in one process:
the same networks (the paper's SPADE baseline: ngf 64, SPADE width 128, 2 x 4-layer discriminators, label -> RGB),
the same batch of random 151-class label maps and images, fp32, no VGG loss, alternating rounds A B A B A B.

    git clone https://github.com/NVlabs/SPADE /path/to/SPADE      # the reference; nothing of it is copied here
    python benchmarks/nvlabs_step.py --nvlabs /path/to/SPADE      # 64 px, batch 4, 1 thread, 3 rounds of 3 steps
    python benchmarks/nvlabs_step.py --nvlabs /path/to/SPADE --profile 12   # then where each spends its time

An iteration is a G step and a D step, as each code runs them (NVlabs: `Pix2PixModel(data, mode='generator')`, then
`mode='discriminator'`, with `create_optimizers`' TTUR Adams). NVlabs' synchronized batch norm (a git submodule of
that repository) is replaced by `nn.BatchNorm2d`, which is what it computes in one process; `dill` (used only to save
options) by an empty module. Our trainer runs with the paper preset's resize-and-crop augmentation (`--no-crop`: off);
NVlabs' data loader is not timed (it reads files). Prints img/s of both and the ratio ours/NVlabs per round, then their
median. Both run in the same process, so they share its allocator state and threads: the comparison is of the code.
"""
import argparse, resource, sys, time, types, warnings
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from depth_semantic_gan.batches import DeviceData
from depth_semantic_gan.core import env_report
from depth_semantic_gan.config import paper_config
from depth_semantic_gan.trainer import GANTrainer


def import_nvlabs(path):
    "NVlabs' `Pix2PixModel` from a clone at `path`, with its two missing pieces stood in for (see above)."
    if not (Path(path)/'models'/'pix2pix_model.py').is_file():
        sys.exit(f'{path}: not a clone of github.com/NVlabs/SPADE (no models/pix2pix_model.py)')
    sys.path.insert(0, str(path))
    sys.modules.setdefault('dill', types.ModuleType('dill'))
    sb = types.ModuleType('models.networks.sync_batchnorm')
    sb.SynchronizedBatchNorm2d = nn.BatchNorm2d
    sys.modules['models.networks.sync_batchnorm'] = sb
    warnings.filterwarnings('ignore')
    from models.pix2pix_model import Pix2PixModel
    return Pix2PixModel


def nvlabs_options(size):
    "NVlabs' options for the paper's ADE20K SPADE model (train.py defaults), without VGG, on the CPU."
    return Namespace(ngf=64, semantic_nc=151, label_nc=151, output_nc=3, num_upsampling_layers='normal',
                     crop_size=size, aspect_ratio=1.0, use_vae=False, norm_G='spectralspadebatch3x3', ndf=64,
                     norm_D='spectralinstance', n_layers_D=4, num_D=2, netD_subarch='n_layer', no_ganFeat_loss=False,
                     contain_dontcare_label=False, no_instance=True, gpu_ids=[], netG='spade', netD='multiscale',
                     init_type='xavier', init_variance=0.02, isTrain=True, continue_train=False, gan_mode='hinge',
                     lambda_feat=10.0, no_vgg_loss=True, lr=0.0002, beta1=0.0, beta2=0.9, no_TTUR=False, z_dim=256)


class NVlabsStep:
    "NVlabs' training iteration over fixed batches of `labels` / `images` (its own tensor layout)."
    def __init__(self, Pix2PixModel, labels, images, batch):
        opt = nvlabs_options(labels.shape[-1])
        self.model = Pix2PixModel(opt)
        self.model.train()
        self.opt_g, self.opt_d = self.model.create_optimizers(opt)
        self.images = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 127.5 - 1
        self.labels, self.batch, self.i = torch.as_tensor(labels)[:, None], batch, 0

    def __call__(self, steps):
        for _ in range(steps):
            j = self.i % (len(self.labels) // self.batch) * self.batch
            self.i += 1
            data = {'label': self.labels[j:j + self.batch], 'instance': torch.zeros(1),
                    'image': self.images[j:j + self.batch]}
            self.opt_g.zero_grad()
            g_losses, _ = self.model(data, mode='generator')
            sum(g_losses.values()).mean().backward()
            self.opt_g.step()
            self.opt_d.zero_grad()
            d_losses = self.model(data, mode='discriminator')
            sum(d_losses.values()).mean().backward()
            self.opt_d.step()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--nvlabs', required=True, help='a clone of github.com/NVlabs/SPADE')
    ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--steps', type=int, default=3, help='iterations per round')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--no-crop', action='store_true', help='our trainer without resize-and-crop augmentation')
    ap.add_argument('--profile', type=int, default=0, metavar='N',
                    help='after the rounds, profile one round of each (torch.profiler) and print its N costliest ops')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    Pix2PixModel = import_nvlabs(a.nvlabs)
    rng = np.random.RandomState(0)
    n = 16 * a.batch
    labels = rng.randint(0, 151, (n, a.size, a.size)).astype(np.uint8)
    images = rng.randint(0, 256, (n, a.size, a.size, 3)).astype(np.uint8)
    cfg = paper_config('baseline', a.size, vgg_weights=None, batch_size=a.batch, steps=10_000,
                       **({'load_size': None} if a.no_crop else {}))
    ours = GANTrainer(cfg, DeviceData(labels, images, device='cpu'), cbs=[])
    nv = NVlabsStep(Pix2PixModel, labels, images, a.batch)
    runs = {'ours': lambda k: ours.fit(until=ours.step + k), 'nvlabs': nv}
    for fn in runs.values(): fn(a.warmup)
    e = env_report()
    print(f"{e['cpu_count']} CPUs, {a.threads} thread(s), torch {e['torch']}; batch {a.batch}, {a.size} px, "
          f'{a.steps} iterations per round, ours load_size={cfg.load_size}', flush=True)
    ratios = []
    for r in range(a.rounds):
        speed = {}
        for name, fn in runs.items():
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            fn(a.steps)
            dt, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
            speed[name] = a.steps * a.batch / dt
            user, system = ((getattr(r1, k) - getattr(r0, k)) / a.steps for k in ('ru_utime', 'ru_stime'))
            print(f'  {name:6s} {speed[name]:.3f} img/s  (CPU s per iteration: user {user:.2f}, system {system:.2f})',
                  flush=True)
        ratios.append(speed['ours'] / speed['nvlabs'])
        print(f'round {r + 1}: ours/NVlabs {ratios[-1]:.3f}', flush=True)
    print(f'median ratio ours/NVlabs over {a.rounds} rounds: {np.median(ratios):.3f} '
          f'(range {min(ratios):.3f}-{max(ratios):.3f})')
    if a.profile: profile(runs, a.steps, a.profile)


def profile(runs, steps, n):
    "Where each code spends its CPU time: the `n` ops with the most self CPU time over `steps` iterations."
    from torch.profiler import ProfilerActivity
    for name, fn in runs.items():
        with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof: fn(steps)
        ka = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in ka) / 1e6 / steps
        print(f'\n{name}: {total:.2f} s of op time per iteration; costliest ops (self CPU s per iteration, calls):')
        for e in sorted(ka, key=lambda e: -e.self_cpu_time_total)[:n]:
            print(f'  {e.key:42s} {e.self_cpu_time_total / 1e6 / steps:7.3f}  {e.count // steps:5d}')


if __name__ == '__main__': main()
