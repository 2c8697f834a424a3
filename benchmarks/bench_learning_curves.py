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
Several training seeds (`--seeds 0 1 2`): one run per (seed, task), each written to
<out>/.learning_curves_runs/<task>_seed<S>.json as it finishes, so an interrupted benchmark continues where it stopped
(finished runs are skipped; delete that folder to start over). The table then has one row per run, and a summary gives the
median and range over seeds of the CPU time to 50/90/95/98/99% exact. The data is the recipe's (data seed 0) for
every training seed.
Every run carries benchmarks/records.py's header ('header': command, commit from `git describe --always --dirty`,
torch, CPU, threads, seeds, load at start and end) and its fully resolved TrainConfig ('config': recipe + overrides,
checked by tests/test_records.py against today's recipe); learning_curves.json lists them under 'runs'. A dirty tree
is refused unless --scratch (then the output is marked scratch and is not a record).
Data: trm_course.sudoku.sudoku_data (generated minimal puzzles, cached; test puzzles never among training inputs):
4x4 1,000 puzzles x 8 variants / 500 test; 6x6 1,000 puzzles x 21 variants / 1,000 test.
"""
import argparse, json, os, platform, statistics, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))

import torch

from trm_course.recipes import get_recipe
from trm_course.train import resolve_precision
from trm_course.experiments import learning_curve, format_curves, save_curves, load_curves, time_to, curve_table
from trm_course.sudoku import sudoku_data
from trm_course.core import atomic_write
from records import config_record, cpu_text, finish_header, load_average, record_header

MINUTES = (1, 2, 3, 5, 8, 10, 15)
THRESHOLDS = (0.5, 0.9, 0.95, 0.98, 0.99)


def runs():
    "(name, recipe, data) of each task; the data is the recipe's (data seed 0), whatever the training seed."
    return [('4x4 sudoku4_cpu', 'sudoku4_cpu', lambda: sudoku_data(4, n_train=1000, n_aug=7, n_test=500, seed=0)),
            ('6x6 sudoku6_cpu', 'sudoku6_cpu', lambda: sudoku_data(6, n_train=1000, n_aug=20, n_test=1000, seed=0))]


def run_one(args, name, preset, data, seed):
    "Train one run; returns its records, the load average after it, and its configuration (records.config_record)."
    print(f'== {name}: {args.minutes[name]} {args.clock} min, data {data}', flush=True)
    # progress and out_dir as learning_curve sets them itself (a throw-away folder), named here so the record holds them
    overrides = {'data': str(data), 'seed': seed, 'progress': False, 'out_dir': tempfile.mkdtemp(prefix='trm-curve-')}
    cfg = get_recipe(preset, **overrides)
    recs = learning_curve(cfg, minutes=args.minutes[name], eval_every=None, clock=args.clock, out_dir=overrides['out_dir'],
                          eval_seconds=args.eval_seconds or 60 * args.minutes[name] / 12)
    return recs, os.getloadavg(), config_record(cfg, preset, overrides), resolve_precision('cpu', cfg.dtype)


def run_entries(metas: dict) -> list[dict]:
    """learning_curves.json's 'runs': one entry per run with its records.py header and resolved config (what
    records.check_results checks); a run recorded before the header rule has neither (the file is then not a record)."""
    return [{'name': n, 'recipe': m['recipe'], 'seed': m['seed'],
             **({'header': m['header'], 'config': m['record_config']} if 'header' in m else {})} for n, m in metas.items()]


def run_forward_dtype(meta: dict) -> str:
    "The forward dtype a recorded run used; one recorded before 'forward_dtype' was stored ran a float32 recipe (all were)."
    return meta.get('forward_dtype', meta['config']['dtype'])


def run_file(out: Path, name: str, seed: int) -> Path:
    return out / '.learning_curves_runs' / f'{name.split()[0]}_seed{seed}.json'


def summary(curves: dict, key: str) -> list[str]:
    "Median [min-max] over seeds of the training minutes to each exact-accuracy threshold, per task."
    out = []
    for task in dict.fromkeys(n.split(', seed')[0] for n in curves):
        runs_ = {n: r for n, r in curves.items() if n.split(', seed')[0] == task}
        cells = []
        for t in THRESHOLDS:
            hits = [time_to(r, t) for r in runs_.values()]
            got = sorted(h[key] for h in hits if h)
            if not got: cells.append(f'{t:.0%}: not reached'); continue
            miss = f', {len(hits) - len(got)} of {len(hits)} seeds not reached' if len(got) < len(hits) else ''
            steps = sorted(h['step'] for h in hits if h)
            cells.append(f'{t:.0%}: {statistics.median(got):.2f} min [{got[0]:.2f}-{got[-1]:.2f}] '
                         f'(steps {statistics.median(steps):.0f} [{steps[0]}-{steps[-1]}]){miss}')
        best = [max(x['exact'] for x in r) for r in runs_.values()]
        out.append(f'# {task}, {len(runs_)} seeds, minutes to exact >= ' + '; '.join(cells)
                   + f'; best exact median {statistics.median(best):.1%} [{min(best):.1%}-{max(best):.1%}]')
    return out


README_MINUTES = (1, 2, 3, 5, 10, 15)
# † = the README's footnote: sudoku6_cpu's dtype='auto' trained in bfloat16 on the CPU that recorded it
# (tests/test_recorded_numbers.py checks the runs' forward_dtype against it)
README_TASKS = {'4x4 sudoku4_cpu': '4×4 Sudoku (`sudoku4_cpu`)', '6x6 sudoku6_cpu': '6×6 Sudoku (`sudoku6_cpu`)†'}


def _pct(x: float) -> str:
    return '100%' if round(x * 1000) == 1000 else f'{x:.1%}'


def readme_rows(curves: dict, clock: str = 'cpu') -> list[str]:
    """The README's rows of "What a laptop CPU can train", from the recorded curves: held-out exact accuracy at each
    CPU minute, the median over seeds with the range in brackets when there are several (blank: the runs were shorter).
    tests/test_recorded_numbers.py checks that the README shows exactly these rows."""
    rows = []
    for task, label in README_TASKS.items():
        runs_ = [r for n, r in curves.items() if n.split(', seed')[0] == task]
        if not runs_: continue
        cells = []
        for i, m in enumerate(README_MINUTES):
            xs = [curve_table(r, README_MINUTES, clock)[i]['exact'] for r in runs_]
            if any(x is None for x in xs): cells.append(''); continue
            xs.sort()
            med = statistics.median(xs)
            cells.append(_pct(med) if len(xs) == 1 else f'{_pct(med)} [{_pct(xs[0])}–{_pct(xs[-1])}]')
        rows.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--minutes4', type=float, default=3.0, help='training minutes for 4x4 (sudoku4_cpu); 0 skips it')
    ap.add_argument('--minutes6', type=float, default=15.0, help='training minutes for 6x6 (sudoku6_cpu); 0 skips it')
    ap.add_argument('--clock', default='cpu', choices=['cpu', 'wall'], help='what the minutes count (default: CPU time)')
    ap.add_argument('--eval-seconds', type=float, default=None,
                    help='evaluate every this many training seconds (default: 12 evaluations per run)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=None, help='one training seed (default 0); see --seeds')
    ap.add_argument('--seeds', type=int, nargs='+', default=None, help='several training seeds, one run each (resumable)')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results'))
    ap.add_argument('--report', action='store_true', help='only rewrite the table from the finished runs')
    ap.add_argument('--scratch', action='store_true', help='allow a dirty tree; the output is then not a record')
    args = ap.parse_args(argv)
    if args.seed is not None and args.seeds is not None: raise SystemExit('give --seed or --seeds, not both')
    seeds = args.seeds or [0 if args.seed is None else args.seed]
    args.minutes = {'4x4 sudoku4_cpu': args.minutes4, '6x6 sudoku6_cpu': args.minutes6}
    torch.set_num_threads(args.threads)
    todo = [(n, p, d) for n, p, d in runs() if args.minutes[n] > 0]
    # the header (refuses a dirty tree unless --scratch) before anything is built; nothing to run: no header needed
    header = None if args.report else record_header(seeds=seeds, scratch=args.scratch, bench='bench_learning_curves')
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    command = (f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "?")} python benchmarks/bench_learning_curves.py '
               + ' '.join(argv if argv is not None else sys.argv[1:]))
    datas = {n: d() for n, _, d in todo}            # build (or find) the data first, outside the timed runs
    for seed in seeds:                              # one run per (seed, task); a finished one is skipped
        for n, p, _ in todo:
            f = run_file(out, n, seed)
            if f.exists() or args.report: continue
            f.parent.mkdir(exist_ok=True)
            load0, t0, head = os.getloadavg(), time.time(), header | {'load_run_start': load_average()}
            recs, load, config, forward_dtype = run_one(args, n, p, datas[n], seed)
            save_curves({f'{n}, seed {seed}': recs}, f, meta=dict(
                when=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0)), seed=seed, recipe=p,
                config=get_recipe(p, data=str(datas[n]), seed=seed).to_dict(flat=True), data=datas[n].name,
                forward_dtype=forward_dtype,     # what the recipe's dtype resolved to on this CPU ('auto': bf16 units?)
                minutes=args.minutes[n], clock=args.clock, command=command, commit=head['commit'], torch=torch.__version__,
                threads=torch.get_num_threads(), cpu=cpu_text(), host=platform.machine(), cpus=os.cpu_count(),
                load_start=round(load0[0], 2), load_end=round(load[0], 2), header=finish_header(head), record_config=config))
    curves, metas = {}, {}
    for seed in seeds:
        for n, p, _ in todo:
            f = run_file(out, n, seed)
            if not f.exists(): continue
            c, meta = load_curves(f)
            curves.update(c); metas.update({k: meta for k in c})
    if not curves: raise SystemExit(f'no finished runs under {out / ".learning_curves_runs"}')
    m0 = next(iter(metas.values()))
    dtypes = ', '.join(f'{t}: {d}' for t, d in dict.fromkeys((n.split(', seed')[0].split()[0], run_forward_dtype(m))
                                                             for n, m in metas.items()))
    loads = [m['load_start'] for m in metas.values()] + [m['load_end'] for m in metas.values()]
    head = [f'# bench_learning_curves.py  {min(m["when"] for m in metas.values())} to {max(m["when"] for m in metas.values())}'
            f'  torch {m0["torch"]}  device cpu  forward dtype {dtypes}  commit {", ".join(sorted({m["commit"] for m in metas.values()}))}',
            f'# host: {m0["host"]}, {m0["cpus"]} CPUs ({m0["cpu"]}), torch threads {m0["threads"]}, one run at a time; '
            f'load average {min(loads):.1f}-{max(loads):.1f} during the runs (wall times are noisy on a shared machine)',
            f'# command: {m0["command"]}',
            f'# minutes = {"CPU time of the training process (what one idle core would take)" if args.clock == "cpu" else "wall-clock time"}; '
            'evaluations excluded. Held-out exact/token accuracy (EMA weights, all N_sup steps):',
            '# the last evaluation at or before each minute; "-" = the run was shorter.', '']
    key = 'cpu_minutes' if args.clock == 'cpu' else 'minutes'
    body = format_curves(curves, MINUTES, clock=args.clock)
    notes = ['', '# over training seeds (median [min-max]):'] + summary(curves, key) + \
            ['', '# recipes (trm_course.recipes, as the runs used them):'] + \
            list(dict.fromkeys(f'#   {m["recipe"]}: ' + str({k: v for k, v in m["config"].items() if k not in ("seed", "data")})
                               for m in metas.values())) + ['# data:'] + \
            list(dict.fromkeys(f'#   {n.split(", seed")[0]}: {m["data"]}' for n, m in metas.items()))
    text = '\n'.join(head) + body + '\n' + '\n'.join(notes) + '\n'
    with atomic_write(out / 'learning_curves.txt', 'w') as fh: fh.write(text)
    meta = {'when': m0['when'], 'threads': m0['threads'], 'clock': args.clock, 'seeds': seeds,
            'load_start': min(loads), 'load_end': max(loads), 'host': m0['host'], 'cpus': m0['cpus'],
            'runs': {n: {k: v for k, v in m.items() if k not in ('config', 'header', 'record_config')} | {'config': m['config']}
                     for n, m in metas.items()}}
    # save_curves' {'meta', 'curves'} (load_curves reads it) plus 'runs': the headers and configs records.py checks
    with atomic_write(out / 'learning_curves.json', 'w') as fh:
        json.dump({'meta': meta, 'curves': curves, 'runs': run_entries(metas)}, fh, indent=1)
    print(text)


if __name__ == '__main__':
    main()
