"An interrupted and resumed CPU run ends bit-identical to an uninterrupted one; bad checkpoints and data fail clearly."
from pathlib import Path

import numpy as np
import pytest
import torch

from trm_course.checkpoint import CheckpointError, load_checkpoint
from trm_course.dataset import DatasetFormatError
from trm_course.recipes import get_recipe
from trm_course.sudoku import build_sudoku4_data
from trm_course.train import Trainer, read_log


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp('resume')
    root = build_sudoku4_data(tmp / 'data', n_train=48, n_aug=2, n_test=16, seed=0)
    cfg = get_recipe('sudoku4_cpu', data=str(root), max_steps=24, eval_every=12, global_batch_size=16, warmup_steps=5,
                     lr=3e-3, log_every=3, progress=False, puzzle_emb_ndim=64, puzzle_emb_len=1)  # exercise the sparse optimizer too
    return tmp, cfg


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('curriculum', [False, True])
def test_resume_is_bit_identical(setup, curriculum):
    "Also with a depth curriculum (chapter 15) that the resumed part crosses: T=1 to step 15, n=1 to step 8 (resume at 11)."
    tmp, cfg = setup
    if curriculum: cfg, tmp = cfg.replace(curriculum_T1_steps=15, curriculum_n1_steps=8), tmp / 'curriculum'
    a = Trainer(cfg.replace(out_dir=str(tmp / 'a'))); a.fit(callbacks=a.config_callbacks())
    cb = cfg.replace(out_dir=str(tmp / 'b'))
    b1 = Trainer(cb); b1.fit(steps=11, callbacks=b1.config_callbacks()); b1.save(); del b1
    b2 = Trainer(cb); load_checkpoint(b2, tmp / 'b')
    assert b2.step == 11 and b2.carry is not None
    b2.fit(callbacks=b2.config_callbacks())
    assert _same(a.model.state_dict(), b2.model.state_dict())
    assert _same(a.ema.state_dict()['shadow'], b2.ema.state_dict()['shadow'])
    for o1, o2 in zip(a.optimizers, b2.optimizers):
        for s1, s2 in zip(o1.state.values(), o2.state.values()):
            assert all(torch.equal(torch.as_tensor(s1[k]), torch.as_tensor(s2[k])) for k in s1)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ('time', 'eval_seconds')} for r in rs]
    assert strip(read_log(tmp / 'a' / 'log.jsonl')) == strip(read_log(tmp / 'b' / 'log.jsonl'))


