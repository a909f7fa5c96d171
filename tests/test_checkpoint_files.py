"Damaged, foreign and mismatched checkpoint files, a full disk: each a clear error naming the file (93_checkpoints)."
import errno, warnings
from dataclasses import replace
from unittest import mock

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from depth_semantic_gan.checkpoints import (CheckpointError, Checkpointer, load_checkpoint, load_generator, resume,
                                            save_checkpoint, state_checksum)
from depth_semantic_gan.fixtures import fixture, tiny_trainer
from depth_semantic_gan.trainer import build_models


@pytest.fixture(scope='module')
def good(tmp_path_factory):
    "A run folder with a checkpoint of 2 steps of the tiny Stage-1 trainer: `(path of last.pt, its bytes, its state)`."
    path = save_checkpoint(tiny_trainer('1', steps=2, run_dir=tmp_path_factory.mktemp('good')).fit())
    return path, path.read_bytes(), load_checkpoint(path)


def _same(a, b):
    "Bitwise equality of two state dicts (nested dicts, lists, tensors)."
    if isinstance(a, dict): return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)): return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor): return a.dtype == b.dtype and torch.equal(a, b)
    return a == b


def _flip(data, off, n=1):
    "`data` with bit 4 of `n` bytes from `off` flipped."
    return data[:off] + bytes(b ^ 0x10 for b in data[off:off + n]) + data[off + n:]


def _run(tmp_path, name, data):
    "A run folder whose last.pt holds `data`."
    (tmp_path/name).mkdir()
    (tmp_path/name/'last.pt').write_bytes(data)
    return tmp_path/name


def _saved(tmp_path, obj):
    "The bytes of `torch.save(obj)`."
    torch.save(obj, tmp_path/'obj.pt')
    return (tmp_path/'obj.pt').read_bytes()


def _error(f, *contains):
    "The message of the `CheckpointError` `f` raises (any other error propagates), checking it contains `contains`."
    with pytest.raises(CheckpointError) as e: f()
    for c in contains: assert c in str(e.value), f'{c!r} not in {e.value}'
    return str(e.value)


def _fails_everywhere(run, *contains):
    "`load_checkpoint`, `load_generator` and `resume` all raise `CheckpointError` naming the file."
    for f in (lambda: load_checkpoint(run/'last.pt'), lambda: load_generator(run, 'cpu'),
              lambda: resume(run, fixture(), cbs=[])):
        _error(f, str(run/'last.pt'), *contains)


def test_flipped_bits(tmp_path, good):
    _, raw, sd0 = good
    key, big = max(sd0['G'].items(), key=lambda kv: kv[1].numel())       # the largest weight tensor
    mid = raw.find(big.numpy().tobytes()) + big.numel() * 2
    r = _run(tmp_path, 'flip4k', _flip(raw, mid - 2048, 4096))
    assert not torch.equal(torch.load(r/'last.pt', weights_only=True)['G'][key], big)   # torch.load: no complaint
    _fails_everywhere(r, 'is damaged: its contents do not match the checksum')
    r = _run(tmp_path, 'flipcfg', _flip(raw, raw.find(b'stage1-fx')))    # in the pickled structure: the depth source
    assert torch.load(r/'last.pt', weights_only=True)['config']['depth'] == 'ctage1-fx'   # torch.load: no complaint
    _error(lambda: load_checkpoint(r/'last.pt'), str(r), 'is damaged')
    r = _run(tmp_path, 'flip0', _flip(raw, 0))                             # the zip signature
    _error(lambda: load_checkpoint(r/'last.pt'), str(r), 'cannot be read as a checkpoint')


