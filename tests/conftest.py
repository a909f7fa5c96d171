"""Shared pytest set-up: the longest tests start first, so that with two workers (`make test` hands them one test at a
time) neither waits on one of them at the end; and with several workers, each (and every process it starts) gets its
share of the CPU threads.

Two workers with torch's default of one thread per core each fight for the cores: on this 2-core machine a training
step then takes 1.8x as long as with one thread per worker."""
import os

import torch

LONGEST = ('test_paper_smoke', 'test_demo_cli', 'test_notebooks.py::test_notebook[99a_pipeline]',
           'test_notebooks.py::test_notebook[07a_evaluation]', 'test_browser', 'test_fid_cli', 'test_cli_train',
           'test_notebooks.py::test_notebook[06_fid]')


def pytest_collection_modifyitems(items):
    rank = lambda item: next((i for i, k in enumerate(LONGEST) if k in item.nodeid), len(LONGEST))
    items.sort(key=rank)                                    # stable: the rest keep their order


def pytest_configure(config):
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ['OMP_NUM_THREADS'] = str(threads)        # the subprocesses and kernels a test starts
        torch.set_num_threads(threads)
