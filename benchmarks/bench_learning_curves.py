#!/usr/bin/env python
"""Learning curves of TRM on 4x4 and 6x6 Sudoku trained from scratch on the CPU (one thread by default).

    OMP_NUM_THREADS=1 python benchmarks/bench_learning_curves.py                 # 4x4 for 3 min, 6x6 for 15 min, one after the other
    OMP_NUM_THREADS=1 python benchmarks/bench_learning_curves.py --jobs 2        # the two runs side by side (2 processes)
    OMP_NUM_THREADS=1 python benchmarks/bench_learning_curves.py --minutes4 .5 --minutes6 .5 --out /tmp/lc   # a smoke run

Trains the `sudoku4_cpu` and `sudoku6_cpu` recipes (trm_course.recipes) with
trm_course.experiments.learning_curve, evaluating the EMA weights on all held-out puzzles (all N_sup steps) every
`--eval-seconds` of training time; evaluation time is not counted. Budgets count this process's CPU time
(`--clock cpu`, the default: what one idle core would take, also on a busy machine; wall-clock time is recorded too)
or wall-clock time (`--clock wall`). Writes
    <out>/learning_curves.txt   exact/token accuracy at training minutes 1, 2, 3, 5, 10, 15 (+ the machine and load)
    <out>/learning_curves.json  every record (trm_course.experiments.load_curves reads it; chapter 17 plots it)
Data: trm_course.experiments.sudoku_data (generated minimal puzzles, cached; test puzzles never among training inputs):
4x4 1,000 puzzles x 8 variants / 500 test; 6x6 1,000 puzzles x 21 variants / 1,000 test.
"""
import argparse, os, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from trm_course.recipes import get_recipe
from trm_course.experiments import learning_curve, sudoku_data, format_curves, save_curves, load_curves, time_to
from trm_course.core import atomic_write

MINUTES = (1, 2, 3, 5, 10, 15)


def runs(seed):
    return [('4x4 sudoku4_cpu', 'sudoku4_cpu', lambda: sudoku_data(4, n_train=1000, n_aug=7, n_test=500, seed=seed)),
            ('6x6 sudoku6_cpu', 'sudoku6_cpu', lambda: sudoku_data(6, n_train=1000, n_aug=20, n_test=1000, seed=seed))]


def run_one(args, name, preset, data):
    print(f'== {name}: {args.minutes[name]} {args.clock} min, data {data}', flush=True)
    cfg = get_recipe(preset, data=str(data), seed=args.seed)
    recs = learning_curve(cfg, minutes=args.minutes[name], eval_every=None, clock=args.clock,
                          eval_seconds=args.eval_seconds or 60 * args.minutes[name] / 12)
    return recs, os.getloadavg()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--minutes4', type=float, default=3.0, help='training minutes for 4x4 (sudoku4_cpu); 0 skips it')
    ap.add_argument('--minutes6', type=float, default=15.0, help='training minutes for 6x6 (sudoku6_cpu); 0 skips it')
    ap.add_argument('--clock', default='cpu', choices=['cpu', 'wall'], help='what the minutes count (default: CPU time)')
    ap.add_argument('--eval-seconds', type=float, default=None,
                    help='evaluate every this many training seconds (default: 12 evaluations per run)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--jobs', type=int, default=1, choices=[1, 2], help='2: run 4x4 and 6x6 in two processes at once')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results'))
    ap.add_argument('--child', default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.minutes = {'4x4 sudoku4_cpu': args.minutes4, '6x6 sudoku6_cpu': args.minutes6}
    torch.set_num_threads(args.threads)
    todo = [(n, p, d) for n, p, d in runs(args.seed) if args.minutes[n] > 0]
    if args.child is not None:                      # one run, records to a JSON file (for --jobs 2)
        n, p, d = next(r for r in todo if r[0] == args.child.split('@')[0])
        recs, load = run_one(args, n, p, d())
        save_curves({n: recs}, args.child.split('@')[1], meta={'load_end': load[0]})
        return
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    load0, t0 = os.getloadavg(), time.time()
    datas = {n: d() for n, _, d in todo}            # build (or find) the data first, outside the timed runs
    curves, loads = {}, {}
    if args.jobs == 2:
        tmp = out / '.bench_learning_curves'; tmp.mkdir(exist_ok=True)
        given = list(argv if argv is not None else sys.argv[1:])
        if '--jobs' in given: i = given.index('--jobs'); del given[i:i + 2]
        cmd = [sys.executable, __file__] + [a for a in given if not a.startswith('--jobs=')]
        procs = {n: subprocess.Popen(cmd + ['--child', f'{n}@{tmp / (str(i) + ".json")}'])
                 for i, (n, _, _) in enumerate(todo)}
        for i, (n, p) in enumerate(procs.items()):
            if p.wait() != 0: raise SystemExit(f'the {n} run failed (exit {p.returncode})')
            c, meta = load_curves(tmp / f'{i}.json')
            curves[n] = c[n]; loads[n] = (meta['load_end'],)
            (tmp / f'{i}.json').unlink()
        tmp.rmdir()
    else:
        for n, p, _ in todo:
            curves[n], loads[n] = run_one(args, n, p, datas[n])
    when = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))
    clock = 'CPU time of the training process (what one idle core would take)' if args.clock == 'cpu' else 'wall-clock time'
    head = [f'# bench_learning_curves.py  {when}  torch {torch.__version__}  device cpu  dtype float32',
            f'# host: {platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, jobs {args.jobs}, '
            f'load average at start {load0[0]:.1f}, at the end of each run: '
            + ', '.join(f'{n} {l[0]:.1f}' for n, l in loads.items()) + ' (wall times are noisy on a shared machine)',
            f'# command: OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "?")} python benchmarks/bench_learning_curves.py '
            + ' '.join(argv if argv is not None else sys.argv[1:]),
            f'# minutes = {clock}; evaluations excluded. Held-out exact/token accuracy (EMA weights, all N_sup steps):',
            '# the last evaluation at or before each minute; "-" = the run was shorter.', '']
    body = format_curves(curves, MINUTES, clock=args.clock)
    notes = ['', '# recipes (trm_course.recipes):'] + [f'#   {p}: {get_recipe(p).to_dict(flat=True)}' for _, p, _ in todo] + ['# data:'] + \
            [f'#   {n}: {datas[n].name}' for n, _, _ in todo]
    key = 'cpu_minutes' if args.clock == 'cpu' else 'minutes'
    for n, recs in curves.items():
        f = recs[-1]
        hit = {t: time_to(recs, t) for t in (0.5, 0.9, 0.95, 0.99)}
        notes.append(f'# {n}: {f["step"]:,} steps, {f[key]:.1f} {args.clock} min of training ({f["minutes"]:.1f} wall min), '
                     f'{f["examples"]:,} puzzles finished; exact first >= ' + ', '.join(
                         f'{t:.0%} at ' + (f'{h[key]:.1f} min/{h["step"]} steps' if h else '-') for t, h in hit.items()))
    text = '\n'.join(head) + body + '\n' + '\n'.join(notes) + '\n'
    with atomic_write(out / 'learning_curves.txt', 'w') as fh: fh.write(text)
    save_curves(curves, out / 'learning_curves.json',
                meta={'when': when, 'threads': torch.get_num_threads(), 'clock': args.clock, 'jobs': args.jobs,
                      'load_start': load0[0], 'load_end': {n: l[0] for n, l in loads.items()}, 'host': platform.machine(),
                      'cpus': os.cpu_count()})
    print(text)


if __name__ == '__main__':
    main()
