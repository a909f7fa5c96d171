"""Shared pytest set-up: the longest tests start first, so that with two workers (`make test`) neither waits on one
of them at the end."""

LONGEST = ('test_paper_smoke', 'test_wheel_install', 'test_demo_cli', 'test_notebooks.py::test_notebook[04a_training]',
           'test_notebooks.py::test_notebook[93_checkpoints]', 'test_fid_cli')


def pytest_collection_modifyitems(items):
    rank = lambda item: next((i for i, k in enumerate(LONGEST) if k in item.nodeid), len(LONGEST))
    items.sort(key=rank)                                    # stable: the rest keep their order
