#!/usr/bin/env python
"""Learning curve of the tuned `maze_small_cpu` preset on one CPU thread (chapter 18): held-out exact accuracy,
path validity and token accuracy against training wall-clock minutes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_maze_curve.py                 # 10 minutes of training, ~12 min
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_maze_curve.py --minutes 5 --out /tmp/maze_curve.txt

Data: trm_course.maze_experiments.maze_small_data() (MAZE_SMALL sizes, built once into $TRM_CACHE/datasets/maze-small).
Evaluation: EMA weights, every test maze, all N_sup supervision steps, every --eval-seconds of training (evaluation
time is not counted as training time). Output: benchmarks/results/maze_curve.txt, read by nbs/18_maze.ipynb
(trm_course.maze_experiments.read_maze_curve).
"""
import argparse, os, platform, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from trm_course.recipes import get_recipe
from trm_course.maze import MAZE_SMALL, maze_small_data
from trm_course.maze_experiments import maze_trainer, maze_curve
from trm_course.core import atomic_write


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--minutes', type=float, default=10.0, help='training wall-clock minutes')
    ap.add_argument('--eval-seconds', type=float, default=30.0, help='evaluate every this many seconds of training')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'maze_curve.txt'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load0 = os.getloadavg()
    t0 = time.time()
    data = maze_small_data()
    t_data = time.time() - t0
    cfg = get_recipe('maze_small_cpu', data=str(data), seed=a.seed)
    tr = maze_trainer(cfg)
    recs = maze_curve(trainer=tr, minutes=a.minutes, eval_seconds=a.eval_seconds, threads=a.threads)
    load1 = os.getloadavg()
    params = sum(p.numel() for p in tr.model.parameters() if p.requires_grad)
    lines = [
        f'# bench_maze_curve.py  {time.strftime("%Y-%m-%d %H:%M")}  torch {torch.__version__}  python {platform.python_version()}',
        f'# host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, '
        f'load average {load0[0]:.1f} at start, {load1[0]:.1f} at end (1-min; 5-min {load1[1]:.1f}); shared machine: times are noisy',
        f'# data: {data.name} {MAZE_SMALL} (built in {t_data:.1f} s); recipe maze_small_cpu = {get_recipe("maze_small_cpu").to_dict(flat=True)}',
        f'# {params:,} trained parameters; seed {a.seed}; training {a.minutes} min, evaluation every {a.eval_seconds:.0f} s of training '
        f'(EMA weights, all {cfg.model.N_sup} supervision steps, all {recs[-1]["test_count"]} test mazes); minutes = training time only',
        f'# command: OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")} python benchmarks/bench_maze_curve.py '
        f'--minutes {a.minutes:g} --eval-seconds {a.eval_seconds:g} --threads {a.threads} --seed {a.seed}',
        f'{"step":>6} {"minutes":>8} {"samples":>8} {"exact":>7} {"valid":>7} {"token":>7} {"test_count":>10}',
    ]
    for r in recs:
        lines.append(f'{r["step"]:6d} {r["minutes"]:8.3f} {r["samples"]:8d} {r["exact"]:7.4f} {r["valid"]:7.4f} {r["token"]:7.4f} '
                     f'{r["test_count"]:10d}')
    text = '\n'.join(lines) + '\n'
    print(text)
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, 'w') as f: f.write(text)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
