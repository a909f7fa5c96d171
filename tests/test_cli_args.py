"""The console scripts' arguments: bad ones end in one `prog: error:` line and exit status 2 before anything is written
(no run folder, no `preset.json`, nothing in `DSG_HOME`); every underscore option also has a dashed spelling, and both
work under fastcore 1.x (the dev pin) and the newest fastcore (what a plain `pip install .` brings).

The cases run the installed console-script files in this process (`runpy`, as the OS would run them: fast), a few
in processes of their own, and the newest-fastcore checks in processes whose `PYTHONPATH` starts with the folder that
`make test` fills with it (`<venv>/fastcore-latest`; another folder with `DSG_FASTCORE_LATEST`).
"""
import os, runpy, subprocess, sys
from pathlib import Path

import pytest
import torch

BIN = Path(sys.executable).parent                                   # the console scripts `pip install -e .` made
LATEST = Path(os.environ.get('DSG_FASTCORE_LATEST', Path(sys.prefix)/'fastcore-latest'))

TRAIN_CASES = [  # arguments ({tmp}: a fresh folder), what the one error line must contain
    (['--size', '0'], ['--size must be a positive multiple of 16', 'got 0']),
    (['--size', '24'], ['--size', 'got 24']),
    (['--paper', '--size', '32'], ["the paper trains no stage '1' at 32 px"]),
    (['--steps', '-1'], ['--steps must be a positive integer, got -1']),
    (['--steps', 'x'], ['--steps', "invalid int value: 'x'"]),
    (['--batch_size', '0'], ['--batch_size must be a positive integer, got 0']),
    (['--log_every', '-5'], ['--log_every must be a positive integer, got -5']),
    (['--log-every', '-5'], ['--log_every must be a positive integer, got -5']),
    (['--sample_every', '-1'], ['--sample_every must be a non-negative integer, got -1']),
    (['--ckpt-every', '-2'], ['--ckpt_every must be a non-negative integer, got -2']),
    (['--stop_at', '-3'], ['--stop_at must be a positive integer, got -3']),
    (['--stop-at', '-3'], ['--stop_at must be a positive integer, got -3']),
    (['--seed', '-1'], ['--seed must be a non-negative integer, got -1']),
    (['--stage', '3'], ['--stage', "invalid choice: '3'"]),
    (['--data', '{tmp}/missing'], ['--data {tmp}/missing: no such folder']),
    (['--stage', '2'], ['stage 2 needs --stage1_run']),
    (['--stage', '2', '--stage1_run', '{tmp}/missing'], ['--stage1_run {tmp}/missing: no trained run there']),
    (['--stage', '2', '--stage1-run', '{tmp}/missing'], ['--stage1_run {tmp}/missing: no trained run there']),
    (['--resume'], ['--resume: {tmp}/run holds no checkpoint']),
    (['--bogus', '1'], ['unrecognized arguments: --bogus 1']),
]
DEMO_CASES = [
    (['--steps', '0'], ['--steps must be a positive integer, got 0']),
    (['--steps', '-1'], ['--steps must be a positive integer, got -1']),
    (['--preset', 'huge'], ['--preset', "invalid choice: 'huge'"]),
    (['--seeds', '0,x'], ["--seeds must be distinct non-negative integers", "got '0,x'"]),
    (['--seeds', '1,1'], ["--seeds must be distinct non-negative integers", "got '1,1'"]),
    (['--until', 'train'], ['--until', "invalid choice: 'train'"]),
    (['--monodepth2', '{tmp}/missing'], ['--monodepth2 {tmp}/missing: no such folder']),
]
CASES = ([('dsg_train', a, m) for a, m in TRAIN_CASES]
         + [('dsg_demo', ['--preset', 'tiny', *a], m) for a, m in DEMO_CASES])


def _fill(xs, tmp): return [x.replace('{tmp}', str(tmp)) for x in xs]

def _check(name, code, err, expect, tmp, home):
    "Exit status 2, one error line naming the option and value, no traceback, nothing written."
    assert code == 2, f'exit status {code}, stderr:\n{err[-3000:]}'
    assert 'Traceback' not in err and err.endswith('\n') and err.count('\n') == 1, err[-3000:]
    assert err.startswith(f'{name}: error: '), err
    for s in expect: assert s in err, f'{s!r} not in {err!r}'
    assert not (tmp/'run').exists(), f'{name} made its run folder: {sorted(p.name for p in (tmp/"run").rglob("*"))}'
    assert list(home.iterdir()) == [], f'{name} wrote into DSG_HOME: {sorted(str(p) for p in home.rglob("*"))}'


