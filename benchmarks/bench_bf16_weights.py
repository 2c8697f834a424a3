#!/usr/bin/env python
"""Do weights trained with a bfloat16 forward score the same with a float32 forward? (issue 18, sudoku6_cpu's dtype='auto')

On a CPU with bfloat16 matrix units `sudoku6_cpu` trains with a bfloat16 forward (the weights stay float32). Such
weights may then be used on a CPU without those units, where `dtype=auto` means float32. This script trains the
recipe with dtype=bfloat16 for a fixed number of steps (a budget in steps: the numbers do not depend on speed), then
scores the same EMA weights on the same held-out puzzles twice: with the bfloat16 forward they were trained with and
with a float32 forward.

    OMP_NUM_THREADS=1 python benchmarks/bench_bf16_weights.py --seeds 0 1 2     # ~1 CPU-minute a seed with bf16 units

Writes (appends, one run per seed; a seed already in the log is skipped) benchmarks/results/bf16_weights.jsonl, each
run with records.py's header and resolved configuration. On a CPU without bf16 units the training is emulated and
slow (about 15x); the result does not depend on that.
"""
import argparse, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))

import torch

from trm_course.recipes import get_recipe
from trm_course.train import Trainer
from records import config_record, finish_header, record_header
from bench_time_to_accuracy import task_data, read_log, append_record

LOG = ROOT / 'benchmarks' / 'results' / 'bf16_weights.jsonl'
HELD_OUT = 500          # the first 500 test puzzles, as bench_time_to_accuracy.py scores them


def score(tr: Trainer, use_ema: bool) -> dict:
    r = tr.evaluate(use_ema=use_ema, max_examples=HELD_OUT)
    return {'exact': r['exact_accuracy'], 'token': r['accuracy'], 'count': r['count']}


def one_seed(seed: int, steps: int, header: dict) -> dict:
    data = task_data('sudoku6')
    run = dict(data=str(data), seed=seed, progress=False, eval_every=None, eval_interval=None, eval_batch_size=250,
               checkpoint_every=None, device='cpu', max_steps=steps)
    over = dict(run, out_dir=tempfile.mkdtemp(prefix='trm-bf16w-'), dtype='bfloat16')
    cfg = get_recipe('sudoku6_cpu', **over)
    tr = Trainer(cfg, verbose=False)
    t0 = time.process_time()
    tr.fit(steps=steps, callbacks=[])
    cpu = time.process_time() - t0
    trained_bf16 = score(tr, use_ema=True)
    # the same EMA weights in a model whose forward is float32 (the weights are float32 in both)
    f32 = Trainer(get_recipe('sudoku6_cpu', **dict(over, dtype='float32', out_dir=tempfile.mkdtemp(prefix='trm-bf16w-'))),
                  verbose=False)
    with tr.ema.swapped(tr.model):
        f32.model.load_state_dict(tr.model.state_dict())
    float32_forward = score(f32, use_ema=False)
    assert (tr.model_cfg.forward_dtype, f32.model_cfg.forward_dtype) == ('bfloat16', 'float32')
    return dict(kind='run', seed=seed, steps=tr.step, train_cpu_s=round(cpu, 1), weights='EMA',
                bfloat16_forward=trained_bf16, float32_forward=float32_forward,
                difference_points=round(100 * (float32_forward['exact'] - trained_bf16['exact']), 2),
                header=finish_header(dict(header)), config=config_record(cfg, 'sudoku6_cpu', over))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--steps', type=int, default=1300, help='training steps (sudoku6_cpu is near 90%% exact at 1,300)')
    ap.add_argument('--log', default=str(LOG))
    ap.add_argument('--scratch', action='store_true', help='allow a dirty tree; the runs are then not records')
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    header = record_header(seeds=args.seeds, scratch=args.scratch, bench='bench_bf16_weights')
    log = Path(args.log)
    done = {(r['seed'], r['steps']) for r in read_log(log) if r.get('kind') == 'run'}
    for seed in args.seeds:
        if (seed, args.steps) in done: print(f'seed {seed}: in {log} already'); continue
        rec = one_seed(seed, args.steps, header)
        append_record(log, rec)
        print(f"seed {seed}: {rec['steps']} steps, {rec['train_cpu_s']} CPU-s; held-out exact with a bfloat16 forward "
              f"{rec['bfloat16_forward']['exact']:.1%}, float32 forward {rec['float32_forward']['exact']:.1%} "
              f"({rec['difference_points']:+.2f} points)", flush=True)


if __name__ == '__main__':
    main()
