#!/usr/bin/env python
"""'Less is more', measured (issue 19 item 2): a 2-layer network applied recursively against deeper and wider networks
at equal effective depth, trained on small 6x6 Sudoku training sets until held-out accuracy plateaus, with the
generalisation gap (train - held-out exact) over training. Resumable.

    # the CPU cost of each architecture (a few timed steps, 1 thread) and of the whole plan, before running it:
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_less_is_more.py --estimate
    # the experiment (a record: run it from a clean checkout; a restart continues where it stopped), e.g. in the
    # background from a worktree of a commit, its log outside the tree (copy it to benchmarks/results/ when done):
    git worktree add /work/wt_lim <commit> && cd /work/wt_lim && mkdir -p /work/sweep_logs && \
    OMP_NUM_THREADS=1 nohup nice -n 10 /work/main/.venv/bin/python benchmarks/bench_less_is_more.py \
        --log /work/sweep_logs/less_is_more.jsonl > /work/sweep_logs/less_is_more.out 2>&1 &
    # the table (train / val / test exact per architecture and N, mean ± std over seeds, gaps) and the curves:
    python benchmarks/bench_less_is_more.py --report --log benchmarks/results/less_is_more.jsonl

The paper's argument (arXiv 2510.04871, section 'Less is more'): with ~1,000 training puzzles, a 2-layer network
recursed more often generalises better than a deeper one recursed less, at about the same effective depth, because
the bigger network overfits (its Table 1: 4 layers, n=3: 79.5% against TRM's 87.4%). This script tests that on 6x6
Sudoku from N = 100 and 300 base puzzles.

Data, split, training and evaluation are the converged ablation sweep's (benchmarks/bench_ablations_converged.py,
imported, not copied): the first N base puzzles of the fixed 6x6 minimal-Sudoku dataset, each with its 20 shuffles;
held-out puzzles 0-499 = val (every choice), 500-999 = test (reported, evaluated once, at the end); 'train' exact =
250 training examples drawn once. One run = conv.run_one: recipe sudoku6_cpu with the architecture's changes, constant
lr after warm-up, float32, one thread; EMA weights evaluated with all N_sup=4 steps every --eval-every steps (train
and val), so the gap has a curve.

Architectures (ARCHS, defined with the report functions in trm_course.less_is_more, chapter 22a; effective depth =
T(n+1) x layers, the layer applications between input and answer in one supervision step; TRM's is 12):
- trm: 2 layers, T=2, n=2 (depth 12; the sweep's TRM row; 155,138 parameters).
- l4_T1n2: 4 layers, T=1, n=2 (depth 12, 308,738 parameters). With 4 layers, T(n+1) = 3 needs T=1: this network has
  no recursion without gradient (TRM has one); see 'confounds' below.
- l2_wide: 2 layers, T=2, n=2, wider: hidden 80 (TRM 64) and SwiGLU inner width 512 (TRM 256), 302,978 parameters,
  within 2% of l4_T1n2's. Why not hidden 128 (451,586 parameters, 1.46x l4): the question the wider row answers is
  whether the 4-layer network's loss comes from its parameter count or from its depth per call, so it matches the
  4-layer network's count. Why 80 and expansion 5: the SwiGLU inner width is rounded up to a multiple of 256, so
  hidden alone cannot match it (hidden 96: 205,058; hidden 97: 355,610); with expansion 5.0 (round(5 x 80 x 2/3) =
  267 -> 512) hidden 80 lands on 302,978. The token-mixing MLP (over the 36 cells) is the same in every row.
- l8_T1n1 (defined, not in the default plan): 8 layers, T=1, n=1 (depth 16, 615,938 parameters). 8 layers cannot
  reach depth 12 with integers T, n >= 1 (T(n+1) = 1.5); T=1, n=1 is the least recursion there is, so this network
  would be deeper than TRM (16 against 12), which only favours it if depth helps. It is cut by the budget below, in
  the issue's order (item 5: first the latent-design comparison, which is not here, then the 8-layer network, then
  the third training-set size). `--archs trm l4_T1n2 l2_wide l8_T1n1` adds it back (it runs last in each seed).

Confounds. l4_T1n2 has T=1: every call carries gradient (12 layer applications in the backward pass, TRM 6), and
there is no recursion without gradient. The converged sweep separates this for the 2-layer network: its row
recursion_T1n5 (2 layers, T=1, n=5, depth 12, all with gradient) is l4_T1n2's 2-layer twin, on the same data, split,
recipe, lr and steps at N=100 (1,750): compare the two there.

Protocol. Every architecture at a given N: the same steps and lr 2e-3 (TRM's, chosen on val by the converged sweep's
grid 1e-3/2e-3/4e-3), shared: issue 19 item 5's last cut, since the plan does not fit with a grid. An architecture
is re-tuned only if one of its runs diverges (non-finite loss): then all its runs at that N move to the next
--retune-lrs value (1e-3, then 5e-4), and the report uses, per architecture and N, the first lr at which no run
diverged (`arch_lr`) and flags it. Steps per N (--steps N=STEPS) = where TRM's held-out exact plateaus in the pilot
(seed 0, val every 250 steps, benchmarks/results/ablations_converged_pilot.jsonl): N=100 91.6% at 1,750 and at 2,000
-> 1,750 (583 epochs of the 100 puzzles; the converged sweep's steps, so its rows compare with these at the end);
N=300 96.4% at 1,750, 96.6% at 2,000 -> 2,000 (222 epochs). Running on past the plateau could show the curves
turning down, but the budget has no room for it (see 'budget'); the gap train - val shows without it (the pilot's TRM
at N=100, 1,750 steps: train 99.6%, val 91.6%). 3 seeds (0, 1, 2).

Budget (issue 19 item 5; this experiment's share is about 3 CPU-hours of one core). `--estimate` times 8 training
steps (after 2 warm-up steps) of each architecture and one evaluation (250 train + 500 val; 500 test), and adds up
the plan: steps x CPU s/step + one train+val evaluation per 250 steps + the test. Measured twice (06:11-06:15 and
06:15-06:18 UTC) on this host (2 cores shared with the converged sweep and other jobs, load average 4-6; 1 thread, nice -n 10,
float32 eager; the same architecture's s/step differed by up to 8% between the two). First, the design with all four
architectures, N=100 at 2,000 and N=300 at 2,250 steps (24 runs):
    architecture                   params  CPU s/step  eval s  test s   run N=100  run N=300
    2 layers, T=2, n=2 (TRM)      155,138       0.201    16.1    10.8       541 s      607 s
    4 layers, T=1, n=2            308,738       0.321    11.9     8.7       746 s      838 s
    2 layers wide (d=80, MLP 512) 302,978       0.312    17.2    12.1       774 s      869 s
    8 layers, T=1, n=1            615,938       0.471    14.0     8.6      1062 s     1194 s
    total 5.53 CPU-hours (the 8-layer network 1.88 h)
Cut: the 8-layer network (the issue's order; the latent-design comparison, its first cut, is not in this script),
then, instead of the next item (a training-set size: two is the fewest the issue allows), the 250 steps past the
plateaus. The plan (the defaults: 3 architectures x N = 100 (1,750 steps), 300 (2,000 steps) x 3 seeds = 18 runs),
`--estimate` at 06:15-06:18:
    2 layers, T=2, n=2 (TRM)      155,138       0.216    16.7    11.9       508 s      579 s
    4 layers, T=1, n=2            308,738       0.295    10.8     7.4       599 s      684 s
    2 layers wide (d=80, MLP 512) 302,978       0.291    15.9    11.2       632 s      721 s
    total 3.10 CPU-hours (TRM 0.91 h, 4 layers 1.07 h, wide 1.13 h)
The order of the runs: N=100 before N=300, seed by seed (TRM, 4 layers, wide in each), so a sweep stopped early
leaves complete comparisons.

Resumable: each finished run is one JSON line in --log (conv.run_one's record: the records.py header with command,
commit, torch, CPU, threads, load; the fully resolved TrainConfig; the curve; final train/val/test). A restart skips
what is there. A dirty tree is refused unless --scratch (then the output is not a record).
"""
from __future__ import annotations
import argparse, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))

