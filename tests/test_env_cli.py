"The console script behind `make demo` runs in a fresh process and reports the environment."
import os, subprocess, sys
from pathlib import Path


def test_dsg_env_prints_versions_and_device():
    exe = Path(sys.executable).parent/'dsg_env'
    env = {**os.environ, 'DSG_DEVICE': 'cpu'}
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, env=env).stdout
    fields = {k.strip(): v.strip() for k, v in (l.split(': ', 1) for l in out.strip().splitlines())}
    assert {'depth_semantic_gan', 'torch', 'device', 'cpu_threads'} <= set(fields)
    assert fields['device'] == 'cpu'
