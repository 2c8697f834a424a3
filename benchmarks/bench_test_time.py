#!/usr/bin/env python
"""Test-time compute on the course's CPU Sudoku model (chapter 23): K noisy trajectories per held-out puzzle,
one answer chosen by the highest final q_halt or by a majority vote, and the oracle bound.

    OMP_NUM_THREADS=1 python benchmarks/bench_test_time.py --out benchmarks/results        # the recorded run
    OMP_NUM_THREADS=1 python benchmarks/bench_test_time.py --n 50 --sigmas 0.4 --K 4 --kmax 8 --seeds 0   # smoke run

For every training seed: trains (or loads from the course cache) `trm_course.test_time.trained_sudoku(size, steps,
seed)`, evaluates the first `--n` held-out puzzles plainly (K=1, sigma=0, checked equal to the plain rollout), then
 1. the sigma sweep: for each `--sigmas` and noise seed, `--K` trajectories (K = 1, 2, 4, ... nested);
 2. the K curve: at the sigma whose q_halt selection was best at `--K` (mean over noise seeds), `--kmax`
    trajectories (K = 1, 2, 4, ..., kmax), a fresh run per noise seed.
Every run's compute is K x N_sup supervision steps per puzzle; its CPU seconds are recorded.
Without --out it only prints. With --out DIR it writes DIR/NAME.txt and DIR/NAME.json (--name, default test_time), and
the figure to --figure (default: images/NAME.png when DIR is benchmarks/results, else DIR/NAME.png).
A second training seed, smaller grid (recorded as test_time_seed1):
    OMP_NUM_THREADS=1 python benchmarks/bench_test_time.py --train-seeds 1 --sigmas 0.2 0.8 --seeds 0 --kmax 1 --out benchmarks/results --name test_time_seed1
"""
import argparse, json, os, platform, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from trm_course.core import atomic_write, save_figure
from trm_course.test_time import (exact_match, final_step, format_sweep, held_out_puzzles, noise_sweep,
                                  noisy_trajectories, plot_sweep, sweep_table, trained_sudoku)


def powers(k):
    out, p = [], 1
    while p < k: out.append(p); p *= 2
    return out + [k]


def machine():
    return (f'host {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, torch threads '
            f'{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}')


def one_model(args, train_seed):
    model, data = trained_sudoku(args.size, args.steps, seed=train_seed)
    batch = held_out_puzzles(data, args.n)
    ref = final_step(model, batch)
    one = noisy_trajectories(model, batch, K=1, sigma=0.0, rows=args.n)
    assert torch.equal(one['preds'][0], ref['preds']) and torch.equal(one['q_halt'][0], ref['q_halt'])
    right = exact_match(ref['preds'], batch['labels'])
    q = ref['q_halt']
    sep = (q[right][:, None] > q[~right][None]).float().mean().item() if right.any() and (~right).any() else float('nan')
    plain = right.float().mean().item()
    print(f'== {args.size}x{args.size}, {args.steps} training steps, seed {train_seed}: plain {plain:.1%} on {args.n} '
          f'puzzles; {machine()}', flush=True)
    sig = noise_sweep(model, batch, sigmas=args.sigmas, Ks=powers(args.K), seeds=args.seeds, where=args.where, rows=args.rows)
    s_table = sweep_table(sig)
    at_K = [r for r in s_table if r['K'] == args.K]
    best = max(at_K, key=lambda r: r['q_halt'])['sigma']
    print(f'best sigma for q_halt selection at K={args.K}: {best}', flush=True)
    kc = noise_sweep(model, batch, sigmas=(best,), Ks=powers(args.kmax), seeds=args.seeds, where=args.where, rows=args.rows)
    return {'train_seed': train_seed, 'data': data.name, 'plain': plain, 'q_halt_positive': (q > 0).float().mean().item(),
            'q_halt_right': q[right].mean().item() if right.any() else None,
            'q_halt_wrong': q[~right].mean().item() if (~right).any() else None, 'q_separation': sep,
            'best_sigma': best, 'sigma_records': sig, 'k_records': kc, 'N_sup': model.cfg.N_sup,
            'net_calls_per_step': model.cfg.T * (model.cfg.n + 1)}


