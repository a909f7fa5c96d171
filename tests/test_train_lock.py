"""One run folder, one training: a second `dsg_train` on a folder in use stops at once naming the folder and the PID
holding it, and the first finishes with an intact log; a run killed with SIGKILL leaves no lock behind (and the
leftovers of its interrupted writes are cleaned when the run is resumed); under two DDP ranks only rank 0 locks."""
import json, os, signal, socket, subprocess, sys, time
from pathlib import Path

import torch
import torch.multiprocessing as mp

from depth_semantic_gan.cache import build_cache
from random_scenes import RandomScenes


def _cache(root):
    for split, n in (('train', 6), ('val', 2)):
        build_cache(RandomScenes(n, len(split)), root, split, 16, progress=False)
    return root


def _args(cache, run, steps, *more):
    return ['--stage', '1', '--data', cache, '--depth', 'exact', '--size', 16, '--steps', steps, '--log_every', 5,
            '--sample_every', 0, '--run', run, *more]


def _start(*args):
    "A `dsg_train` process (the console script `pip install -e .` made)."
    cmd = [str(Path(sys.executable).parent/'dsg_train')] + [str(a) for a in args]
    env = {**os.environ, 'DSG_DEVICE': 'cpu', 'OMP_NUM_THREADS': '1'}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(cond, proc, what, timeout=30):
    t0 = time.monotonic()
    while not cond():
        assert proc.poll() is None, f'dsg_train ended before {what}:\n{proc.communicate()[1][-3000:]}'
        assert time.monotonic() - t0 < timeout, f'no {what} after {timeout} s'
        time.sleep(0.05)


def _log_steps(run):
    return [json.loads(l)['step'] for l in (run/'log.jsonl').read_text().splitlines()]   # every line must parse


def test_second_training_on_a_busy_run_folder_stops_at_once(tmp_path):
    cache, run = _cache(tmp_path/'cache'), tmp_path/'run'
    first = _start(*_args(cache, run, 60, '--ckpt_every', 0))
    try:
        _wait_for(lambda: (run/'log.jsonl').exists(), first, 'its first log line')   # training, so holding the folder
        second = _start(*_args(cache, run, 60, '--ckpt_every', 0))
        out, err = second.communicate(timeout=60)
        assert second.returncode != 0, f'a second training ran in a run folder that is in use:\n{err[-1000:]}'
        assert first.poll() is None, 'the first run ended before the second stopped: make it longer'
        msg = out + err
        assert f'run folder {run} is in use by another process (PID {first.pid})' in msg, msg[-2000:]
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err[-3000:]
    finally:
        first.kill(); first.wait()
    assert _log_steps(run) == list(range(5, 61, 5))
    assert torch.load(run/'last.pt', weights_only=True)['step'] == 60


def test_run_killed_with_sigkill_leaves_no_lock(tmp_path):
    cache, run = _cache(tmp_path/'cache'), tmp_path/'run'
    first = _start(*_args(cache, run, 2000, '--ckpt_every', 5))
    try:
        _wait_for(lambda: (run/'last.pt').exists(), first, 'its first checkpoint')
    finally:
        os.kill(first.pid, signal.SIGKILL); first.wait()
    assert first.returncode == -signal.SIGKILL
    step = torch.load(run/'last.pt', weights_only=True)['step']
    (run/'.last.pt.a1b2c3.tmp').write_bytes(b'half a checkpoint')       # what a kill during a save leaves
    r = _start('--run', run, '--resume', '--stop_at', step + 5)
    out, err = r.communicate(timeout=60)
    assert r.returncode == 0, err[-3000:]
    assert torch.load(run/'last.pt', weights_only=True)['step'] == step + 5
    assert not (run/'.last.pt.a1b2c3.tmp').exists()
    steps = _log_steps(run)
    assert steps == sorted(set(steps)) and steps[-1] == step + 5


def _rank(rank, world, port, cache, run):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR='127.0.0.1',
                      MASTER_PORT=str(port), DSG_DEVICE='cpu')
    torch.set_num_threads(1)
    from depth_semantic_gan.runs import run_training
    from depth_semantic_gan.config import tiny_config
    cfg = tiny_config('1', size=16, data=str(cache), depth='exact', steps=2, log_every=1, sample_every=0, ckpt_every=0)
    run_training(cfg, run)
    torch.distributed.destroy_process_group()


def test_only_rank_0_locks_the_run_folder(tmp_path):
    "Every rank trains the same run folder: were all of them to lock it, rank 1 would find it busy."
    cache, run = _cache(tmp_path/'cache'), tmp_path/'run'
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    mp.spawn(_rank, args=(2, port, cache, run), nprocs=2)
    assert _log_steps(run) == [1, 2] and torch.load(run/'last.pt', weights_only=True)['step'] == 2
