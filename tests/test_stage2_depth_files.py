"Stage-1 depth files in the cache (`write_stage1_depth`): smaller sizes, provenance records, two runs of one name."
import re, shutil

import numpy as np
import pytest
import torch

from depth_semantic_gan.cache import decode_depth, depth_path, depth_sources, read_depth
from depth_semantic_gan.checkpoints import load_checkpoint, load_generator
from depth_semantic_gan.config import tiny_config
from depth_semantic_gan.runs import load_split, run_training
from depth_semantic_gan.scenes import prepare_scenes
from depth_semantic_gan.stage1 import predict_depth, stage1_source
from depth_semantic_gan.stage2 import (STAGE1_RECORD, downsize_depth, stage1_record, stage2_config,
                                       write_stage1_depth)


def stage1_run(cache, folder, seed=0, steps=3):
    "A tiny Stage-1 run on `cache` in `folder`; returns its generator on the CPU."
    cfg = tiny_config('1', size=32, data=str(cache), depth='exact', batch_size=2, steps=steps, log_every=steps,
                      sample_every=0, seed=seed)
    run_training(cfg, folder)
    return load_generator(folder, 'cpu')[0]


@pytest.fixture
def cache(tmp_path):
    return prepare_scenes(tmp_path/'scenes', 8, 4, (32, 16), progress=False)


def stored(cache, source, split='train', size=32):
    return decode_depth(read_depth(cache, split, size, source))


def test_sizes_and_errors(cache):
    run1 = cache/'runs'/'s1'
    G1 = stage1_run(cache, run1)
    src = write_stage1_depth(run1, 'train')
    assert re.fullmatch(r'stage1-s1-[0-9a-f]{10}', src) and src == stage1_source(run1)
    d32 = stored(cache, src)
    labels = load_split(str(cache), 'train', 32, device='cpu').labels
    torch.testing.assert_close(d32, predict_depth(G1, labels), atol=2e-5, rtol=0)          # uint16 storage
    write_stage1_depth(run1, 'train', size=16)                                            # 32 -> 16: area pooling
    torch.testing.assert_close(stored(cache, src, size=16), downsize_depth(d32, 16), atol=5e-5, rtol=0)
    assert write_stage1_depth(run1, 'val', size=16) == src
    with pytest.raises(ValueError, match='12 must divide 32'): write_stage1_depth(run1, 'train', size=12)
    other = cache/'runs'/'other'
    with pytest.raises(Exception, match=f"no depth '{stage1_source(other)}' for this cache"):
        run_training(stage2_config(other, size=16, data=str(cache)))
    run_training(stage2_config(run1, size=16, data=str(cache), batch_size=2, steps=1, log_every=1, sample_every=0),
                 cache/'runs'/'s2')
    with pytest.raises(ValueError, match="is a stage '2' run, not Stage 1"):
        write_stage1_depth(cache/'runs'/'s2', 'train')


def test_record_names_the_generator(cache):
    "A file the same generator wrote is reused as it is (even blanked); one without a record is computed again."
    run1 = cache/'runs'/'s1'
    stage1_run(cache, run1)
    src = write_stage1_depth(run1, 'train')
    d32 = stored(cache, src).clone()
    p32 = depth_path(cache, 'train', 32, src)
    assert p32.with_suffix(STAGE1_RECORD).name == f'train_32.depth_{src}.stage1.json'
    ck = load_checkpoint(run1/'last.pt')
    assert stage1_record(p32) == {'run': str(run1.resolve()), 'step': ck['step'], 'checkpoint': ck['sha256']}
    np.save(p32, np.zeros((8, 32, 32), np.uint16))                                       # blanked: all -1
    assert write_stage1_depth(run1, 'train') == src and (read_depth(cache, 'train', 32, src) == 0).all()  # reused
    p32.with_suffix(STAGE1_RECORD).unlink()
    assert stage1_record(p32) is None and write_stage1_depth(run1, 'train') == src    # unrecorded: computed again
    torch.testing.assert_close(stored(cache, src), d32, atol=2e-5, rtol=0)
    assert stage1_record(p32)['checkpoint'] == ck['sha256']                            # ... and recorded
    assert depth_sources(cache, 'train', 32) == ['exact', src]                         # the record is no source


def test_two_runs_one_folder_name(cache):
    "A second run whose folder has the same name writes its own depth; retrained in its folder, it is computed again."
    run1 = cache/'runs'/'s1'
    stage1_run(cache, run1)
    src = write_stage1_depth(run1, 'train')
    labels32 = load_split(str(cache), 'train', 32, device='cpu').labels
    before = stored(cache, src).clone()
    other = cache/'elsewhere'/'s1'                                       # the same folder name as run1, another run
    G_other = stage1_run(cache, other, seed=1, steps=1)
    src_other = write_stage1_depth(other, 'train')
    assert other.name == run1.name and src_other != src and src_other.startswith('stage1-s1-')
    assert depth_sources(cache, 'train', 32) == sorted(['exact', src, src_other])
    torch.testing.assert_close(stored(cache, src_other), predict_depth(G_other, labels32), atol=2e-5, rtol=0)
    assert torch.equal(stored(cache, src), before)                       # the first run's depth is untouched
    assert stored(cache, src_other).sub(before).abs().max().item() > 5e-4   # (not one run's depth twice)

    old_ck, old_depth = load_checkpoint(other/'last.pt')['sha256'], stored(cache, src_other).clone()
    shutil.rmtree(other)
    G_new = stage1_run(cache, other, seed=2, steps=1)                    # retrained in the same folder
    assert write_stage1_depth(other, 'train') == src_other              # same folder: same source ...
    torch.testing.assert_close(stored(cache, src_other), predict_depth(G_new, labels32), atol=2e-5, rtol=0)
    assert stored(cache, src_other).sub(old_depth).abs().max().item() > 5e-4   # ... the new generator's depth
    new_ck = load_checkpoint(other/'last.pt')['sha256']
    assert stage1_record(depth_path(cache, 'train', 32, src_other))['checkpoint'] == new_ck != old_ck
    assert torch.equal(stored(cache, src), before)
