"Only what a stage reads goes to the device, training unchanged; `device_memory` against real tensors (92, 93, 96)."
from dataclasses import replace

import pytest
import torch

from depth_semantic_gan.batches import split_arrays, split_bytes
from depth_semantic_gan.cache import build_cache
from depth_semantic_gan.checkpoints import _saved_bytes, device_memory, state_checksum
from depth_semantic_gan.config import paper_config, tiny_config
from depth_semantic_gan.fixtures import FixtureSource, fixture, tiny_trainer
from depth_semantic_gan.runs import load_split, run_training
from depth_semantic_gan.trainer import GANTrainer
from depth_semantic_gan.vgg import write_random_vgg19

N_TRAIN, N_VAL, S = 10, 4, 16


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    "A 16-px cache of random scenes with exact depth: 10 training and 4 validation items."
    root = tmp_path_factory.mktemp('cache')
    for split, n in (('train', N_TRAIN), ('val', N_VAL)):
        build_cache(FixtureSource(n, seed=len(split)), root, split, S, progress=False)
    return root


def _cfg(cache, stage, **kw):
    "A tiny run of `stage` on the cache, 3 steps; Stage 2 is the oracle (trained and sampled on the exact depth)."
    depth = {'1': dict(depth='exact'), '2': dict(depth='exact', eval_depth='exact', oracle=True)}.get(stage, {})
    return tiny_config(stage, size=S, data=str(cache), label_nc=8, steps=3, batch_size=2, log_every=1,
                       sample_every=0, ckpt_every=0, **{**depth, **kw})


def test_stage1_holds_no_photos(cache):
    "A Stage-1 run's splits on the device are labels and depth alone (before: the photos too)."
    t = run_training(_cfg(cache, '1'), until=1)
    assert t.data.images is None and t.val.images is None
    assert (t.data.nbytes, t.val.nbytes) == (split_bytes(N_TRAIN, S, False, True), split_bytes(N_VAL, S, False, True))
    assert load_split(str(cache), 'train', S, None, 'cpu', images=False).nbytes == split_bytes(N_TRAIN, S, False)


LOADED = {'1': (False, True, False, True), '2': (True, True, True, True), 'baseline': (True, False, True, True)}


@pytest.mark.parametrize('stage,kw', [('1', dict(load_size=18)), ('2', dict(load_size=18)),
                                      ('baseline', dict(depth='exact', load_size=18))])
def test_training_unchanged(cache, stage, kw):
    "Each stage trains bit for bit as it did with every array of the cache on the device (a baseline given depth too)."
    cfg = _cfg(cache, stage, **kw)
    t = run_training(cfg)
    every = [load_split(str(cache), s, S, 'exact', 'cpu') for s in ('train', 'val')]
    ref = GANTrainer(cfg, *every).fit()
    assert state_checksum(t.state_dict()) == state_checksum(ref.state_dict())
    assert t.losses == ref.losses
    held = tuple(x is not None for d in (t.data, t.val) for x in (d.images, d.depth))   # (images, depth) per split
    assert held == LOADED[stage]
    assert [t.data.nbytes, t.val.nbytes] == [split_bytes(len(d), S, a['images'], a['depth'] is not None)
                                             for d, a in ((t.data, split_arrays(cfg, 'train')),
                                                          (t.val, split_arrays(cfg, 'val')))]


def _real(t:GANTrainer) -> dict:
    "What a real trainer holds after a step, part by part, and what its steps save (the count on real tensors)."
    weights = lambda ms: sum(x.nbytes for m in ms if m is not None for x in (*m.parameters(), *m.buffers()))
    return {'weights': weights((t.G, t.D)), 'gradients': sum(p.grad.nbytes for m in (t.G, t.D) for p in m.parameters()),
            'adam': sum(v.nbytes for o in (t.opt_g, t.opt_d) for s in o.state.values() for v in s.values()),
            'vgg': weights([t.vgg]), 'data': t.data.nbytes,
            'activations': max(_saved_bytes(t.cfg, t.G, t.D, t.vgg, t.device).values())}


def test_estimate_equals_real(tmp_path):
    "Stage 1 with a VGG19 and the baseline with L1: the estimate on fake CPU tensors equals the real bytes exactly."
    vgg = str(write_random_vgg19(tmp_path/'vgg19.pth'))
    for t in (tiny_trainer('1', data=fixture(images=False), steps=1, vgg_weights=vgg).fit(),
              tiny_trainer('baseline', data=fixture(depth=False), steps=1, lambda_l1=10.).fit()):
        est, real = device_memory(t.cfg, len(t.data), 0, 'cpu'), _real(t)
        assert {k: est[k] for k in real} == real and est['peak'] == sum(real.values())
        assert real['activations'] > 0 and (real['vgg'] > 0) == (t.cfg.stage == '1')


def test_estimate_allocates_nothing_and_draws_nothing():
    "A paper-size estimate needs no GPU, leaves the random state as it was, and its parts add up."
    state = torch.get_rng_state()
    m = device_memory(paper_config('1', 128, depth='monodepth2'), 20_210, 2_000)
    assert torch.equal(torch.get_rng_state(), state)
    assert m['peak'] == sum(v for k, v in m.items() if k != 'peak')
    assert m['data'] == split_bytes(22_210, 128, images=False, depth=True)
    assert m['gradients'] * 2 < m['adam'] < m['gradients'] * 2 + 2**20
    assert m['vgg'] > 50e6                                                   # VGG19 to relu5_1: 13 convs


def test_bf16_only_where_training_uses_it():
    "`amp` shrinks the activations on CUDA (autocast, emulated on fake tensors) and changes nothing on the CPU."
    c = tiny_config('2', size=32, depth='exact', eval_depth='stage1-x', label_nc=8)
    fp32, bf16 = (device_memory(replace(c, amp=a), 16, 4)['activations'] for a in (False, True))
    assert bf16 < fp32
    assert device_memory(replace(c, amp=True), 16, 4, 'cpu') == device_memory(c, 16, 4, 'cpu')
