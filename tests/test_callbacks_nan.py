"Non-finite batch-norm buffers stop a run before it writes a sample grid or a checkpoint of them (94_callbacks)."
import pytest
import torch

from depth_semantic_gan.callbacks import default_callbacks
from depth_semantic_gan.checkpoints import load_checkpoint
from depth_semantic_gan.fixtures import tiny_trainer


def _trainer(run_dir, **kw):
    "The tiny Stage-1 trainer in `run_dir` with the default callbacks of its config."
    return tiny_trainer('1', run_dir=run_dir, cbs=default_callbacks(tiny_trainer('1', **kw).cfg, run_dir), **kw)


def _finite(sd): return all(torch.isfinite(v).all() for v in sd.values() if v.is_floating_point())


def test_overflow_at_the_first_step_writes_nothing(tmp_path):
    "At 1e8 one step overflows a running variance while the weights and losses stay finite."
    t = _trainer(tmp_path, steps=6, lr_g=1e8, lr_d=1e8, log_every=1, sample_every=1, ckpt_every=1)
    with pytest.raises(FloatingPointError) as e: t.fit()
    msg = str(e.value)
    assert 'step 1: G buffer up_3.norm_0.param_free_norm.running_var holds inf; sample grid not written' in msg, msg
    assert f'This run has written no checkpoint to {tmp_path} yet' in msg, msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ['log.jsonl']           # no grid, no checkpoint


def test_overflow_later_keeps_the_last_good_checkpoint(tmp_path):
    "At 1e4 the overflow comes at step 5 with every loss finite: the run stops at the grid of step 6."
    t = _trainer(tmp_path, steps=8, lr_g=1e4, lr_d=1e4, log_every=2, sample_every=2, ckpt_every=2)
    with pytest.raises(FloatingPointError) as e: t.fit()
    msg = str(e.value)
    assert 'step 6: G buffer up_0.norm_1.param_free_norm.running_var holds inf; sample grid not written' in msg, msg
    assert f'The last good checkpoint (step 4) stays in {tmp_path}/last.pt' in msg, msg
    ck = load_checkpoint(tmp_path/'last.pt')
    assert (ck['step'], _finite(ck['G']), _finite(ck['D'])) == (4, True, True)
    assert sorted(p.name for p in (tmp_path/'samples').iterdir()) == ['step_000002.png', 'step_000004.png']
