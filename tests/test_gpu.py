"""GPU checks: `pytest -m gpu -n 0` on a machine with CUDA (every test here is skipped without one).

One run covers the model chapters on CUDA in bfloat16 (attention and mlp_t), the chapter cells that once crashed on a
GPU, the Trainer (fit, evaluate, checkpoint, resume), ARC evaluation, the `watch` trace, the quickstart, and a
training step under `torch.cuda.set_sync_debug_mode('error')` (no host sync).

To dry-run the same code without a GPU: `TRM_GPU_TEST_DEVICE=cpu pytest tests/test_gpu.py -m gpu -n 0` (the sync
check still needs CUDA and stays skipped)."""
import os, time

import numpy as np
import pytest
import torch

DEV = torch.device(os.environ.get('TRM_GPU_TEST_DEVICE', 'cuda'))
HAVE = torch.cuda.is_available() if DEV.type == 'cuda' else True
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not HAVE, reason='needs a CUDA GPU (torch.cuda.is_available() is False)')]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA itself (sync debug mode)')

CONFIGS = {'attention': dict(), 'mlp_t': dict(mlp_t=True, pos_encodings='none')}


def tiny(**kw):
    from trm_course.network import TRMConfig
    from trm_course.recursion import TRM
    cfg = TRMConfig(**(dict(vocab_size=11, seq_len=8, hidden_size=64, num_heads=4, T=2, n=2, N_sup=4, puzzle_emb_len=1,
                            forward_dtype='bfloat16') | kw))
    torch.manual_seed(0)
    return TRM(cfg).to(DEV)


@pytest.fixture(scope='module')
def sudoku4(tmp_path_factory):
    from trm_course.sudoku import build_sudoku4_data
    return build_sudoku4_data(tmp_path_factory.mktemp('gpu') / 'sudoku4', n_train=64, n_aug=1, n_test=32, seed=0)


def trainer(data, out, **kw):
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer
    cfg = get_recipe('sudoku4_cpu', data=str(data), out_dir=str(out), device=str(DEV), dtype='bfloat16', max_steps=20,
                     global_batch_size=16, eval_every=10, warmup_steps=2, log_every=5, progress=False)
    return Trainer(cfg.replace(**kw))


