"""The Trainer with `compile=True` runs compiled, and stays compiled: after warm-up (the first training steps and the
first evaluation) nothing recompiles and nothing breaks the graph, across halting refills, more evaluations (with
the EMA weights swapped in and out), a checkpoint save and a resume into the same trainer.

On a GPU a recompile or a silent fallback to eager costs 2-3x in step time; CPU inductor sees the same graphs, so
this guards the trainer without a GPU (issue #12). `torch._dynamo.config.error_on_recompile` turns any recompile
after warm-up into an error, and dynamo's counters must not grow.
"""
import dataclasses, itertools

import numpy as np
import pytest

pytest.importorskip('torch._dynamo')


def _data(root, vocab=6, seq=16, n=64):
    from trm_course.dataset import split_from_arrays, write_dataset
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, (n, seq)).astype(np.uint8)
    y = rng.integers(2, vocab, (n, seq)).astype(np.uint8)
    split = lambda: split_from_arrays(x, y, vocab_size=vocab)
    return write_dataset(root / 'data', {'train': split(), 'test': split()})


def _trainer(data, out, **model):
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer
    cfg = get_recipe('sudoku4_cpu', data=str(data), out_dir=str(out), compile=True, global_batch_size=8,
                     eval_batch_size=16, max_steps=1000, progress=False, device='cpu', dtype='float32')
    cfg = cfg.replace(model=dataclasses.replace(cfg.model, hidden_size=32, num_heads=2, **model))
    return Trainer(cfg, verbose=False)


def _counts():
    from torch._dynamo.utils import counters
    return counters['stats'].get('unique_graphs', 0), sum(counters['graph_break'].values())


@pytest.mark.parametrize('model', [dict(mlp_t=True, pos_encodings='none'), dict(mlp_t=False, pos_encodings='rope')],
                         ids=['mlp_t', 'attention'])
def test_no_recompile_after_warmup(tmp_path, model):
    import torch._dynamo
    from trm_course.checkpoint import load_checkpoint
    torch._dynamo.reset()
    torch.set_num_threads(1)
    tr = _trainer(_data(tmp_path), tmp_path / 'run', **model)
    batches = list(itertools.islice(tr.batches(), 8))
    assert len(batches) == 8
    g0, b0 = _counts()
    for b in batches[:3]: tr.train_step(b)                  # warm-up: training graphs (grad and no-grad cycles)
    tr.evaluate(max_examples=16)                             # warm-up: evaluation graphs
    g1, b1 = _counts()
    assert g1 > g0, 'nothing was compiled: the trainer did not run the compiled net'
    assert b1 == b0, f'graph breaks during warm-up: {b1 - b0}'
    torch._dynamo.config.error_on_recompile = True
    try:
        for b in batches[3:8]: tr.train_step(b)              # halting refills rows every step (N_sup=4)
        tr.evaluate(max_examples=16)                          # EMA swapped in and out again
        tr.evaluate(max_examples=16, use_ema=False)
        path = tr.save()
        for b in batches[:2]: tr.train_step(b)
        load_checkpoint(tr, path)                             # resume into the same trainer
        for b in batches[2:5]: tr.train_step(b)
        tr.evaluate(max_examples=16)
    finally:
        torch._dynamo.config.error_on_recompile = False
    g2, b2 = _counts()
    assert (g2 - g1, b2 - b1) == (0, 0), f'after warm-up: {g2 - g1} new graphs, {b2 - b1} graph breaks'