def test_bad_checkpoints_fail_clearly_and_overwrite_nothing(setup):
    tmp, cfg = setup
    c = cfg.replace(out_dir=str(tmp / 'c'), max_steps=4)
    t = Trainer(c); t.fit(callbacks=t.config_callbacks(at_end=None))
    path = t.save()
    good = path.read_bytes()
    with pytest.raises(CheckpointError, match='different configuration') as e:
        load_checkpoint(Trainer(c.replace(T=3, global_batch_size=8)), path)
    assert 'model.T: checkpoint 2, now 3' in str(e.value) and 'global_batch_size' in str(e.value)
    (tmp / 'cut.pt').write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match='corrupt or truncated'):
        load_checkpoint(t, tmp / 'cut.pt')
    bad = bytearray(good); bad[len(bad) // 2: len(bad) // 2 + 32] = b'\xff' * 32
    (tmp / 'bad.pt').write_bytes(bytes(bad))
    with pytest.raises(CheckpointError, match='corrupt or truncated'):
        load_checkpoint(t, tmp / 'bad.pt')
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint(t, tmp / 'missing.pt')
    assert path.read_bytes() == good


def test_dataset_with_missing_files_fails_before_writing(setup, tmp_path):
    tmp, cfg = setup
    import shutil
    broken = tmp_path / 'data'
    shutil.copytree(cfg.data, broken)
    (broken / 'train' / 'all__labels.npy').unlink()
    out = tmp_path / 'run'
    with pytest.raises(DatasetFormatError, match='all__labels.npy'):
        Trainer(cfg.replace(data=str(broken), out_dir=str(out)))
    assert not out.exists()


def test_open_dataset_reads_the_train_metadata_once(setup, monkeypatch):
    "open_dataset reads train/dataset.json once (read_split and the signature reuse it) and returns what the readers return."
    import dataclasses
    from trm_course import dataset
    from trm_course.loading import data_signature, open_dataset
    _, cfg = setup
    root = Path(cfg.data)
    want = {'meta': dataset.read_metadata(root, 'train'), 'signature': data_signature(root),
            'train': dataset.read_split(root, 'train'), 'test': dataset.read_split(root, 'test')}
    reads, real = [], dataset._read_json
    def counted(p, kind): reads.append(Path(p).relative_to(root).as_posix()); return real(p, kind)
    monkeypatch.setattr(dataset, '_read_json', counted)
    d = open_dataset(cfg.data)
    assert sorted(reads) == ['test/dataset.json', 'train/dataset.json']
    assert d.keys() == {'root', 'train', 'test', 'signature', 'meta'} and d['root'] == root
    assert d['meta'] == want['meta'] and d['signature'] == want['signature']
    for split in ('train', 'test'):
        got, ref = dataclasses.asdict(d[split]), dataclasses.asdict(want[split])
        assert got.keys() == ref.keys()
        assert all(np.array_equal(got[k], ref[k]) if isinstance(ref[k], np.ndarray) else got[k] == ref[k] for k in ref)


def test_loader_workers_keep_the_sample_order(setup):
    "The DataLoader's batch sampler runs in the main process: 2 worker processes give the batches of 0 workers."
    from trm_course.dataset import BatchSampler, read_split
    from trm_course.loading import make_loader
    _, cfg = setup
    data = read_split(cfg.data, 'train')
    loaders = [make_loader(data, BatchSampler(data, 16, seed=3), 'cpu', workers=w) for w in (0, 2)]
    for epoch, start in [(0, 0), (2, 1)]:
        got = []
        for ld in loaders:
            ld.batch_sampler.epoch, ld.batch_sampler.start = epoch, start
            got.append([t for t, n, size in ld])
        assert len(got[0]) == len(got[1]) > 0
        assert all(torch.equal(a[k], b[k]) for a, b in zip(*got) for k in a)


def test_interrupted_by_a_signal_and_resumed_is_bit_identical(setup):
    """SIGTERM at step 13 (a pre-empted job): the step finishes and is saved; a new trainer with if_exists='resume' ends
    exactly where the uninterrupted run ends (weights, EMA, optimizer moments, log)."""
    import os, signal
    from trm_course.train import Callback, TrainingInterrupted
    tmp, cfg = setup
    a = Trainer(cfg.replace(out_dir=str(tmp / 'ia')), verbose=False); a.fit(callbacks=a.config_callbacks())
    cb = cfg.replace(out_dir=str(tmp / 'ib'))

    class Preempt(Callback):
        def on_step_end(self, tr, metrics):
            if tr.step == 13: os.kill(os.getpid(), signal.SIGTERM)
    b1 = Trainer(cb, verbose=False)
    with pytest.raises(TrainingInterrupted) as e:
        b1.fit(callbacks=b1.config_callbacks() + [Preempt()])
    assert e.value.step == 13 and e.value.exit_code == 143
    del b1
    b2 = Trainer(cb, verbose=False, if_exists='resume')
    b2.fit(callbacks=b2.config_callbacks())
    assert b2.step == a.step == cfg.max_steps
    assert _same(a.model.state_dict(), b2.model.state_dict())
    assert _same(a.ema.state_dict()['shadow'], b2.ema.state_dict()['shadow'])
    for o1, o2 in zip(a.optimizers, b2.optimizers):
        for s1, s2 in zip(o1.state.values(), o2.state.values()):
            assert all(torch.equal(torch.as_tensor(s1[k]), torch.as_tensor(s2[k])) for k in s1)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ('time', 'eval_seconds')} for r in rs if r['kind'] != 'stop']
    assert strip(read_log(tmp / 'ia' / 'log.jsonl')) == strip(read_log(tmp / 'ib' / 'log.jsonl'))


def test_a_half_written_checkpoint_of_a_killed_run_is_removed(setup):
    "A run killed inside a checkpoint write leaves `.step_*.pt.*.tmp`; the resumed run's next checkpoint removes it."
    from trm_course.checkpoint import checkpoint_path, list_checkpoints, save_checkpoint
    tmp, cfg = setup
    t = Trainer(cfg.replace(out_dir=str(tmp / 'stale')))
    t.fit(steps=2, callbacks=[])
    ckdir = checkpoint_path(t.out_dir, 0).parent
    ckdir.mkdir(parents=True, exist_ok=True)
    stale = ckdir / '.step_00000020.pt.abc123.tmp'
    stale.write_bytes(b'half a zip')
    other = ckdir / 'notes.txt'
    other.write_text('not ours')
    save_checkpoint(t)
    assert not stale.exists() and other.exists()
    assert [p.name for p in list_checkpoints(t.out_dir)] == ['step_00000002.pt']
