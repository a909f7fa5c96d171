"""Quality per minute on the embedded scenes: how good Stage 1's depth (or Stage 2's images) gets for the training time
spent, for a few network sizes, batches and learning rates side by side in one run, against the non-learned anchor
on the same items: the (class, row) depth lookup, or the class-mean painter.

    python benchmarks/quality_per_minute.py                               # the default grid, 2 threads
    python benchmarks/quality_per_minute.py --nets 4,16,8 16,32,16 --batch 8 16 --steps 1500 --points 6
    python benchmarks/quality_per_minute.py --nets 8,32,16 --batch 16 --lr 1e-4,4e-4 1e-3,1e-3 --steps 600 --points 4
    python benchmarks/quality_per_minute.py --stage 2 --nets 8,32,16 --batch 16 --lr 2e-3,2e-3 --steps 3000 --points 6
    python benchmarks/quality_per_minute.py --stage 2 --nets 8,32,16 --batch 16 --lr 2e-3,2e-3 --steps 600 --points 4 \
        --start noise painter --l1 0 100
    python benchmarks/quality_per_minute.py --stage 2 baseline --nets 8,32,16 --batch 16 --lr 2e-3,2e-3 --steps 1200 \
        --points 4 --start painter --l1 100

Each setting trains one Stage-1 model (32 px, the scenes' compact label space: 18 channels, unless --full-labels) for
--steps steps with the preset's schedule (half at the full rate, then linear decay) and measures AbsRel and δ<1.25 on
the validation scenes at --points evenly spaced steps. Training time excludes the measurements. The curve's points are
therefore models trained with a *shorter schedule cut short*, not fully trained shorter runs: read them as a lower
bound for a run of that length. Prints one row per point and the lookup's row, and writes them as JSON (--out).

--stage 2 trains Stage 2 on the exact depth (the oracle: the best case of the image models) and measures, at each
point, KID x 10^3 and FID on the first --n-kid validation images and the shading error (`06a_metrics`) on all of them,
beside the class-mean painter's. --start painter starts G's output at the class-mean painting (`label_skip`, see
03_spade) and --l1 adds a pixel L1 term of that weight (`lambda_l1`); each is a list, crossed with the other settings.
--stage 2 baseline trains the SPADE baseline (no depth) beside each oracle setting, from the same seed, and prints what
depth buys at each point: the oracle's shading error minus the baseline's, item by item, with its 95 % paired
bootstrap interval.
"""
import argparse, json, time, warnings

import torch

from depth_semantic_gan.core import env_report, scratch_dir, seed_everything
from depth_semantic_gan.scenes import SCENE_CLASSES, prepare_scenes
from depth_semantic_gan.runs import load_split
from depth_semantic_gan.stage1 import DepthLookup, predict_depth
from depth_semantic_gan.config import tiny_config
from depth_semantic_gan.trainer import Callback, GANTrainer, generate
from depth_semantic_gan.metrics import depth_metrics, paired_bootstrap, shading_error
from depth_semantic_gan.stage2 import ClassMeanPainter
from depth_semantic_gan.fid import FIDWarning, evaluate, fid_stats


def depth_scores(val):
    "Stage 1: AbsRel and δ<1.25 of a generator on the validation split; `fmt` prints them."
    def score(G, cfg=None, pred=None):
        pred = predict_depth(G, val.labels, cfg.label_nc)[:, None] if pred is None else pred
        m = depth_metrics(pred, val.depth)
        return {'abs_rel': m['abs_rel'], 'delta1': m['delta1']}
    return score, lambda r: f"AbsRel {r['abs_rel']:.3f}  δ1 {r['delta1']:.3f}"


