"""The package as a user installs it: a non-editable wheel, imported from its install folder, away from the repository.

`make test` installs the package in editable mode, which reads the modules from the checkout. This test builds a wheel,
installs it (without dependencies: the test's own environment has them) into a temporary folder, and runs the installed
package and its console script from a folder outside the checkout: the class names (package data) must be inside the
wheel, and `dsg_demo --preset tiny` must run through to its report.
"""
import os, subprocess, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f'{cmd} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}'
    return p


def test_wheel_installs_and_runs_the_demo(tmp_path):
    wheels, site, work = tmp_path/'wheels', tmp_path/'site', tmp_path/'work'
    work.mkdir()
    pip = [sys.executable, '-m', 'pip']
    _run([*pip, 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(wheels), str(ROOT)], cwd=tmp_path)
    (whl,) = wheels.glob('depth_semantic_gan-*.whl')
    names = zipfile.ZipFile(whl).namelist()
    assert 'depth_semantic_gan/assets/ade20k_classes.json' in names, names
    assert not any(n.startswith(('nbs/', 'tests/')) for n in names)
    _run([*pip, 'install', '-q', '--no-deps', '--target', str(site), str(whl)], cwd=tmp_path)

    env = {**os.environ, 'PYTHONPATH': str(site)}
    code = ('import depth_semantic_gan as d; from depth_semantic_gan.data import ADE_CLASSES; '
            'print(d.__file__, len(ADE_CLASSES))')
    where = _run([sys.executable, '-c', code], cwd=work, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(site), f'imported {where[0]}, not the installed wheel'
    assert where[1] == '151'
    _run([sys.executable, str(site/'bin'/'dsg_train'), '--help'], cwd=work, env=env)
    out = _run([sys.executable, str(site/'bin'/'dsg_demo'), '--preset', 'tiny', '--run', str(work/'tiny')],
               cwd=work, env=env, timeout=900).stdout
    assert (work/'tiny'/'report.md').exists() and (work/'tiny'/'results.json').exists(), out[-3000:]