import bench_ablations_converged as conv
from records import record_header, finish_header
from trm_course.ablations import endless_batches, read_sweep, timed_steps
# The architectures, the plan's defaults and the report live in the library (nbs/22a_less_is_more.ipynb, exported to
# trm_course/less_is_more.py), so that the chapter reads the record with the same functions that print it here.
from trm_course.less_is_more import (ARCHS, DEFAULT_ARCHS, DEFAULT_STEPS, LR, RETUNE_LRS, arch_lr,  # noqa: F401
                                     format_curves, format_table, report, summarise, verdict)


def run_arch(arch, seed, n_train, steps, lr, eval_every, header, dtype='float32', compile=False):
    "One run of an architecture: conv.run_one with the architecture's definition (no checkpoint kept)."
    return conv.run_one(arch, seed, n_train, steps, lr, eval_every, header, models=None, dtype=dtype, compile=compile,
                        spec=ARCHS[arch])


# ---------------------------------------------------------------------------------------------------- the plan
def plan(archs, n_trains, seeds) -> list[tuple[str, int, int]]:
    "(arch, N, seed) in run order: N by N, seed by seed, the architectures in the given order."
    return [(arch, n, seed) for n in n_trains for seed in seeds for arch in archs]


def parse_steps(items) -> dict:
    "['100=2000', '300=2250'] -> {100: 2000, 300: 2250}."
    try: return {int(k): int(v) for k, v in (s.split('=') for s in items)}
    except ValueError: raise SystemExit(f'--steps wants N=STEPS items, got {items}')