@pytest.mark.parametrize('name,args,expect', CASES, ids=[f'{n} {" ".join(a)}' for n, a, _ in CASES])
def test_bad_argument(name, args, expect, tmp_path, monkeypatch, capsys):
    "The console script's file, run as `__main__` in this process (its stderr and exit status as in its own process)."
    home = tmp_path/'home'
    home.mkdir()
    monkeypatch.setenv('DSG_HOME', str(home))
    monkeypatch.setattr(sys, 'argv', [str(BIN/name), '--run', str(tmp_path/'run'), *_fill(args, tmp_path)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e: runpy.run_path(str(BIN/name), run_name='__main__')
    _check(name, e.value.code, capsys.readouterr().err, _fill(expect, tmp_path), tmp_path, home)


def _env(home, fastcore_dir=None):
    pp = [str(fastcore_dir)] if fastcore_dir else []
    pp += [os.environ['PYTHONPATH']] if os.environ.get('PYTHONPATH') else []
    return {**os.environ, 'DSG_HOME': str(home), 'DSG_DEVICE': 'cpu', 'OMP_NUM_THREADS': '1',
            'PYTHONPATH': os.pathsep.join(pp)}

# Runs a console-script file as `__main__` after printing the fastcore this process imports.
_SHOW_FASTCORE = ("import runpy, sys, fastcore; "
                  "print('fastcore', fastcore.__version__, fastcore.__file__, flush=True); "
                  "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")

def _start(name, args, env, show_fastcore=False):
    cmd = [sys.executable, '-c', _SHOW_FASTCORE, str(BIN/name)] if show_fastcore else [str(BIN/name)]
    return subprocess.Popen(cmd + [str(a) for a in args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)

def _bad_args_in_processes(tmp, env_of, show_fastcore=False, also=()) -> list:
    "Three bad calls at once, each in its own process, checked like `test_bad_argument`, and starts the ones in `also`."
    cases = [('dsg_train', ['--stop-at', '-3'], ['--stop_at must be a positive integer, got -3']),
             ('dsg_train', ['--size', '0', '--log_every', '1'], ['--size must be a positive multiple of 16', 'got 0']),
             ('dsg_demo', ['--preset', 'tiny', '--steps', '0'], ['--steps must be a positive integer, got 0'])]
    procs = []
    for i, (name, args, expect) in enumerate(cases):
        d = tmp/f'case{i}'
        (d/'home').mkdir(parents=True)
        procs.append((name, d, expect, _start(name, ['--run', d/'run', *args], env_of(d/'home'), show_fastcore)))
    started = [_start(*a) for a in also]
    outs = []
    for name, d, expect, p in procs:
        out, err = p.communicate(timeout=300)
        _check(name, p.returncode, err, expect, d, d/'home')
        outs.append(out)
    return outs, [(p, *p.communicate(timeout=300)) for p in started]

def test_bad_arguments_in_own_processes(tmp_path):
    _bad_args_in_processes(tmp_path, _env)


def _fastcore_seen(out:str) -> tuple:
    "(version, file) from the first line `_SHOW_FASTCORE` printed."
    _, version, path = out.splitlines()[0].split(' ', 2)
    return tuple(int(x) for x in version.split('.')[:2]), path

def test_console_scripts_under_newest_fastcore(tmp_path):
    "Both option spellings, a training stopped early, the help and the bad-argument errors, under fastcore >= 2."
    if not (LATEST/'fastcore').is_dir():
        msg = (f'no newest fastcore in {LATEST}: `make test` installs it there '
               '(or set DSG_FASTCORE_LATEST to such a folder)')
        if os.environ.get('CI') == 'true': pytest.fail(msg)
        pytest.skip(msg)
    from depth_semantic_gan.scenes import prepare_scenes
    home = tmp_path/'home'
    home.mkdir()
    env_of = lambda home: _env(home, LATEST)
    helps = {'dsg_train': ['--stage1_run STAGE1_RUN, --stage1-run STAGE1_RUN', '--stop_at STOP_AT, --stop-at STOP_AT'],
             'dsg_demo': ['--preset PRESET', '--until UNTIL']}
    outs, done = _bad_args_in_processes(tmp_path/'bad', env_of, True,
                                        [(n, ['--help'], env_of(home), True) for n in helps])
    for out in outs:
        version, path = _fastcore_seen(out)
        assert version >= (2, 0) and Path(path).is_relative_to(LATEST), out
    for (name, want), (p, out, err) in zip(helps.items(), done):
        assert p.returncode == 0 and _fastcore_seen(out)[0] >= (2, 0), out + err
        text = ' '.join(out.split())                                   # argparse wraps the help to the terminal width
        for s in want: assert s in text, f'{s!r} not in the help of {name}:\n{out}'

    run = tmp_path/'s1'
    cache = prepare_scenes(tmp_path/'cache', 6, 2, (16,), progress=False)
    p = _start('dsg_train', ['--stage', '1', '--data', cache, '--depth', 'exact', '--size', 16, '--steps', 2,
                             '--batch-size', 2, '--log_every', 1, '--sample-every', 1, '--ckpt_every', 1,
                             '--stop_at', 1, '--run', run],
               env_of(home), show_fastcore=True)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, f'dsg_train failed:\n{out[-2000:]}\n{err[-3000:]}'
    assert _fastcore_seen(out)[0] >= (2, 0), out
    ck = torch.load(run/'last.pt', weights_only=True)
    assert (ck['step'], ck['config']['steps'], ck['config']['batch_size'], ck['config']['sample_every']) == (1, 2, 2, 1)
    assert (run/'log.jsonl').read_text().count('\n') == 1 and list(home.iterdir()) == []
