"""Quality per minute of Stage 1 on the embedded scenes: how good the depth gets for the training time spent, for a few
network sizes and batches side by side in one run, against the non-learned (class, row) lookup on the same items.

    python benchmarks/quality_per_minute.py                               # the default grid, 2 threads
    python benchmarks/quality_per_minute.py --nets 4,16,8 16,32,16 --batch 8 16 --steps 1500 --points 6

Each setting trains one Stage-1 model (32 px, the scenes' compact label space: 18 channels, unless --full-labels) for
--steps steps with the preset's schedule (half at the full rate, then linear decay) and measures AbsRel and δ<1.25 on
the validation scenes at --points evenly spaced steps. Training time excludes the measurements. The curve's points are
therefore models trained with a *shorter schedule cut short*, not fully trained shorter runs: read them as a lower
bound for a run of that length. Prints one row per point and the lookup's row, and writes them as JSON (--out).
"""
import argparse, json, time

import torch

from depth_semantic_gan.core import env_report, scratch_dir, seed_everything
from depth_semantic_gan.scenes import SCENE_CLASSES, prepare_scenes
from depth_semantic_gan.stage1 import load_split, predict_depth
from depth_semantic_gan.trainer import Callback, GANTrainer, tiny_config
from depth_semantic_gan.metrics import depth_metrics
from depth_semantic_gan.evaluation import DepthLookup


class Measure(Callback):
    "At the given steps: AbsRel and δ<1.25 on the validation split, and the training seconds so far."
    order = 90
    def __init__(self, at, val, n): self.at, self.val, self.n, self.rows, self.spent = set(at), val, n, [], 0.
    def before_fit(self, t): self.t0 = time.perf_counter()
    def after_step(self, t):
        if t.step not in self.at: return
        self.spent += time.perf_counter() - self.t0
        pred = predict_depth(t.G, self.val.labels[:self.n], t.cfg.label_nc)[:, None]
        m = depth_metrics(pred, self.val.depth[:self.n])
        self.rows.append({'step': t.step, 'train_s': round(self.spent, 1), 'abs_rel': m['abs_rel'],
                          'delta1': m['delta1']})
        print(f"  step {t.step:5d}  {self.spent:6.0f} s  AbsRel {m['abs_rel']:.3f}  δ1 {m['delta1']:.3f}", flush=True)
        self.t0 = time.perf_counter()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--nets', nargs='+', default=['4,16,8', '16,32,16'], help='ngf,SPADE width,ndf per setting')
    p.add_argument('--batch', nargs='+', type=int, default=[8, 16], help='batch sizes (each with every net)')
    p.add_argument('--steps', type=int, default=1500)
    p.add_argument('--points', type=int, default=5, help='measurements per run')
    p.add_argument('--n-train', type=int, default=3000)
    p.add_argument('--n-val', type=int, default=1024)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--full-labels', action='store_true', help='151 one-hot channels instead of the compact 18')
    p.add_argument('--cache', default=None, help='scenes cache folder (default: a scratch folder)')
    p.add_argument('--out', default=None, help='write the rows as JSON here')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    root = prepare_scenes(a.cache or scratch_dir()/'scenes', a.n_train, a.n_val, (32,), progress=False)
    train, val = (load_split(str(root), s, 32, 'exact', device='cpu') for s in ('train', 'val'))
    lookup = DepthLookup().fit(train.labels, train.depth)(val.labels)[:, None]
    base = depth_metrics(lookup, val.depth)
    e = env_report()
    print(f"{e['cpu_count']} CPUs, {a.threads} threads, torch {e['torch']}; {len(train)} training, "
          f"{len(val)} validation scenes at 32 px; lookup AbsRel {base['abs_rel']:.3f} δ1 {base['delta1']:.3f}",
          flush=True)
    out = [{'setting': 'lookup', 'abs_rel': base['abs_rel'], 'delta1': base['delta1']}]
    labels = {} if a.full_labels else dict(label_ids=SCENE_CLASSES, label_nc=len(SCENE_CLASSES) + 1)
    for nets in a.nets:
        ngf, width, ndf = map(int, nets.split(','))
        for bs in a.batch:
            cfg = tiny_config('1', 32, data=str(root), depth='exact', ngf=ngf, spade_hidden=width, ndf=ndf,
                              batch_size=bs, steps=a.steps, log_every=50, sample_every=0, ckpt_every=0, **labels)
            name = f'ngf {ngf}, width {width}, ndf {ndf}, batch {bs}, {cfg.label_nc} label channels'
            print(name, flush=True)
            seed_everything(0)
            m = Measure([round(a.steps * (i + 1) / a.points) for i in range(a.points)], val, len(val))
            GANTrainer(cfg, train, val, cbs=[m]).fit()
            out += [{'setting': name, 'ngf': ngf, 'width': width, 'ndf': ndf, 'batch': bs, **r} for r in m.rows]
    if a.out: open(a.out, 'w').write(json.dumps(out, indent=1))


if __name__ == '__main__': main()
