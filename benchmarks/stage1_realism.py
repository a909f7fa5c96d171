"""Stage 1 realistic as well as accurate: depth KID and FID (the paper's Table-1 kind of metric) beside AbsRel and
δ<1.25, for variants of the `quick` preset's Stage-1 recipe, every seed, against the (class, row) lookup on the same
validation items, in one run.

    python benchmarks/stage1_realism.py                                   # the default curve, seeds 0 and 1
    python benchmarks/stage1_realism.py --variants base l1_10 --seeds 0   # a quick look

Each variant trains Stage 1 as `make demo` does (`PRESETS['quick'].train_config('1', ...)`: 32 px, 3,000 rendered
scenes, exact depth, 600 steps of 16, half at the full rate, then linear decay) with the fields the variant names
changed, and scores it on the first 1,024 validation scenes (AbsRel, δ<1.25) and the first 256 (depth KID and FID,
depth drawn grey for Inception, as the demo's evaluation does). The lookup is fitted on the same training scenes.
KID is unbiased at any N, FID is biased upwards at 256 samples (compare FIDs only with each other). Train time is
wall clock on this machine, measurements excluded. Prints one row per (variant, seed) and writes them as JSON lines
(--out, resumable: rows already there are not measured again).
"""
import argparse, json, time, warnings
from dataclasses import replace
from pathlib import Path

VARIANTS = {   # TrainConfig fields changed from the quick recipe (lr 2e-3, batch 16, 600 steps, decay from 50 %)
    'base': {},
    'lr1e-3': dict(lr_g=1e-3, lr_d=1e-3), 'lr4e-3': dict(lr_g=4e-3, lr_d=4e-3),             # learning rate
    'nodecay': dict(decay_start=1.0), 'decay80': dict(decay_start=0.8),                        # its decay
    'batch8_1200': dict(batch_size=8, steps=1200), 'batch32': dict(batch_size=32),             # batch size
    'steps900': dict(steps=900), 'steps1200': dict(steps=1200),                                # steps
    'steps1200_reuse': dict(steps=1200, reuse_fake=True),                                      # D reuses G's fake
    'skip': dict(label_skip=True),                                                             # class-mean start
    'l1': dict(lambda_l1=10.),                                                                 # a pixel L1 term
    'feat2': dict(lambda_feat=2.), 'feat20': dict(lambda_feat=20.),                            # feature matching
    'ndf32': dict(ndf=32),                                                                     # a wider D
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    ap.add_argument('--folder', default='runs/stage1_realism', help='scenes, models and results (resumable)')
    ap.add_argument('--n-eval', type=int, default=1024)
    ap.add_argument('--n-kid', type=int, default=256)
    args = ap.parse_args()

    from depth_semantic_gan.experiment import PRESETS
    from depth_semantic_gan.pipeline import run_pipeline
    from depth_semantic_gan.runs import load_split, run_training
    from depth_semantic_gan.stage1 import DepthLookup, predict_depth
    from depth_semantic_gan.evaluation import depth_record
    from depth_semantic_gan.checkpoints import load_generator
    from depth_semantic_gan.fid import FIDWarning
    warnings.simplefilter('ignore', FIDWarning)                     # 256 samples: FID is starred in the demo too

    p, out = PRESETS['quick'], Path(args.folder)
    run = out/'data_run'
    if not (run/'data.json').exists(): run_pipeline(p, run, until='data', progress=False)   # the demo's scenes
    root = Path(json.loads((run/'data.json').read_text())['root'])
    vd = load_split(str(root), 'val', 32, p.depth, device='cpu')
    n, nk = args.n_eval, args.n_kid
    kid = dict(kid_subset_size=nk // 2, device='cpu')
    rows_path = out/'rows.jsonl'
    rows = [json.loads(l) for l in rows_path.read_text().splitlines()] if rows_path.exists() else []
    done = {(r['variant'], r['seed']) for r in rows}

    def measure(pred, **row):
        r = depth_record(pred, vd.depth[:n], nk, out/f'real_depth_{nk}.npz', **kid)
        r = {**row, **{k: r[k] for k in ('kid', 'fid', 'abs_rel', 'delta1')}}
        with rows_path.open('a') as f: f.write(json.dumps(r) + '\n')
        rows.append(r)
        print(f"{r['variant']:18s} seed {str(r['seed']):4s} depth KID x1e3 {r['kid'] * 1e3:6.1f}  FID {r['fid']:6.1f}  "
              f"AbsRel {r['abs_rel']:.3f}  δ<1.25 {r['delta1']:.3f}  train {r.get('train_s', 0):5.0f} s", flush=True)

    if ('lookup', None) not in done:
        tr = load_split(str(root), 'train', 32, p.depth, device='cpu')
        measure(DepthLookup().fit(tr.labels, tr.depth)(vd.labels[:n])[:, None], variant='lookup', seed=None)
    for name in args.variants:
        for seed in args.seeds:
            if (name, seed) in done: continue
            cfg = replace(p.train_config('1', seed, root, 32), **VARIANTS[name], sample_every=0, ckpt_every=0)
            folder = out/f'{name}_seed{seed}'
            t0 = time.perf_counter()
            if not (folder/'last.pt').exists(): run_training(cfg, folder)
            dt = time.perf_counter() - t0
            G, c = load_generator(folder, 'cpu')
            measure(predict_depth(G, vd.labels[:n], c.label_nc)[:, None], variant=name, seed=seed, train_s=round(dt, 1))
    lookup = next(r for r in rows if r['variant'] == 'lookup')
    print(f"\nratios to the lookup (depth KID; AbsRel): lookup KID x1e3 {lookup['kid'] * 1e3:.1f}, "
          f"AbsRel {lookup['abs_rel']:.3f}")
    for r in rows:
        if r['variant'] != 'lookup':
            print(f"{r['variant']:18s} seed {r['seed']}: KID {r['kid'] / lookup['kid']:.2f}x, "
                  f"AbsRel {r['abs_rel'] / lookup['abs_rel']:.2f}x")


if __name__ == '__main__': main()
