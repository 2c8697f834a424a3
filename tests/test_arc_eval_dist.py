"ArcEvaluator under torch.distributed: 2 gloo processes on the CPU give exactly the one-process result."
import pickle

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from trm_course.arc_eval import ArcEvaluator
from arc_eval_fixtures import arc1_tasks, make_test_split, noisy_predictions, summary


def _worker(rank, world, store, out_path, tasks, ex, preds, q):
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world)
    try:
        ids = np.array([ex['identifiers'].index(n) for n in ex['names']])
        ev = ArcEvaluator(tasks, identifiers=ex['identifiers'])
        ev.begin()
        rows = np.arange(len(ids))
        for s in range(0, len(rows), 16):            # each global batch of 16 is split between the ranks
            mine = rows[s:s + 16][rank::world]
            ev.update(torch.as_tensor(ids[mine]), torch.as_tensor(preds[mine]), torch.as_tensor(q[mine]),
                      inputs=torch.as_tensor(ex['inputs'][mine]))
        res = ev.result()
        with open(f'{out_path}.{rank}', 'wb') as f:
            pickle.dump(None if res is None else summary(res), f)
        dist.barrier()  # every rank is done with its collectives before any tears the group down
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason='torch.distributed not available')
def test_two_gloo_processes_match_one_process(tmp_path):
    tasks = arc1_tasks()
    ex = make_test_split(tasks, num_aug=12)
    preds, q = noisy_predictions(tasks, ex)
    ev = ArcEvaluator(tasks); ev.begin()
    ev.update(ex['names'], preds, q, inputs=ex['inputs'])
    single = summary(ev.result())
    assert 0 < single['scores'][1] < 1, 'the noisy fixture should make ranking matter'

    out = tmp_path / 'res'
    mp.spawn(_worker, args=(2, str(tmp_path / 'store'), str(out), tasks, ex, preds, q), nprocs=2, join=True)
    with open(f'{out}.0', 'rb') as f: rank0 = pickle.load(f)
    with open(f'{out}.1', 'rb') as f: rank1 = pickle.load(f)
    assert rank1 is None, 'only rank 0 gets the result'
    assert rank0 == single
