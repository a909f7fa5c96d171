"""GPU check of depth_semantic_gan.spade: bf16 autocast + channels_last + torch.compile on CUDA.

Run from the repository root on a CUDA machine:
  python benchmarks/spade_gpu_check.py [--batch 64] [--crop 64] [--extra-nc 1]
Exits with an error when CUDA is absent. Checks, at the reference sizes (ngf = ndf = 64, SPADE width 128):
  1. torch._dynamo.explain finds no graph break in the forward of G and D, in train and eval mode, under bf16 autocast
     with channels_last tensors;
  2. compiled outputs agree with eager ones (same weights, bf16 tolerance);
  3. time per forward (G, D) and per training iteration (G step + D step, hinge + feature matching, no VGG) for
     fp32 eager, bf16 eager, bf16 + channels_last eager and bf16 + channels_last + torch.compile.
"""
import argparse, copy, sys, time

import torch

from depth_semantic_gan.spade import (DiscriminatorConfig, GeneratorConfig, discriminate, feature_matching_loss,
                                      hinge_d_loss, hinge_g_loss, semantic_input)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--crop', type=int, default=64)
    ap.add_argument('--extra-nc', type=int, default=1, help='extra condition channels (Stage 2: 1 depth channel)')
    ap.add_argument('--iters', type=int, default=20, help='timed iterations per variant')
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit('spade_gpu_check: CUDA is not available - this check must run on a CUDA GPU.')
    dev = torch.device('cuda')
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    print(f'{torch.cuda.get_device_name()}, torch {torch.__version__}, batch {args.batch}, crop {args.crop}, '
          f'extra_nc {args.extra_nc}')

    torch.manual_seed(0)
    gcfg = GeneratorConfig(crop_size=args.crop, extra_nc=args.extra_nc)
    G0, D0 = gcfg.build().to(dev), DiscriminatorConfig.for_generator(gcfg).build().to(dev)
    label = torch.randint(0, gcfg.label_nc, (args.batch, args.crop, args.crop), device=dev)
    extra = torch.rand(args.batch, args.extra_nc, args.crop, args.crop, device=dev) * 2 - 1 if args.extra_nc else None
    seg0 = semantic_input(label, extra, gcfg.label_nc)
    real0 = torch.rand(args.batch, 3, args.crop, args.crop, device=dev) * 2 - 1

    def variant(bf16, cl, comp):
        G, D = copy.deepcopy(G0), copy.deepcopy(D0)
        fmt = torch.channels_last if cl else torch.contiguous_format
        G.to(memory_format=fmt); D.to(memory_format=fmt)
        seg, real = seg0.contiguous(memory_format=fmt), real0.contiguous(memory_format=fmt)
        Gr, Dr = (torch.compile(G), torch.compile(D)) if comp else (G, D)
        ctx = lambda: torch.autocast('cuda', dtype=torch.bfloat16, enabled=bf16)
        return G, D, Gr, Dr, seg, real, ctx

    # 1. graph breaks
    G, D, _, _, seg, real, ctx = variant(True, True, False)
    for train in (True, False):
        G.train(train); D.train(train)
        with ctx():
            torch._dynamo.reset()
            eg = torch._dynamo.explain(G)(seg)
            fake = G(seg).detach()
            ed = torch._dynamo.explain(D)(torch.cat([seg, fake], 1))
        mode = 'train' if train else 'eval'
        print(f'explain ({mode}, bf16, channels_last): G graphs {eg.graph_count} breaks {eg.graph_break_count}; '
              f'D graphs {ed.graph_count} breaks {ed.graph_break_count}')
        for r in list(eg.break_reasons) + list(ed.break_reasons): print('  break:', r.reason)
        assert eg.graph_break_count == 0 and ed.graph_break_count == 0, 'graph breaks in the forward pass'
    torch._dynamo.reset()

    # 2./3. correctness of the compiled forward and timings
    def timed(fn, n):
        for _ in range(3): fn()
        torch.cuda.synchronize(); t = time.perf_counter()
        for _ in range(n): fn()
        torch.cuda.synchronize(); return (time.perf_counter() - t) / n

    eager_out = None
    for name, (bf16, cl, comp) in {'fp32': (False, False, False), 'bf16': (True, False, False),
                                   'bf16+channels_last': (True, True, False),
                                   'bf16+channels_last+compile': (True, True, True)}.items():
        G, D, Gr, Dr, seg, real, ctx = variant(bf16, cl, comp)
        optG = torch.optim.Adam(G.parameters(), 1e-4, betas=(0., 0.9))
        optD = torch.optim.Adam(D.parameters(), 4e-4, betas=(0., 0.9))
        G.eval(); D.eval()
        with torch.no_grad(), ctx():
            t_c = time.perf_counter(); out = Gr(seg); torch.cuda.synchronize(); first = time.perf_counter() - t_c
            if name == 'bf16+channels_last': eager_out = out.float()
            if comp:
                err = (out.float() - eager_out).abs().max().item()
                print(f'compiled vs eager (bf16, eval) G output max|diff| {err:.3e}')
                assert err < 0.1, 'compiled output differs from eager'
            tg = timed(lambda: Gr(seg), args.iters)
            fake = Gr(seg)
            td = timed(lambda: Dr(torch.cat([seg, fake], 1)), args.iters)
        G.train(); D.train()

        def step():
            with ctx():
                fake = Gr(seg)
                pf, pr = discriminate(Dr, seg, fake, real)
                lg = hinge_g_loss(pf) + feature_matching_loss(pf, pr)
            optG.zero_grad(set_to_none=True); lg.backward(); optG.step()
            with ctx():
                with torch.no_grad(): fake = Gr(seg)
                pf, pr = discriminate(Dr, seg, fake, real)
                ld = hinge_d_loss(pf, False) + hinge_d_loss(pr, True)
            optD.zero_grad(set_to_none=True); ld.backward(); optD.step()
        ti = timed(step, args.iters)
        print(f'{name:28s} first call {first:6.1f} s | G forward {tg*1e3:7.2f} ms | D forward {td*1e3:7.2f} ms | '
              f'train iteration {ti*1e3:7.1f} ms ({args.batch/ti:6.0f} img/s) | '
              f'peak {torch.cuda.max_memory_allocated()/2**30:.1f} GiB')
        torch.cuda.reset_peak_memory_stats()
    print('OK')


if __name__ == '__main__':
    main()