def sweep(a, runner=run_arch) -> list[dict]:
    "Run every (arch, N, seed) of the plan not yet in the log, at its architecture's lr (re-tuned only after a divergence)."
    log, steps = Path(a.log), parse_steps(a.steps)
    missing = [n for n in a.n_train if n not in steps]
    if missing: raise SystemExit(f'--steps gives no step count for N={missing}')
    for arch in a.archs:
        if arch not in ARCHS: raise SystemExit(f'unknown architecture {arch!r}; architectures: {", ".join(ARCHS)}')
    header = record_header(seeds=a.seeds, scratch=a.scratch, sweep='bench_less_is_more',
                           archs={k: ARCHS[k] for k in a.archs}, steps=steps)
    lrs = [a.lr] + [x for x in a.retune_lrs if x != a.lr]
    for _ in range(len(lrs)):         # a divergence moves an architecture to the next lr: its earlier seeds rerun there
        new = 0
        for arch, n, seed in plan(a.archs, a.n_train, a.seeds):
            runs = read_sweep(log)
            lr = arch_lr(runs, arch, n, steps[n], lrs)
            if lr is None: continue                                   # diverged at every lr: the report says so
            key = conv.run_key(arch, seed, n, steps[n], lr, a.eval_every, a.dtype, a.compile)
            if key in {r['key'] for r in runs}: continue
            print(f'# run {arch} seed {seed} N={n} steps {steps[n]} lr {lr:g}', flush=True)
            try:
                rec = runner(arch, seed, n, steps[n], lr, a.eval_every, header, dtype=a.dtype, compile=a.compile)
            except Exception as e:     # one broken run does not stop the rest; a restart tries it again
                import traceback; traceback.print_exc()
                conv.append(log, {'kind': 'error', 'key': key, 'row': arch, 'seed': seed, 'error': f'{type(e).__name__}: {e}',
                                  'header': finish_header(header)})
                continue
            rec['key'], rec['header'] = key, finish_header(rec['header'])
            conv.append(log, rec); new += 1
        if not new: break
    return read_sweep(log)


