"""`dsg_demo` in processes of its own: killed in the middle of Stage 2, then run again, it resumes and finishes.

Uses the `tiny` preset with more steps (so that there is a middle to kill in) in a temporary run folder.
"""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEMO = [str(Path(sys.executable).parent/'dsg_demo')]                     # the console script `pip install -e .` made

def _demo(run, *extra, **kw):
    return subprocess.Popen([*DEMO, '--preset', 'tiny', '--steps', '12', '--run', str(run), *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

def test_demo_killed_then_resumed(tmp_path):
    run = tmp_path/'tiny'
    p = _demo(run)
    ck = run/'stage2_d32_s0'/'last.pt'
    t0 = time.time()
    while not ck.exists():                                   # first Stage-2 checkpoint: the run is in the middle
        assert p.poll() is None, f'dsg_demo ended early:\n{p.stdout.read()[-3000:]}'
        assert time.time() - t0 < 300, 'no Stage-2 checkpoint after 300 s'
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert torch.load(ck, map_location='cpu', weights_only=True)['step'] < 12
    assert not (run/'report.md').exists()

    out = _demo(run).communicate(timeout=600)[0]
    assert '[stage1] stage1_32_s0: done before' in out and '[stage1] stage1_32_s1: done before' in out, out[-3000:]
    assert '[stage2] stage2_d32_s0: resumed at step' in out, out[-3000:]
    assert (run/'report.md').exists() and (run/'report.html').exists()
    report = (run/'report.md').read_text()
    assert 'stage2_d32_s0 12' in report                      # the resumed model reached its last step
    images = json.loads((run/'results.json').read_text())['images']   # every image model of the preset, in this order
    assert [(r['model'], r['seed']) for r in images] == [(m, s) for m in ('baseline', 'ours_32', 'oracle') for s in (0, 1)
                                                         ] + [('painter', None)], images

    again = _demo(run).communicate(timeout=600)[0]           # a third call: nothing left but the report
    assert again.count('done before') == 12, again[-3000:]   # 2 seeds × (Stage 1, its depth, Stage 2, baseline, oracle, eval)
    assert '[eval] seed 0: done before' in again

def test_demo_rejects_other_preset_in_same_folder(tmp_path):
    run = tmp_path/'tiny'
    first = _demo(run, '--until', 'data').communicate(timeout=300)[0]
    assert (run/'preset.json').exists(), first[-2000:]
    p = subprocess.run([*DEMO, '--preset', 'tiny', '--steps', '13', '--run', str(run)], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode != 0 and "'steps': (12, 13)" in p.stderr, p.stderr[-2000:]

def test_demo_refuses_a_busy_run_folder(tmp_path):
    "A second `dsg_demo` on a run folder in use stops at once, naming the folder and the first one's PID."
    run = tmp_path/'tiny'
    first = _demo(run)
    try:
        t0 = time.time()
        while not (run/'preset.json').exists():                  # written under the run folder's lock
            assert first.poll() is None, f'dsg_demo ended early:\n{first.stdout.read()[-3000:]}'
            assert time.time() - t0 < 120, 'no preset.json after 120 s'
            time.sleep(0.05)
        second = subprocess.run([*DEMO, '--preset', 'tiny', '--steps', '12', '--run', str(run)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert first.poll() is None                               # the first one still runs
        err = second.stderr
        assert second.returncode == 1 and err.count('\n') == 1 and 'Traceback' not in err, err[-3000:]
        assert err.startswith(f'dsg_demo: error: run folder {run} is in use by another process (PID {first.pid})'), err
    finally:
        first.kill()
        first.wait()

def test_demo_under_torchrun_two_ranks(tmp_path):
    "Two gloo ranks on the CPU: both train every model, rank 0 alone prepares data, evaluates and reports."
    script = tmp_path/'demo.py'
    script.write_text('from depth_semantic_gan.pipeline import dsg_demo\ndsg_demo()\n')
    run = tmp_path/'ddp'
    p = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '--', str(script),   # '--': or torchrun takes --run for its --run-path
                        '--preset', 'tiny', '--run', str(run)], cwd=ROOT, capture_output=True, text=True, timeout=900,
                       env={**os.environ, 'OMP_NUM_THREADS': '1', 'DSG_DEVICE': 'cpu'})
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert p.stdout.count('[stage1] stage1_32_s0: trained') == 1          # one line: only rank 0 reports
    assert (run/'report.md').exists() and len(list(run.glob('eval/seed*.json'))) == 2
    ck = torch.load(run/'stage2_d32_s1'/'last.pt', map_location='cpu', weights_only=True)
    assert ck['step'] == 6 and ck['config']['batch_size'] == 8            # the global batch, split 4 + 4
