"""`dsg_demo` in processes of its own: killed in the middle of Stage 2, then run again, it resumes and finishes; a
second run on a busy folder, or with another preset, stops; two ranks under torchrun.

Uses the `tiny` preset with more steps (so that there is a middle to kill in) in a temporary run folder. The
kill-and-resume test runs the package as a user installs it: a non-editable wheel (`make test` installs the
package in editable mode, which reads the modules from the checkout), installed without dependencies (the test's
own environment has them) into a temporary folder, run from a folder outside the checkout.
"""
import json, os, signal, subprocess, sys, time, zipfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEMO = [str(Path(sys.executable).parent/'dsg_demo')]                     # the console script `pip install -e .` made

def _demo(run, *extra, demo=DEMO, cwd=ROOT, **kw):
    return subprocess.Popen([*demo, '--preset', 'tiny', '--steps', '12', '--run', str(run), *extra], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f'{cmd} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}'
    return p

def _install_wheel(tmp_path) -> tuple:
    "Build the wheel, check what it holds, install it into `tmp_path/site`; (its dsg_demo command, its environment)."
    wheels, site = tmp_path/'wheels', tmp_path/'site'
    pip = [sys.executable, '-m', 'pip']
    _run([*pip, 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(wheels), str(ROOT)], cwd=tmp_path)
    (whl,) = wheels.glob('depth_semantic_gan-*.whl')
    names = zipfile.ZipFile(whl).namelist()
    assert 'depth_semantic_gan/assets/ade20k_classes.json' in names, names   # package data: the class names
    assert not any(n.startswith(('nbs/', 'tests/')) for n in names)
    _run([*pip, 'install', '-q', '--no-deps', '--target', str(site), str(whl)], cwd=tmp_path)
    return [sys.executable, str(site/'bin'/'dsg_demo')], {**os.environ, 'PYTHONPATH': str(site)}

def test_installed_wheel_demo_killed_then_resumed(tmp_path):
    demo, env = _install_wheel(tmp_path)
    work = tmp_path/'work'
    work.mkdir()
    code = ('import depth_semantic_gan as d; from depth_semantic_gan.data import ADE_CLASSES; '
            'print(d.__file__, len(ADE_CLASSES))')
    where = _run([sys.executable, '-c', code], cwd=work, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(tmp_path/'site'), f'imported {where[0]}, not the installed wheel'
    assert where[1] == '151'
    _run([sys.executable, str(tmp_path/'site'/'bin'/'dsg_train'), '--help'], cwd=work, env=env)

    run = work/'tiny'
    installed = lambda run: _demo(run, demo=demo, cwd=work, env=env)  # the wheel's dsg_demo, away from the checkout
    p = installed(run)
    ck = run/'stage2_d32_s0'/'last.pt'
    t0 = time.time()
    while not ck.exists():                                   # first Stage-2 checkpoint: the run is in the middle
        assert p.poll() is None, f'dsg_demo ended early:\n{p.stdout.read()[-3000:]}'
        assert time.time() - t0 < 300, 'no Stage-2 checkpoint after 300 s'
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert torch.load(ck, map_location='cpu', weights_only=True)['step'] < 12
    assert not (run/'report.md').exists()

    out = installed(run).communicate(timeout=600)[0]
    assert '[stage1] stage1_32_s0: done before' in out and '[stage1] stage1_32_s1: done before' in out, out[-3000:]
    assert '[stage2] stage2_d32_s0: resumed at step' in out, out[-3000:]
    assert (run/'report.md').exists() and (run/'report.html').exists()
    report = (run/'report.md').read_text()
    assert 'stage2_d32_s0 12' in report                      # the resumed model reached its last step
    assert 'within noise' in report or 'beyond the seed' in report   # two seeds: a verdict on the noise between them
    res = json.loads((run/'results.json').read_text())
    want = [(m, s) for m in ('baseline', 'ours_32', 'oracle') for s in (0, 1)] + [('painter', None), ('rerender', None)]
    assert [(r['model'], r['seed']) for r in res['images']] == want, res['images']   # models, floor, ceiling
    assert [(r['model'], r['seed']) for r in res['depth_sensitivity']] == want[2:6]    # the probe: models given depth
    assert '## What depth does' in report and (run/'figures'/'depth_probe.png').exists()

    again = installed(run).communicate(timeout=600)[0]           # a third call: nothing left but the report
    assert again.count('done before') == 12, again[-999:]  # 2 seeds x (Stage 1, depth, Stage 2, baseline, oracle, eval)
    assert '[eval] seed 0: done before' in again

def test_demo_rejects_other_preset_in_same_folder(tmp_path):
    run = tmp_path/'tiny'
    first = _demo(run, '--until', 'data').communicate(timeout=300)[0]
    assert (run/'preset.json').exists(), first[-2000:]
    p = subprocess.run([*DEMO, '--preset', 'tiny', '--steps', '13', '--run', str(run)], cwd=ROOT, capture_output=True,
                       text=True)
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
    """Two gloo ranks on the CPU: both train every model (of one seed: a second proves nothing more), rank 0 alone
    prepares data, evaluates and reports."""
    script = tmp_path/'demo.py'
    script.write_text('from depth_semantic_gan.pipeline import dsg_demo\ndsg_demo()\n')
    run = tmp_path/'ddp'
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']
    p = subprocess.run([*torchrun, '--', str(script),          # '--': or torchrun takes --run for its --run-path
                        '--preset', 'tiny', '--seeds', '0', '--run', str(run)], cwd=ROOT, capture_output=True,
                       text=True, timeout=900, env={**os.environ, 'OMP_NUM_THREADS': '1', 'DSG_DEVICE': 'cpu'})
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert p.stdout.count('[stage1] stage1_32_s0: trained') == 1          # one line: only rank 0 reports
    assert (run/'report.md').exists() and [p.name for p in run.glob('eval/seed*.json')] == ['seed0.json']
    ck = torch.load(run/'stage2_d32_s0'/'last.pt', map_location='cpu', weights_only=True)
    assert ck['step'] == 6 and ck['config']['batch_size'] == 8            # the global batch, split 4 + 4
