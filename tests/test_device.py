"""CPU proxy for "everything follows the model's device" (no GPU needed).

The model and its inputs are built on the CPU *explicitly*; then the work runs with `meta` as the default device
(`with torch.device('meta'):`). A tensor that library code creates without `device=` lands on `meta`, and mixing it
with the CPU tensors raises, just as a CPU tensor mixed with a CUDA model raises on a GPU. Chapter cells that crashed
on a GPU (10: a batch built without the device fed to the model; 11: a carry built from such a batch) are run the same
way, straight from the notebooks, with `get_device()` answering 'cpu'."""
import json
from pathlib import Path

import pytest
import torch

from trm_course.halting import TRMWithLoss, act_step, initial_act_carry, rollout
from trm_course.network import TRMConfig
from trm_course.recursion import TRM
from trm_course.supervision import act_loss, deep_supervision_train, running_max_batch

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device('cpu')


def tiny_cfg(**kw):
    return TRMConfig(**(dict(vocab_size=11, seq_len=8, hidden_size=32, num_heads=4, T=2, n=2, N_sup=3, puzzle_emb_len=1,
                             forward_dtype='float32') | kw))


def on_cpu(cfg):
    torch.manual_seed(0)
    with torch.device('cpu'): return TRM(cfg)


@pytest.mark.parametrize('kw', [{}, dict(mlp_t=True, pos_encodings='none'), dict(pos_encodings='learned', puzzle_emb_ndim=0,
                                                                                  puzzle_emb_len=0)])
