"Two gloo processes on the CPU: identical parameters on both ranks, equal to one process with the same global batch."
import os, socket, tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from trm_course.recipes import get_recipe
from trm_course.sudoku import build_sudoku4_data
from trm_course.train import Trainer

STEPS = 6


def _cfg(root, out):
    # no halting exploration: its random draws are per process, so 1 and 2 processes would refill different rows
    return get_recipe('sudoku4_cpu', data=str(root), out_dir=str(out), max_steps=STEPS, global_batch_size=16, warmup_steps=2,
                      lr=3e-3, halt_exploration_prob=0.0, progress=False, eval_every=None, puzzle_emb_ndim=64, puzzle_emb_len=1)


def _worker(rank, world, port, root, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        try:
            Trainer(_cfg(root, Path(out) / 'bad').replace(global_batch_size=15))
            err = 'no error'
        except ValueError as e:
            err = str(e)
        tr = Trainer(_cfg(root, Path(out) / 'run'))
        tr.fit(callbacks=tr.config_callbacks(at_end=None))
        torch.save({'state': tr.model.state_dict(), 'err': err, 'ema': tr.ema.state_dict()['shadow']}, Path(out) / f'rank{rank}.pt')
        dist.barrier()  # every rank is done with its collectives before any tears the group down
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_two_processes_match_one():
    tmp = Path(tempfile.mkdtemp())
    root = build_sudoku4_data(tmp / 'data', n_train=48, n_aug=2, n_test=16, seed=0)
    mp.spawn(_worker, args=(2, _free_port(), str(root), str(tmp)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp / f'rank{r}.pt', weights_only=True) for r in (0, 1))
    assert 'not divisible' in r0['err'] and 'multiple of 2' in r0['err']
    for k in r0['state']:
        assert torch.equal(r0['state'][k], r1['state'][k]), f'{k} differs between ranks'
    torch.set_num_threads(1)
    one = Trainer(_cfg(root, tmp / 'one'))
    one.fit(callbacks=one.config_callbacks(at_end=None))
    sd = one.model.state_dict()
    for k, v in r0['state'].items():
        assert torch.allclose(v, sd[k], atol=2e-5, rtol=1e-4), f'{k}: max diff {(v - sd[k]).abs().max():.2e}'
    for k, v in r0['ema'].items():
        assert torch.allclose(v, one.ema.state_dict()['shadow'][k], atol=2e-5, rtol=1e-4)
    # the parameters really moved (the comparison is not trivially between two initial states)
    fresh = Trainer(_cfg(root, tmp / 'fresh')).model.state_dict()
    assert any(not torch.allclose(fresh[k], sd[k]) for k in sd if sd[k].is_floating_point())
