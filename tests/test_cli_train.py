"""`dsg_train` in its own process: a tiny Stage-1 run stopped halfway and resumed ends with the same weights as one run
straight through; Stage 2 then trains on the depth that run generates; a finished run folder is not overwritten; a
damaged checkpoint ends `--resume` with one line naming the file (its traceback only with `--debug`)."""
import os, shutil, subprocess, sys
from pathlib import Path

import torch

from depth_semantic_gan.cache import build_cache, depth_sources
from depth_semantic_gan.stage1 import stage1_source
from random_scenes import RandomScenes


def _cli(*args):
    cmd = [str(Path(sys.executable).parent/'dsg_train')]   # the console script `pip install -e .` made
    env = {**os.environ, 'DSG_DEVICE': 'cpu', 'OMP_NUM_THREADS': '1'}
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env, timeout=600)


def _ok(r):
    assert r.returncode == 0, f'dsg_train failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}'
    return r


def test_dsg_train_stop_resume_and_stage2(tmp_path):
    cache = tmp_path/'cache'
    for split, n in (('train', 6), ('val', 2)):
        build_cache(RandomScenes(n, len(split)), cache, split, 16, progress=False)
    common = ['--stage', '1', '--data', cache, '--depth', 'exact', '--size', 16, '--steps', 4, '--log_every', 2,
              '--sample_every', 2, '--ckpt_every', 2]
    a, b = tmp_path/'s1a', tmp_path/'s1b'
    _ok(_cli(*common, '--run', a, '--stop_at', 2))
    assert torch.load(a/'last.pt', weights_only=True)['step'] == 2
    _ok(_cli('--run', a, '--resume'))
    _ok(_cli(*common, '--run', b))
    ca, cb = (torch.load(p/'last.pt', weights_only=True) for p in (a, b))
    assert ca['step'] == cb['step'] == 4
    for k in ('G', 'D'):
        for name, v in ca[k].items(): assert torch.equal(v, cb[k][name]), f'{k}.{name}: resumed run differs'
    assert sorted(p.name for p in (a/'samples').iterdir()) == ['step_000002.png', 'step_000004.png']
    assert (a/'log.jsonl').read_text().count('\n') == 2

    r = _cli(*common, '--run', b)                    # the finished run is kept, not overwritten
    assert r.returncode != 0 and 'already holds a run' in r.stderr
    _damaged_checkpoints(b, tmp_path)

    s2 = tmp_path/'s2'
    _ok(_cli('--stage', 2, '--stage1_run', b, '--data', cache, '--size', 16, '--steps', 2, '--run', s2))
    src = stage1_source(b)                           # 'stage1-s1b-<hash of its path>'
    assert src in depth_sources(cache, 'train', 16) and src in depth_sources(cache, 'val', 16)
    c2 = torch.load(s2/'last.pt', weights_only=True)
    assert (c2['step'], c2['config']['depth'], c2['config']['eval_depth']) == (2, src, src)
    assert c2['G']['fc.weight'].shape[1] == 152     # 151 one-hot channels + depth

    r = _cli('--stage', 2, '--data', cache, '--size', 16, '--run', tmp_path/'s2x')
    assert r.returncode != 0 and 'stage 2 needs --stage1_run' in r.stderr


def _flip(f, at):
    "Flip every bit of the byte at offset `at` of the open file `f`."
    f.seek(at)
    byte = f.read(1)[0]
    f.seek(at)
    f.write(bytes([byte ^ 0xFF]))


def _damaged_checkpoints(run, tmp_path):
    "`--resume` on a copy of `run` whose last.pt is truncated, or has one byte flipped: one line, exit status 1."
    size = (run/'last.pt').stat().st_size
    for name, damage in (('truncated', lambda f: f.truncate(size // 2)), ('flipped', lambda f: _flip(f, size // 2))):
        bad = tmp_path/name
        shutil.copytree(run, bad)
        with open(bad/'last.pt', 'r+b') as f: damage(f)
        r = _cli('--run', bad, '--resume')
        assert r.returncode == 1 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
        assert r.stderr.startswith(f'dsg_train: error: {bad/"last.pt"}'), r.stderr
        r = _cli('--run', bad, '--resume', '--debug')  # the traceback, for a bug report
        assert r.returncode == 1 and 'Traceback' in r.stderr and 'CheckpointError' in r.stderr, r.stderr[-3000:]