def report(args, results, command, t0, load0):
    lines = [f'# bench_test_time.py  {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  torch {torch.__version__}  device cpu',
             f'# {machine()} (at the end; at the start {load0:.1f}); {time.time() - t0:.0f} s wall in all',
             f'# command: {command}',
             f'# model: trm_course.test_time.trained_sudoku({args.size}, steps={args.steps}, seed=s): recipe sudoku{args.size}_cpu, '
             f'EMA weights; {args.n} held-out puzzles; noise on the {args.where} updates, sigma x RMS of the new state',
             f'# noise seeds {args.seeds}; each cell: mean over them (min-max); accuracy = held-out exact accuracy; '
             f'passes = K x N_sup supervision steps per puzzle (the plain evaluation: N_sup)',
             '# q_halt: the trajectory with the highest final q_halt; vote: majority vote over whole answers (ties: q_halt); '
             'oracle: any of K right (a bound); single: one noisy trajectory (mean over K)']
    for r in results:
        s_rows, k_rows = sweep_table(r['sigma_records']), sweep_table(r['k_records'])
        cpu_s = sum({(x['sigma'], x['seed']): x['cpu_seconds'] for x in r['sigma_records']}.values())
        cpu_k = sum({(x['sigma'], x['seed']): x['cpu_seconds'] for x in r['k_records']}.values())
        lines += ['', f"## training seed {r['train_seed']} ({r['data']}): plain evaluation {r['plain']:.1%} exact; "
                  f"q_halt > 0 on {r['q_halt_positive']:.1%}; mean q_halt {r['q_halt_right']:.2f} (right answers) vs "
                  f"{r['q_halt_wrong']:.2f} (wrong); P(q_halt right > q_halt wrong) = {r['q_separation']:.2f}",
                  f"### sigma sweep (K up to {args.K}; {cpu_s:.0f} CPU s)", format_sweep(s_rows, r['plain']),
                  f"### K curve at sigma={r['best_sigma']:g}, the best for q_halt selection at K={args.K} "
                  f"(fresh runs; {cpu_k:.0f} CPU s)", format_sweep(k_rows, r['plain'])]
    return '\n'.join(lines) + '\n'


def figure(args, results, K):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(results), 2, figsize=(11, 3.8 * len(results)), squeeze=False)
    for ax, r in zip(axes, results):
        s_rows = [x for x in sweep_table(r['sigma_records']) if x['K'] == K]
        plot_sweep(sweep_table(r['k_records']), s_rows, r['plain'], axes=ax,
                   title=f"{args.size}x{args.size} Sudoku, training seed {r['train_seed']}: plain {r['plain']:.1%}")
    fig.tight_layout()
    return fig


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--size', type=int, default=4, choices=(4, 6))
    p.add_argument('--steps', type=int, default=250, help='training steps (default 250: about half the 4x4 puzzles solved)')
    p.add_argument('--train-seeds', type=int, nargs='+', default=[0])
    p.add_argument('--n', type=int, default=500, help='held-out puzzles')
    p.add_argument('--sigmas', type=float, nargs='+', default=[0.1, 0.2, 0.4, 0.8, 1.6])
    p.add_argument('--K', type=int, default=16, help='trajectories per puzzle in the sigma sweep')
    p.add_argument('--kmax', type=int, default=32, help='trajectories per puzzle in the K curve')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='noise seeds')
    p.add_argument('--where', default='z', choices=('z', 'y', 'both'))
    p.add_argument('--rows', type=int, default=128, help='rows per forward batch')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', help='folder for test_time.txt/.json (benchmarks/results for the recorded run)')
    p.add_argument('--figure', help='where the figure goes (default: see the module docstring)')
    p.add_argument('--name', default='test_time', help='file name stem of the outputs (default test_time)')
    args = p.parse_args(argv)
    if args.K < 1 or args.kmax < 1 or args.n < 1: p.error('--K, --kmax and --n must be >= 1')
    torch.set_num_threads(args.threads)
    command = 'OMP_NUM_THREADS=' + os.environ.get('OMP_NUM_THREADS', '?') + ' python benchmarks/bench_test_time.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    t0, load0 = time.time(), os.getloadavg()[0]
    results = [one_model(args, s) for s in args.train_seeds]
    text = report(args, results, command, t0, load0)
    print(text)
    if args.out:
        out = Path(args.out)
        with atomic_write(out / f'{args.name}.txt', 'w') as f: f.write(text)
        with atomic_write(out / f'{args.name}.json', 'w') as f:
            json.dump({'meta': {'command': command, 'machine': machine(), 'torch': torch.__version__, 'args': vars(args),
                                'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 'results': results}, f, indent=1)
        fig_path = Path(args.figure) if args.figure else (
            ROOT / 'images' / f'{args.name}.png' if out.resolve() == (ROOT / 'benchmarks' / 'results').resolve() else out / f'{args.name}.png')
        save_figure(figure(args, results, args.K), fig_path)
        print('wrote', out / f'{args.name}.txt', out / f'{args.name}.json', fig_path)


if __name__ == '__main__':
    main()