def test_flips_spread_over_the_file(tmp_path, good):
    "A flip anywhere is an error naming the file, or changes nothing that is loaded."
    _, raw, sd0 = good
    for i, off in enumerate(range(97, len(raw), len(raw) // 6)):
        p = tmp_path/f'f{i}.pt'
        p.write_bytes(_flip(raw, off))
        try: assert _same(load_checkpoint(p), sd0), off
        except CheckpointError as e: assert str(p) in str(e)


def test_truncated(tmp_path, good):
    _, raw, _ = good
    _fails_everywhere(_run(tmp_path, 'cut', raw[:len(raw) // 2]), 'truncated or damaged')
    for n in (0, 100, len(raw) - 1):
        r = _run(tmp_path, f'cut{n}', raw[:n])
        _error(lambda: load_checkpoint(r/'last.pt'), str(r), 'truncated or damaged')


def test_foreign_files(tmp_path, good):
    _, _, sd0 = good
    _fails_everywhere(_run(tmp_path, 'plain', _saved(tmp_path, sd0['G'])), 'not a training checkpoint',
                      'a plain state dict')
    r = _run(tmp_path, 'torchvision', _saved(tmp_path, resnet18().state_dict()))
    _error(lambda: load_checkpoint(r/'last.pt'), str(r), 'not a training checkpoint')
    r = _run(tmp_path, 'module', _saved(tmp_path, nn.Linear(2, 2)))       # a pickled module
    _error(lambda: load_checkpoint(r/'last.pt'), str(r), 'cannot be read as a checkpoint')


def test_weights_of_another_architecture(tmp_path, good):
    path, _, sd0 = good
    other = {**sd0, 'G': tiny_trainer('2').G.state_dict()}
    other['sha256'] = state_checksum(other)
    r = _run(tmp_path, 'arch', _saved(tmp_path, other))
    assert load_checkpoint(r/'last.pt')['step'] == 2                      # intact, but the weights are another stage's
    for f in (lambda: load_generator(r, 'cpu'), lambda: resume(r, fixture(), cbs=[])):
        _error(f, str(r/'last.pt'), 'its G weights do not fit the G its config describes',
               'size mismatch for fc.weight')
    wide = build_models(replace(tiny_trainer('1').cfg, ngf=32))
    _error(lambda: resume(path.parent, fixture(), cbs=[], models=wide), str(path), 'its G weights do not fit')


def test_config_of_another_version(tmp_path, good):
    _, _, sd0 = good
    newer = {**sd0, 'config': {**sd0['config'], 'warmup': 10}}
    newer['sha256'] = state_checksum(newer)
    r = _run(tmp_path, 'newer', _saved(tmp_path, newer))
    _error(lambda: load_checkpoint(r/'last.pt'), str(r), 'config is not one this version can train')


def test_checkpoint_without_checksum_loads_with_a_warning(tmp_path, good):
    _, _, sd0 = good
    old = _run(tmp_path, 'old', _saved(tmp_path, {k: v for k, v in sd0.items() if k != 'sha256'}))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        assert resume(old, fixture(), cbs=[]).step == 2
    assert any(f'{old}/last.pt has no checksum' in str(x.message) for x in w), [str(x.message) for x in w]


def _full_save(*a, **k):
    "What `torch.save` raises when the disk fills up during the write."
    try: raise OSError(errno.ENOSPC, 'No space left on device')
    except OSError:
        raise RuntimeError('[enforce fail at inline_container.cc:672] . unexpected pos 43481600 vs 43481552')


def test_disk_full_during_the_write(tmp_path):
    tiny_trainer('1', steps=4, run_dir=tmp_path, cbs=[Checkpointer(2)]).fit(2)
    good = (tmp_path/'last.pt').read_bytes()
    with mock.patch('torch.save', _full_save):
        t = resume(tmp_path, fixture(), cbs=[Checkpointer(2)])
        with pytest.raises(OSError, match='the disk filled up while writing the checkpoint of step 4; '
                                          'last.pt of step 2 is untouched') as e:
            t.fit()
    assert e.value.errno == errno.ENOSPC
    assert (tmp_path/'last.pt').read_bytes() == good and sorted(p.name for p in tmp_path.iterdir()) == ['last.pt']
    assert resume(tmp_path, fixture(), cbs=[Checkpointer(2)]).fit().step == 4      # room again: the run goes on
