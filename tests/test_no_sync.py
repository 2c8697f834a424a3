"""No host sync in the training step or the evaluation loop (CPU check).

On a GPU, reading a value back (`.item()`, `float(t)`, `int(t)`, `if t:`, `.tolist()`, `.cpu()`, `.numpy()`) makes the
host wait for the device; for a small model that, not the arithmetic, sets the step rate. Here those methods are
patched to count their calls while `Trainer.train_step` runs (after a first step, which may set things up). Syncs made
inside C++ (e.g. `torch.unique`) are not seen here; tests/test_gpu.py checks a step under
`torch.cuda.set_sync_debug_mode('error')` on a GPU."""
import contextlib

import pytest
import torch

from trm_course.dataset import collate
from trm_course.recipes import get_recipe
from trm_course.sudoku import build_sudoku4_data
from trm_course.train import Trainer

READS = ('item', 'tolist', 'cpu', 'numpy', '__bool__', '__int__', '__float__', '__index__')


@contextlib.contextmanager
def count_reads():
    calls = []
    saved = {name: getattr(torch.Tensor, name) for name in READS}
    def spy(name, fn):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapper
    for name, fn in saved.items(): setattr(torch.Tensor, name, spy(name, fn))
    try: yield calls
    finally:
        for name, fn in saved.items(): setattr(torch.Tensor, name, fn)


def test_the_counter_sees_reads():
    t = torch.ones(3)
    with count_reads() as calls:
        t.sum().item(); float(t[0]); bool(t[0] > 0); t.tolist(); t.cpu(); int(t[1])
        if t[2]: pass
    assert sorted(calls) == sorted(['item', '__float__', '__bool__', 'tolist', 'cpu', '__int__', '__bool__'])


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    torch.set_num_threads(1)
    return build_sudoku4_data(tmp_path_factory.mktemp('nosync') / 'data', n_train=32, n_aug=1, n_test=32, seed=0)


def _trainer(data, tmp_path, **kw):
    cfg = get_recipe('sudoku4_cpu', data=str(data), out_dir=str(tmp_path / 'run'), max_steps=20, global_batch_size=8,
                     eval_every=None, eval_batch_size=8, warmup_steps=2, log_every=5, progress=False, **kw)
    return Trainer(cfg)


def _batches(tr, n):
    out = []
    for i, b in enumerate(tr.sampler.iter_epoch(0)):
        if i == n: break
        out.append(tr.check_batch(collate(tr.train_data, b, tr.local_batch_size)))   # host-side checks, outside the step
    return out


@pytest.mark.parametrize('kw', [dict(), dict(dtype='bfloat16'), dict(ema=False, mlp_t=False, pos_encodings='rope')],
                         ids=['float32', 'bfloat16', 'attention-rope'])
def test_train_step_reads_nothing_back(data, tmp_path, kw):
    tr = _trainer(data, tmp_path, **kw)
    first, *rest = _batches(tr, 5)
    tr.train_step(first)                       # the first step builds the carry and the optimizer state
    with count_reads() as calls:
        records = [tr.train_step(b) for b in rest]
    assert calls == [], f'host reads inside train_step: {calls}'
    # the metrics are there, read on demand, in the same format as before
    with count_reads() as calls:
        m = dict(records[-1])
    assert 0 < len(calls) <= 2 and set(m) >= {'accuracy', 'count', 'exact_accuracy', 'lm_loss', 'q_halt_loss', 'steps', 'lr'}
    assert all(isinstance(v, float) for v in m.values())


def test_train_step_with_puzzle_embedding_reads_nothing_back(data, tmp_path):
    tr = _trainer(data, tmp_path, puzzle_emb_ndim=32, puzzle_emb_len=1)
    first, *rest = _batches(tr, 3)
    tr.train_step(first)
    with count_reads() as calls:
        for b in rest: tr.train_step(b)
    assert calls == [], f'host reads inside train_step: {calls}'


def test_evaluate_reads_once_not_per_batch(data, tmp_path, monkeypatch):
    tr = _trainer(data, tmp_path)
    monkeypatch.setattr(Trainer, 'check_batch', lambda self, batch: batch)   # host-side checks (no device involved)
    counts = {}
    for n in (8, 32):                            # 1 batch vs 4 batches
        with count_reads() as calls:
            res = tr.evaluate(max_examples=n)
        assert res['count'] == n
        counts[n] = len(calls)
    # the same reads for 1 batch as for 4, so none per batch: the metric sums read once (and the `.item()` with which
    # the DataLoader draws its iterator's seed from its own CPU generator, once per evaluation: no device involved)
    assert counts[8] == counts[32] <= 3, counts