@pytest.mark.parametrize('kind', list(CONFIGS))
def test_model_chapters_bf16(kind):
    from trm_course.halting import TRMWithLoss, rollout
    from trm_course.supervision import act_loss, deep_supervision_train, running_max_batch
    model = tiny(**CONFIGS[kind])
    gen = torch.Generator().manual_seed(0)
    batch = running_max_batch(32, generator=gen, device=DEV)
    y, z = model.initial_carry(32)
    y, z, logits, q, _ = model(y, z, batch['inputs'], batch['puzzle_identifiers'])
    assert logits.device.type == DEV.type and logits.dtype == torch.bfloat16 and q.dtype == torch.float32
    total, metrics, _ = act_loss(logits, q, batch['labels'], torch.ones(32, dtype=torch.bool, device=DEV),
                                 torch.ones(32, device=DEV))
    assert total.dtype == torch.float64 and torch.isfinite(total)
    head = TRMWithLoss(model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    carry = head.initial_carry(batch)
    for _ in range(6):
        carry, loss, metrics, out, all_halted = head(carry, running_max_batch(32, generator=gen, device=DEV))
        (loss / 32).backward(); opt.step(); opt.zero_grad()
        assert torch.isfinite(loss)
    assert carry.y.device.type == DEV.type and all(v.device.type == DEV.type for v in metrics.values())
    hist = deep_supervision_train(model, opt, batch)          # the model config's N_sup = 4 steps
    assert len(hist) == model.cfg.N_sup == 4 and all(np.isfinite(h['loss']) for h in hist)
    r = rollout(model.eval(), batch)
    assert r['exact'].shape == (4, 32)


def test_chapter_cells_that_crashed_on_a_gpu(monkeypatch):
    from test_device import _cells, _run, without_asserts
    monkeypatch.setenv('TRM_DEVICE', str(DEV))
    import matplotlib; matplotlib.use('Agg')
    c = _cells('10_deep_supervision.ipynb', ['7a06979a', '32cfc70f', 'b176fe2c'])
    ns = {'__name__': '__gpu10__'}
    exec('import torch, torch.nn.functional as F\nfrom trm_course.supervision import *', ns)
    _run(c['7a06979a'], ns, False)
    ns['pick'] = lambda quick, full: {40: 4}.get(quick, quick)
    for k in ('32cfc70f', 'b176fe2c'): _run(c[k], ns, False)
    c = _cells('11_halting.ipynb', ['1693a386', '2470ad0a', 'b097f21c'])
    ns = {'__name__': '__gpu11__'}
    exec('import math, time, torch\nimport matplotlib.pyplot as plt\nfrom trm_course.core import *\n'
         'from trm_course.network import TRMConfig\nfrom trm_course.recursion import TRM\n'
         'from trm_course.supervision import *\nfrom trm_course.halting import *', ns)
    _run(c['1693a386'], ns, False)
    assert ns['model'].y_init.device.type == DEV.type
    # a 4-step model may not halt early yet: the cell's trained-result asserts are the chapter's own (nbval, CPU);
    # every other line runs on the device, and any error in it fails this test
    _run(without_asserts(c['2470ad0a']), ns, False)
    assert ns['stop'].device.type == DEV.type and ns['r']['exact'].device.type == DEV.type
    _run(c['b097f21c'], ns, False)               # plots read host copies


def test_trainer_fit_evaluate_checkpoint_resume(sudoku4, tmp_path):
    from trm_course.checkpoint import load_checkpoint
    kw = dict(puzzle_emb_ndim=32, puzzle_emb_len=1)       # the sparse puzzle-embedding optimizer too
    a = trainer(sudoku4, tmp_path / 'a', **kw)
    assert a.device.type == DEV.type and a.precision == 'bfloat16'
    a.fit(steps=10, callbacks=a.config_callbacks())
    assert a.step == 10 and [r for r in a.history if r['kind'] == 'eval']
    path = a.save()
    b = trainer(sudoku4, tmp_path / 'a', **kw)
    load_checkpoint(b, path)
    assert b.step == 10 and b.carry.y.device.type == DEV.type
    b.fit(callbacks=b.config_callbacks())
    assert b.step == 20
    res = b.evaluate(return_predictions=True)
    assert res['count'] == 32 and 0 <= res['exact_accuracy'] <= 1 and res['predictions']['preds'].device.type == 'cpu'
    train_recs = [r for r in b.history if r['kind'] == 'train']
    assert train_recs and all(np.isfinite(r['train/lm_loss']) for r in train_recs)


@needs_cuda
@pytest.mark.parametrize('dtype', ['bfloat16', 'float32'])
def test_train_step_makes_no_host_sync(sudoku4, tmp_path, dtype):
    from trm_course.dataset import collate
    tr = trainer(sudoku4, tmp_path / 'sync', dtype=dtype)
    # 2 warm-up steps, then 12 checked steps: several epochs (4 batches each here), so epoch boundaries, halted rows
    # being replaced and the learning-rate schedule past warm-up all happen under the check
    epochs = (b for e in range(100) for b in tr.sampler.iter_epoch(e))
    batches = [tr.check_batch(collate(tr.train_data, next(epochs), tr.local_batch_size)) for _ in range(2 + 12)]
    for b in batches[:2]: tr.train_step(b)            # warm-up: carry, optimizer state, kernels
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        records = [tr.train_step(b) for b in batches[2:]]
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert len(records) >= 10 and np.isfinite(records[-1]['lm_loss'])   # read after the check: one sync, outside the step


def test_arc_evaluation_path(tmp_path):
    from trm_course.arc_data import arc_tiny_tasks, build_arc_tiny_data
    from trm_course.arc_eval import ArcEvaluator, arc_split_batches, predict_batch, evaluate_arc
    from trm_course.dataset import read_identifiers, read_split
    from trm_course.recipes import ARC_PASS_KS, get_recipe
    from trm_course.train import Trainer
    root = build_arc_tiny_data(tmp_path / 'arc-tiny', n_train=2, num_aug=1)
    cfg = get_recipe('arc_tiny_cpu', data=str(root), out_dir=str(tmp_path / 'run'), device=str(DEV), dtype='float32',
                     max_steps=6, global_batch_size=8, eval_every=None, progress=False)
    tr = Trainer(cfg); tr.fit(callbacks=tr.config_callbacks(at_end=None))
    model = tr.model.model
    _, held = arc_tiny_tasks(2)
    res = evaluate_arc(model, arc_split_batches(read_split(root, 'test'), 64), ArcEvaluator(held, identifiers=read_identifiers(root)))
    assert set(res.scores) == set(ARC_PASS_KS) and all(0 <= v <= 1 for v in res.scores.values())
    # the same weights on the CPU predict (almost) the same tokens
    batch = next(arc_split_batches(read_split(root, 'test'), 16))
    p_dev, _ = predict_batch(model.eval(), {k: v.to(DEV) for k, v in batch.items()})
    cpu = type(model)(model.cfg); cpu.load_state_dict(model.state_dict()); cpu.eval()
    p_cpu, _ = predict_batch(cpu, batch)
    assert (p_dev.cpu() == p_cpu).float().mean() > 0.95


def test_watch_trace():
    from trm_course.watch import trace
    model = tiny(N_sup=3).eval()
    from trm_course.supervision import running_max_batch
    batch = running_max_batch(8, generator=torch.Generator().manual_seed(0))     # a host batch: trace moves it
    tr = trace(model, batch, probe_z=True)
    assert tr.preds.shape == (3, 2, 8, 8) and tr.z_probe.shape == tr.preds.shape
    b = {k: v.to(DEV) for k, v in batch.items()}
    y, z = model.initial_carry(8)
    with torch.no_grad():
        for _ in range(3): y, z, logits, q, _ = model(y, z, b['inputs'], b['puzzle_identifiers'])
    assert np.array_equal(tr.preds[-1, -1], logits.argmax(-1).cpu().numpy())


def test_quickstart_small(tmp_path, capsys):
    from trm_course.quickstart import quickstart
    t = time.time()
    s = quickstart(out_dir=tmp_path / 'qs', steps=60, n_train=64, n_aug=1, n_test=32, progress=False)
    assert s['device'].startswith(DEV.type) and s['steps'] == 60 and not s['stopped_early']
    assert all(os.path.exists(p) for p in s['images'])
    with capsys.disabled():
        print(f"\nquickstart on {s['device']}: 60 steps in {s['train_seconds']} s "
              f"({60 / max(s['train_seconds'], 1e-9):.1f} steps/s); {time.time() - t:.1f} s in all")


def _nccl_worker(rank, world, port, root, out):
    import torch.distributed as dist
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), LOCAL_RANK=str(rank), RANK=str(rank), WORLD_SIZE=str(world))
    torch.cuda.set_device(rank)
    dist.init_process_group('nccl', rank=rank, world_size=world)
    try:
        cfg = get_recipe('sudoku4_cpu', data=str(root), out_dir=str(out) + '/run', device='cuda', dtype='float32', max_steps=6,
                         global_batch_size=16, warmup_steps=2, lr=3e-3, halt_exploration_prob=0.0, progress=False,
                         eval_every=None, puzzle_emb_ndim=64, puzzle_emb_len=1)
        tr = Trainer(cfg)
        tr.fit(callbacks=tr.config_callbacks(at_end=None))
        torch.save({k: v.cpu() for k, v in tr.model.state_dict().items()}, f'{out}/rank{rank}.pt')
        dist.barrier()
    finally:
        dist.destroy_process_group()


@needs_cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason='needs two or more CUDA GPUs (NCCL)')
def test_two_gpus_nccl_identical_ranks(sudoku4, tmp_path):
    "Two processes on two GPUs (NCCL): the same parameters on both ranks after training (issue #12, multi-GPU)."
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    mp.spawn(_nccl_worker, args=(2, port, str(sudoku4), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in (0, 1))
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f'{k} differs between the two GPUs'