def image_scores(val, n_kid):
    "Image models: KID, FID (first `n_kid` items) and shading error (all, and per item) of a generator's images."
    warnings.simplefilter('ignore', FIDWarning)          # small N is the point here: KID is the number to read
    real = fid_stats(val.images[:n_kid])
    def score(G, cfg=None, fake=None):                   # Stage 2 on the exact depth, or the baseline without it
        if fake is None: fake = generate(G, val.labels, val.depth if cfg.spec.cond_depth else None, cfg.label_nc)
        r = evaluate(fake[:n_kid], real, kid_subset_size=max(2, n_kid // 2))
        sh = shading_error(fake, val.images, val.labels)
        return {'kid': r.kid, 'fid': r.fid, 'shading': float(sh.mean()), 'shading_items': sh.tolist()}
    return score, lambda r: f"KIDx10³ {r['kid'] * 1e3:6.1f}  FID {r['fid']:6.1f}  shading {r['shading']:.4f}"


class Measure(Callback):
    "At the given steps: `score` of the generator, and the training seconds so far."
    order = 90
    def __init__(self, at, score, fmt):
        self.at, self.score, self.fmt, self.rows, self.spent = set(at), score, fmt, [], 0.
    def before_fit(self, t): self.t0 = time.perf_counter()
    def after_step(self, t):
        if t.step not in self.at: return
        self.spent += time.perf_counter() - self.t0
        r = {'step': t.step, 'train_s': round(self.spent, 1), **self.score(t.G, t.cfg)}
        self.rows.append(r)
        print(f"  step {t.step:5d}  {self.spent:6.0f} s  {self.fmt(r)}", flush=True)
        self.t0 = time.perf_counter()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--stage', nargs='+', default=['1'], choices=['1', '2', 'baseline'],
                   help='1: depth; 2: images (Stage 2 on exact depth); baseline: images without depth')
    p.add_argument('--n-kid', type=int, default=256, help='--stage 2: validation images of KID and FID')
    p.add_argument('--nets', nargs='+', default=['4,16,8', '16,32,16'], help='ngf,SPADE width,ndf per setting')
    p.add_argument('--batch', nargs='+', type=int, default=[8, 16], help='batch sizes (each with every net)')
    p.add_argument('--lr', nargs='+', default=['1e-4,4e-4'], help='G,D learning rates (each with every net and batch)')
    p.add_argument('--steps', type=int, default=1500)
    p.add_argument('--points', type=int, default=5, help='measurements per run')
    p.add_argument('--n-train', type=int, default=3000)
    p.add_argument('--n-val', type=int, default=1024)
    p.add_argument('--start', nargs='+', default=['noise'], choices=['noise', 'painter'],
                   help="--stage 2: G starts from noise (SPADE) or from the class-mean painting (label_skip)")
    p.add_argument('--l1', nargs='+', type=float, default=[0.], help='--stage 2: weights of a pixel L1 term')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--full-labels', action='store_true', help='151 one-hot channels instead of the compact 18')
    p.add_argument('--cache', default=None, help='scenes cache folder (default: a scratch folder)')
    p.add_argument('--out', default=None, help='write the rows as JSON here')
    a = p.parse_args()
    images = a.stage != ['1']
    if images and '1' in a.stage: p.error('--stage 1 (depth) runs alone; 2 and baseline (images) run together')
    if not images and (a.start != ['noise'] or a.l1 != [0.]): p.error('--start and --l1 are for the image models')
    torch.set_num_threads(a.threads)
    root = prepare_scenes(a.cache or scratch_dir()/'scenes', a.n_train, a.n_val, (32,), progress=False)
    train, val = (load_split(str(root), s, 32, 'exact', device='cpu') for s in ('train', 'val'))
    if not images:
        score, fmt = depth_scores(val)
        anchor = 'lookup', score(None, pred=DepthLookup().fit(train.labels, train.depth)(val.labels)[:, None])
    else:
        score, fmt = image_scores(val, a.n_kid)
        anchor = 'painter', score(None, fake=ClassMeanPainter().fit(train.labels, train.images)(val.labels))
    e = env_report()
    print(f"{e['cpu_count']} CPUs, {a.threads} threads, torch {e['torch']}; {len(train)} training, "
          f"{len(val)} validation scenes at 32 px; {anchor[0]}: {fmt(anchor[1])}", flush=True)
    out = [{'setting': anchor[0], **anchor[1]}]
    sources = {'1': dict(depth='exact'), '2': dict(depth='exact', eval_depth='exact', oracle=True), 'baseline': {}}
    labels = {} if a.full_labels else dict(label_ids=SCENE_CLASSES, label_nc=len(SCENE_CLASSES) + 1)
    runs = {}                                                             # (stage, setting) -> measured rows
    for nets in a.nets:
        ngf, width, ndf = map(int, nets.split(','))
        for bs, lr, start, l1 in ((b, r, s, w) for b in a.batch for r in a.lr for s in a.start for w in a.l1):
            lr_g, lr_d = map(float, lr.split(','))
            name = f'ngf {ngf}, width {width}, ndf {ndf}, batch {bs}, lr {lr_g:g}/{lr_d:g}'
            name += f', start {start}, L1 {l1:g}' if images else ''
            for st in a.stage:
                cfg = tiny_config(st, 32, data=str(root), **sources[st], ngf=ngf, spade_hidden=width, ndf=ndf,
                                  batch_size=bs, steps=a.steps, lr_g=lr_g, lr_d=lr_d, log_every=50, sample_every=0,
                                  ckpt_every=0, label_skip=start == 'painter', lambda_l1=l1, **labels)
                print(f"{'' if st == '1' else {'2': 'oracle: ', 'baseline': 'baseline: '}[st]}{name}, "
                      f'{cfg.label_nc} label channels', flush=True)
                seed_everything(0)
                m = Measure([round(a.steps * (i + 1) / a.points) for i in range(a.points)], score, fmt)
                GANTrainer(cfg, train, val, cbs=[m]).fit()
                runs[st, name] = m.rows
                out += [{'stage': st, 'setting': name, 'ngf': ngf, 'width': width, 'ndf': ndf, 'batch': bs,
                         'lr_g': lr_g, 'lr_d': lr_d, 'start': start, 'l1': l1, **r} for r in m.rows]
            if {'2', 'baseline'} <= set(a.stage):                      # what exact depth buys, item by item
                for ro, rb in zip(runs['2', name], runs['baseline', name]):
                    ci = paired_bootstrap(ro['shading_items'], rb['shading_items'])
                    print(f"  step {ro['step']:5d}  shading, oracle - baseline: {ci['diff']:+.4f} "
                          f"[{ci['lo']:+.4f}, {ci['hi']:+.4f}] (detectable {ci['detectable']:.4f})", flush=True)
                    out.append({'setting': name, 'step': ro['step'], 'oracle_minus_baseline_shading': ci})
    for r in out: r.pop('shading_items', None)                          # per-item values: for the intervals only
    if a.out: open(a.out, 'w').write(json.dumps(out, indent=1))


if __name__ == '__main__': main()