def test_model_act_loss_backward_follow_the_inputs(kw):
    model = on_cpu(tiny_cfg(**kw))
    batch = running_max_batch(6, generator=torch.Generator().manual_seed(0), device=CPU)
    head = TRMWithLoss(model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with torch.device('meta'):
        y, z = model.initial_carry(6)
        assert y.device == CPU
        y, z, logits, q, _ = model(y, z, batch['inputs'], batch['puzzle_identifiers'])
        carry = head.initial_carry(batch)
        assert all(t.device == CPU for t in (carry.y, carry.steps, carry.halted))
        for _ in range(4):                      # training: refills, exploration, halting
            carry, loss, metrics, _, all_halted = head(carry, batch)
            (loss / 6).backward(); opt.step(); opt.zero_grad()
        assert all(v.device == CPU for v in metrics.values())
        deep_supervision_train(model, opt, batch)
        head.eval()
        r = rollout(model, batch)
        assert r['exact'].device == CPU
        # a carry built on the CPU from a batch continues on batches of the same device
        c = initial_act_carry(model, batch)
        c, _ = act_step(model, c, batch, training=True)
        act_loss(logits, q, batch['labels'], torch.ones(6, dtype=torch.bool, device=CPU), torch.ones(6, device=CPU))


def test_trainer_step_eval_ema_checkpoint_follow_the_device(tmp_path):
    from trm_course.checkpoint import load_checkpoint
    from trm_course.recipes import get_recipe
    from trm_course.sudoku import build_sudoku4_data
    from trm_course.train import Trainer
    root = build_sudoku4_data(tmp_path / 'data', n_train=24, n_aug=1, n_test=8, seed=0)
    for extra in (dict(), dict(puzzle_emb_ndim=32, puzzle_emb_len=1, dtype='bfloat16')):
        cfg = get_recipe('sudoku4_cpu', data=str(root), out_dir=str(tmp_path / f'run{len(extra)}'), max_steps=4,
                         global_batch_size=8, eval_every=None, warmup_steps=2, log_every=2, progress=False, **extra)
        tr, tr2 = Trainer(cfg), Trainer(cfg)          # built on the CPU (as a model is built before `.to(device)`)
        with torch.device('meta'):
            tr.fit(steps=2, callbacks=tr.config_callbacks(at_end=None))
            res = tr.evaluate(return_predictions=True)
            assert res['count'] == 8 and res['predictions']['preds'].device == CPU
            path = tr.save()
            load_checkpoint(tr2, path)
            tr2.fit(callbacks=tr2.config_callbacks(at_end=None))
            assert tr2.step == 4 and tr2.carry.y.device == CPU


def _cells(nb: str, ids) -> dict:
    cells = {c.get('id'): ''.join(c['source']) for c in json.loads((ROOT / 'nbs' / nb).read_text())['cells']}
    return {i: cells[i] for i in ids}


@pytest.fixture
def chapter_env(monkeypatch):
    monkeypatch.setenv('TRM_DEVICE', 'cpu')
    monkeypatch.setenv('TRM_MODE', 'quick')
    import matplotlib; matplotlib.use('Agg')


def without_asserts(src: str) -> str:
    "A cell's source with its top-level `assert` statements removed (nothing else changes; line numbers are kept)."
    import ast
    tree = ast.parse(src)
    lines = src.splitlines()
    for node in tree.body:
        if isinstance(node, ast.Assert):
            for k in range(node.lineno - 1, node.end_lineno): lines[k] = ''
    return '\n'.join(lines)


def test_without_asserts_keeps_everything_else():
    src = 'a = 1\nassert a == 2, "x"\nb = a + 1\nassert (b ==\n        3)\nc = b'
    ns = {}; exec(without_asserts(src), ns)
    assert (ns['a'], ns['b'], ns['c']) == (1, 2, 2)
    with pytest.raises(AssertionError): exec(src, {})


def _run(src: str, ns: dict, proxy: bool, proxy_from: str | None = None):
    "Run a cell; with `proxy`, from the line starting with `proxy_from` on (the model is built before, on the CPU)."
    head = ''
    if proxy_from is not None:
        i = src.index('\n' + proxy_from) + 1
        head, src = src[:i], src[i:]
        exec(compile(head, '<cell>', 'exec'), ns)
    if proxy:
        with torch.device('meta'): exec(compile('\n' * head.count('\n') + src, '<cell>', 'exec'), ns)
    else: exec(compile(src, '<cell>', 'exec'), ns)


def test_chapter10_cells_follow_the_model_device(chapter_env):
    c = _cells('10_deep_supervision.ipynb', ['7a06979a', '32cfc70f', 'b176fe2c'])
    ns = {'__name__': '__chapter10__'}
    exec('import torch, torch.nn.functional as F\nfrom trm_course.supervision import *', ns)
    _run(c['7a06979a'], ns, False)
    ns['pick'] = lambda quick, full: {32: 16, 40: 2}.get(quick, quick)   # smaller than quick mode: this is a device check
    _run(c['32cfc70f'], ns, False)   # trains (deep_supervision_train is checked under the proxy above); prints from host tensors
    _run(c['b176fe2c'], ns, True)    # the cell that crashed on CUDA (a batch built without the device)


def test_chapter11_cells_follow_the_model_device(chapter_env):
    c = _cells('11_halting.ipynb', ['1693a386', '2470ad0a'])
    ns = {'__name__': '__chapter11__'}
    exec('import math, time, torch\nfrom trm_course.core import *\nfrom trm_course.network import TRMConfig\n'
         'from trm_course.recursion import TRM\nfrom trm_course.supervision import *\nfrom trm_course.halting import *', ns)
    ns['pick'] = lambda quick, full: {32: 16, 240: 6}.get(quick, quick)
    _run(c['1693a386'], ns, True, proxy_from='carry = ')    # the training cell that crashed on CUDA (the carry built from a CPU batch)
    # 6 steps do not train the model, so the cell's trained-result asserts (checked by the chapter's own nbval run)
    # are left out here; every other line runs, and any error in it fails this test
    _run(without_asserts(c['2470ad0a']), ns, True)
    assert ns['stop'].shape == (512,) and 1 <= int(ns['stop'].min()) and int(ns['stop'].max()) <= ns['N_SUP']
    assert ns['r']['exact'].shape == (ns['N_SUP'], 512) and 1 <= ns['mean_steps'] <= ns['N_SUP']


def test_float16_is_refused_with_one_clear_error(tmp_path):
    from trm_course.recipes import get_recipe
    from trm_course.sudoku import build_sudoku4_data
    from trm_course.train import Trainer
    root = build_sudoku4_data(tmp_path / 'data', n_train=8, n_aug=0, n_test=4, seed=0)
    with pytest.raises(ValueError, match="dtype='float16' is not supported"):       # one list: recipes.RUN_DTYPES
        get_recipe('sudoku4_cpu', data=str(root), out_dir=str(tmp_path / 'run'), dtype='float16', progress=False)
    cfg = get_recipe('sudoku4_cpu', data=str(root), out_dir=str(tmp_path / 'run'), progress=False)
    cfg.dtype = 'float16'                                   # set behind the config's back: the trainer still refuses it
    with pytest.raises(ValueError, match="dtype='float16' is not supported"):
        Trainer(cfg)
    assert not (tmp_path / 'run').exists()
