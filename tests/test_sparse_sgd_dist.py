"""Two CPU processes (gloo) running SparseSignSGD give the same table as one process on the concatenated batch."""
import os, tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from trm_course.optim import SparseSignSGD, gather_rows, sparse_sign_sgd_

NUM_IDS, DIM, LR, WD = 9, 3, 0.05, 0.3


class Emb(nn.Module):
    "Minimal module with the sparse-embedding interface (same contract as trm_course.network.PuzzleEmbedding)."
    def __init__(self, table):
        super().__init__()
        self.register_buffer('weight', table.clone())
        self.local_weights = self.local_ids = None

    def forward(self, ids):
        self.local_weights = self.weight[ids].detach().clone().requires_grad_(True)
        self.local_ids = ids
        return self.local_weights


def case(kind):
    "Table, per-rank ids and per-rank upstream gradients (the loss is sum(local_weights * upstream))."
    g = torch.Generator().manual_seed(0)
    table = torch.randn(NUM_IDS, DIM, generator=g)
    if kind == 'split_row':   # row 2 on both ranks: +1 on rank 0, -3 on rank 1 -> the sign of the SUM is -1
        ids = [torch.tensor([2, 5, 0]), torch.tensor([2, 7, 5])]
        ups = [torch.randn(3, DIM, generator=g), torch.randn(3, DIM, generator=g)]
        ups[0][0, 0], ups[1][0, 0] = 1.0, -3.0
    else:                      # unequal local batch sizes, duplicates within and across ranks
        ids = [torch.tensor([1, 1, 4, 8, 3]), torch.tensor([4, 6])]
        ups = [torch.randn(5, DIM, generator=g), torch.randn(2, DIM, generator=g)]
    return table, ids, ups


KINDS = ('split_row', 'unequal_sizes')


def worker(rank, world, store, out):
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world)
    try:
        for kind in KINDS: run_kind(rank, kind, out)
        dist.barrier()  # every rank is done with its collectives before any tears the group down
    finally:
        dist.destroy_process_group()


def run_kind(rank, kind, out):
    table, ids, ups = case(kind)
    emb = Emb(table)
    opt = SparseSignSGD(emb, lr=LR, weight_decay=WD)
    for _ in range(2):  # two steps: the second starts from the updated table
        (emb(ids[rank]) * ups[rank]).sum().backward()
        opt.step(); opt.zero_grad()
    # also check the gather itself
    g, i = gather_rows(torch.full((len(ids[rank]), DIM), float(rank)), ids[rank])
    assert i.tolist() == torch.cat(ids).tolist() and g[:, 0].tolist() == [0.0] * len(ids[0]) + [1.0] * len(ids[1])
    torch.save(emb.weight, f'{out}.{kind}.{rank}')


def single_process(kind):
    table, ids, ups = case(kind)
    emb = Emb(table)
    opt = SparseSignSGD(emb, lr=LR, weight_decay=WD)
    for _ in range(2):
        (emb(torch.cat(ids)) * torch.cat(ups)).sum().backward()
        opt.step(); opt.zero_grad()
    return emb.weight


def test_two_processes_match_one():
    "One spawn (2 gloo processes) runs both cases: a row split across ranks, and unequal local batch sizes."
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'table')
        mp.spawn(worker, args=(2, os.path.join(d, 'store'), out), nprocs=2, join=True)
        results = {k: [torch.load(f'{out}.{k}.{r}') for r in range(2)] for k in KINDS}
    for kind, tables in results.items(): check(kind, tables)


def check(kind, tables):
    expected = single_process(kind)
    assert torch.equal(tables[0], tables[1]), 'every process holds the same table'
    assert torch.allclose(tables[0], expected, rtol=0, atol=1e-7), (tables[0] - expected).abs().max()
    if kind == 'split_row':
        table0 = case(kind)[0]
        # first step on row 2, column 0: decay, then -lr * sign(+1 - 3) = +lr
        one = table0.clone(); sparse_sign_sgd_(one, torch.tensor([[-2.0, 0, 0]]), torch.tensor([2]), LR, WD)
        assert one[2, 0] == table0[2, 0] * (1 - LR * WD) + LR


def test_gather_is_noop_without_process_group():
    g, i = torch.randn(4, 2), torch.tensor([0, 1, 1, 3])
    g2, i2 = gather_rows(g, i)
    assert g2 is g and i2 is i