# ---------------------------------------------------------------------------------------------------- the estimate
def time_arch(arch: str, n_train: int = 100, steps: int = 8, warm: int = 2) -> dict:
    "CPU seconds (this process, training only) per training step of `arch`, and of one train+val and one test evaluation."
    from trm_course.train import Trainer
    import tempfile
    data = conv.train_data(n_train)
    sets = conv.eval_sets(data)
    cfg, build, _ = conv.run_config(arch, 0, LR, warm + steps, data, tempfile.mkdtemp(prefix='trm-lim-'), spec=ARCHS[arch])
    tr = Trainer(cfg, verbose=False, build=build)
    batches = endless_batches(tr)         # epoch after epoch, checked (N=100: 3 batches an epoch)
    for _ in range(warm): tr.train_step(next(batches))
    step = timed_steps(tr, batches, steps) / steps
    c = time.process_time(); conv.evaluate(tr, {k: sets[k] for k in ('train', 'val')}); ev = time.process_time() - c
    c = time.process_time(); conv.evaluate(tr, {'test': sets['test']}); test = time.process_time() - c
    return {'arch': arch, 'step_s': step, 'eval_s': ev, 'test_s': test, 'params': sum(p.numel() for p in tr.model.parameters())}


def run_cost(t: dict, steps: int, eval_every: int) -> float:
    "CPU seconds of one run: its steps, an evaluation of train+val every eval_every steps (and at the end), the test once."
    return steps * t['step_s'] + -(-steps // eval_every) * t['eval_s'] + t['test_s']


def estimate(a, timer=time_arch) -> str:
    steps = parse_steps(a.steps)
    times = {arch: timer(arch, steps=a.estimate_steps) for arch in a.archs}
    lines = [f"{'architecture':<30} {'params':>8} {'CPU s/step':>10} {'eval s':>7} {'test s':>7} "
             + ' '.join(f"{'run N=' + str(n):>10}" for n in a.n_train)]
    total = {}
    for arch, t in times.items():
        cost = {n: run_cost(t, steps[n], a.eval_every) for n in a.n_train}
        total[arch] = sum(cost.values()) * len(a.seeds)
        lines.append(f"{ARCHS[arch]['name']:<30} {t['params']:8,d} {t['step_s']:10.3f} {t['eval_s']:7.1f} {t['test_s']:7.1f} "
                     + ' '.join(f'{cost[n]:9.0f}s' for n in a.n_train))
    hours = sum(total.values()) / 3600
    lines.append(f"total: {len(a.archs)} architectures x N in {a.n_train} x {len(a.seeds)} seeds = "
                 f"{len(a.archs) * len(a.n_train) * len(a.seeds)} runs, {hours:.2f} CPU-hours ("
                 + ', '.join(f'{k} {v / 3600:.2f} h' for k, v in total.items()) + f'); steps {steps}, eval every {a.eval_every}; '
                 f'timed over {a.estimate_steps} steps, load {conv.load_average()}')
    return '\n'.join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--archs', nargs='+', default=DEFAULT_ARCHS, help=f'architectures, in run order: {", ".join(ARCHS)}')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--n-train', nargs='+', type=int, default=list(DEFAULT_STEPS), help='base training puzzles (x21 copies)')
    p.add_argument('--steps', nargs='+', default=[f'{n}={s}' for n, s in DEFAULT_STEPS.items()], help='N=STEPS for each N')
    p.add_argument('--lr', type=float, default=LR)
    p.add_argument('--retune-lrs', nargs='*', type=float, default=RETUNE_LRS, help='tried in order after a divergence')
    p.add_argument('--eval-every', type=int, default=250)
    p.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'])
    p.add_argument('--compile', action='store_true', help='torch.compile the network')
    p.add_argument('--log', default=str(ROOT / 'benchmarks' / 'results' / 'less_is_more.jsonl'))
    p.add_argument('--scratch', action='store_true', help='allow a dirty tree; the output is then not a record')
    p.add_argument('--report', action='store_true', help='only print the table and the curves from --log')
    p.add_argument('--estimate', action='store_true', help='time a few steps of each architecture and add up the plan')
    p.add_argument('--estimate-steps', type=int, default=8, help='timed training steps per architecture for --estimate')
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    if a.report:
        print(report(read_sweep(Path(a.log)))); return 0
    import torch
    torch.set_num_threads(1)
    if a.estimate:
        print(estimate(a)); return 0
    runs = sweep(a)
    print(report(runs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
