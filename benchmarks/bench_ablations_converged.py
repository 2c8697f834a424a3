#!/usr/bin/env python
"""The paper's Table 1 on 6x6 Sudoku, trained to convergence in the small-data regime (issue 19 item 1), resumable.

    # 1. the pilot (TRM only, seed 0, two training-set sizes, val curves every 250 steps):
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ablations_converged.py --rows trm --seeds 0 --n-train 100 300 \
        --steps 2000 --eval-every 250 --log benchmarks/results/ablations_converged_pilot.jsonl
    # 2. the sweep, its regime (N, steps) chosen from the pilot by `choose_regime`'s declared rule, on val:
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ablations_converged.py \
        --choose-from benchmarks/results/ablations_converged_pilot.jsonl --lr-grid 1e-3 2e-3 4e-3 \
        --log benchmarks/results/ablations_converged.jsonl
    # 3. rows that the report's lr check flags (LR_RULE: diverged, or underfitting while TRM fits) get their own lr grid:
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ablations_converged.py \
        --choose-from benchmarks/results/ablations_converged_pilot.jsonl --lr-grid 1e-3 2e-3 4e-3 \
        --tune-rows flagged --log benchmarks/results/ablations_converged.jsonl     # add --plan to list the runs first
    # the table and the curves from a log (also printed at the end of a sweep):
    python benchmarks/bench_ablations_converged.py --report --log benchmarks/results/ablations_converged.jsonl

Data. One fixed 6x6 minimal-Sudoku dataset (trm_course.sudoku.sudoku_data(6, n_train=1000, n_aug=20, n_test=1000),
data seed 0). A training set of N base puzzles is the first N puzzle groups of its train split, each with its 20
validity-preserving shuffles (written once to the course cache as a dataset of its own). The 1,000 test puzzles are
split by index: 0-499 = validation (every choice: lr, step count; earlier course benchmarks also looked at these),
500-999 = test (reported, never used to choose). 'train' accuracy = 250 training examples drawn once (seed 0).

Runs. One run = (row, seed, N, steps, lr): the `sudoku6_cpu` recipe with the row's changes (ROWS: every row of
trm_course.ablations.ABLATIONS plus its EXTRA_ROWS), --dtype (float32: this host has no native bf16) and --compile (both recorded), trained for
exactly --steps steps (constant lr after warm-up; the same steps for every row: the paper's protocol). Every
--eval-every steps the EMA weights (the raw ones for 'no EMA') are evaluated with all N_sup steps on the train subset,
val (test only at the end, to save CPU): exact and token accuracy (the curve). Network calls per step (hrm.net_calls) are recorded, so an
equal-compute view is steps x calls. CPU seconds: training only (batches, step, EMA) and evaluation separately.
Learning rate: for each N, phase 1 trains the TRM row (seed 0) at every --lr-grid value and picks the best final val
exact (ties: val token); phase 2 runs every row and seed at that lr (one shared lr, issue 19 item 5's cut: "use
TRM's, and tune only rows that diverge"). --tune-rows ROW ... (or 'flagged': the rows that the report's declared lr
check flags in the log, trm_course.ablations.LR_RULE / lr_flags: diverged at the shared lr, or final train exact
< 50% while TRM's is >= 90%, i.e. underfitting) adds each such row to phase 1: seed 0 at every grid lr (its run at
the shared lr, already in the log, is one of them: same key), its lr chosen on val by the same rule, and phase 2 runs
its seeds at its own lr; the other rows keep the shared one. 'flagged' is read again after phase 2 (a row flagged by
its phase-2 runs is tuned then). The report means each row over its seeds at its own lr only (row_lrs), shows a tuned
row's val exact at every lr tried, and lists a row's runs at other lrs (never averaged in). Records written since
--tune-rows carry 'lr_rule': 'own' (the row's lr comes from its own grid: TRM, tuned rows) or 'shared'; older
records have none and are read by their 'lr' alone. --plan prints the runs a sweep would still do, and runs nothing.

Resumable: each finished run appends one JSON line (the record header: command, commit, torch, CPU, threads, load,
and the fully resolved TrainConfig) to --log; a restart skips the runs already there, so a kill loses at most the
current run. The TRM row's final trainer checkpoints go to --models (default ~/.cache/trm-course/ablation_models/).

The rows, the data subsets, the log reader, the regime rule and the report live in trm_course.ablations (chapter 22
builds them and shows the recorded log with them); this script only runs the sweep.
"""
from __future__ import annotations
import argparse, contextlib, json, math, os, sys, tempfile, time
from pathlib import Path

os.environ.setdefault('TORCHINDUCTOR_COMPILE_THREADS', '1')   # compile in this process (one core)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))


from records import record_header, finish_header, config_record, load_average

from trm_course.ablations import (EXTRA_ROWS, SWEEP_DATA, SWEEP_RECIPE, SWEEP_TEST, SWEEP_VAL, choose_regime, lr_grid,  # noqa: F401
                                  plateau_step, read_sweep, sweep_config, sweep_data, sweep_eval_sets, sweep_report, sweep_rows,
                                  format_sweep_curves, lr_flags)

RECIPE = SWEEP_RECIPE       # the recipe sweep_config builds every run from (stored in each record's config)
BASE_DATA = SWEEP_DATA
VAL, TEST, TRAIN_SUBSET = SWEEP_VAL, SWEEP_TEST, 250
MODELS = Path(os.environ.get('TRM_ABLATION_MODELS', Path.home() / '.cache' / 'trm-course' / 'ablation_models'))


def rows():
    "Every row (trm_course.ablations.sweep_rows: the paper's Table 1, then EXTRA_ROWS, which separate confounds)."
    return sweep_rows()

# The rows a sweep runs unless --rows says otherwise. hrm_mlp_t is left out by default: it costs about 4 TRM runs
# (two 4-layer token-MLP networks, with the extra pass), and HRM's attention confound is also separated by the rows
# already there: TRM -> 'w/ self-attention' is attention's share, 'w/ self-attention' -> HRM the rest of HRM.
def default_rows():
    return [r for r in rows() if r != 'hrm_mlp_t']


# ---------------------------------------------------------------------------------------------------- data
train_data = sweep_data    # the first N puzzle groups of the base train split (trm_course.ablations)


def eval_sets(root: Path) -> dict:
    "{'train': (x, y), 'val': ..., 'test': ...} as int32 arrays (the split of the module's docstring)."
    return sweep_eval_sets(root, VAL, TEST, TRAIN_SUBSET)


# ---------------------------------------------------------------------------------------------------- one run
def run_config(row: str, seed: int, lr: float, steps: int, data: Path, out_dir: str, dtype: str = 'float32',
               compile: bool = False, spec: dict | None = None):
    """(TrainConfig, build, overrides): recipe sudoku6_cpu + the row's changes + this sweep's settings
    (trm_course.ablations.sweep_config, which chapters 22 and 22a build their runs with). `spec`: the row's definition
    ({'train': ..., 'switches': ...}, as in rows()) when it is not one of rows() (bench_less_is_more.py)."""
    return sweep_config(rows()[row] if spec is None else spec, seed, data, lr, steps, out_dir, dtype, compile)


def evaluate(tr, sets: dict, batch: int = 250) -> dict:
    "Exact and token accuracy of the EMA weights (raw weights without EMA) on each set, every example all N_sup steps."
    import torch
    from trm_course.core import IGNORE_LABEL
    model = tr.model
    ctx = tr.ema.swapped(model) if tr.ema is not None else contextlib.nullcontext()
    was = model.training
    model.eval()
    out = {}
    try:
        with torch.no_grad(), ctx:
            for name, (x, y) in sets.items():
                exact = tok = 0.0
                for i in range(0, len(x), batch):
                    yb = torch.from_numpy(y[i:i + batch])
                    b = {'inputs': torch.from_numpy(x[i:i + batch]), 'labels': yb.masked_fill(yb == 0, IGNORE_LABEL),
                         'puzzle_identifiers': torch.zeros(len(yb), dtype=torch.int32)}
                    _, outputs = tr.eval_batch({k: v.to(tr.device) for k, v in b.items()})
                    ok = outputs['preds'].cpu() == yb
                    exact += ok.all(1).sum().item(); tok += ok.float().mean(1).sum().item()
                out[name] = {'exact': exact / len(x), 'token': tok / len(x), 'count': len(x)}
    finally:
        model.train(was)
    return out


def run_key(row, seed, n_train, steps, lr, eval_every, dtype='float32', compile=False) -> str:
    return json.dumps([row, seed, n_train, steps, float(lr), eval_every, dtype, bool(compile)])


def run_one(row: str, seed: int, n_train: int, steps: int, lr: float, eval_every: int, header: dict,
            models: Path | None = MODELS, verbose: bool = True, dtype: str = 'float32', compile: bool = False,
            spec: dict | None = None) -> dict:
    "Train one run from scratch and return its record (the header, the config, the curve, the final numbers); `spec`: run_config's."
    from trm_course.hrm import net_calls
    spec = rows()[row] if spec is None else spec
    from trm_course.train import Trainer
    data = train_data(n_train)
    sets = eval_sets(data)
    tmp = tempfile.mkdtemp(prefix='trm-ablation-conv-')
    cfg, build, overrides = run_config(row, seed, lr, steps, data, tmp, dtype, compile, spec)
    t0, load0 = time.time(), load_average()
    tr = Trainer(cfg, verbose=False, build=build)
    net_H = getattr(tr.model.model, 'net_H', None)
    if cfg.compile and net_H is not None: net_H.compile()      # the trainer compiles `net` only
    rec = {'kind': 'run', 'key': run_key(row, seed, n_train, steps, lr, eval_every, dtype, compile), 'row': row, 'seed': seed,
           'n_train': n_train, 'n_aug': BASE_DATA['n_aug'], 'steps': steps, 'lr': lr, 'eval_every': eval_every,
           'dtype': dtype, 'compile': compile, 'switches': spec['switches'], 'config': config_record(cfg, RECIPE, overrides),
           'net_calls': net_calls(tr.model.model.cfg), 'params': sum(p.numel() for p in tr.model.parameters()),
           'header': header | {'load_run_start': load0}}
    curve, cpu_train, cpu_eval, diverged = [], 0.0, 0.0, False

    def batches():
        while True:
            got = 0
            for b in tr.batches():
                yield tr.check_batch(b)
                tr.batch_in_epoch += 1; got += 1
            if not got: raise ValueError(f'--n-train {n_train}: an epoch (one copy of each puzzle) has no full batch '
                                         f'of {cfg.global_batch_size}')
            tr.epoch += 1; tr.batch_in_epoch = 0

    it = batches()
    while tr.step < steps:
        c = time.process_time()
        m = tr.train_step(next(it))
        cpu_train += time.process_time() - c
        if tr.step % eval_every == 0 or tr.step == steps:
            c = time.process_time()
            loss = float(m.read()['lm_loss'])
            final = tr.step == steps
            ev = evaluate(tr, sets if final else {k: sets[k] for k in ('train', 'val')})
            cpu_eval += time.process_time() - c
            curve.append({'step': tr.step, 'epoch': tr.epoch, 'cpu_train': round(cpu_train, 2), 'loss': loss,
                          **{f'{s}_{k}': v[k] for s, v in ev.items() for k in ('exact', 'token')}})
            if verbose:
                p = curve[-1]
                print(f"  {row} seed {seed} N={n_train} lr={lr:g} step {tr.step} epoch {tr.epoch}: train "
                      f"{p['train_exact']:.3f} val {p['val_exact']:.3f} (token {p['val_token']:.3f})"
                      + (f" test {p['test_exact']:.3f}" if final else '') + f" lm_loss {loss:.3f} cpu {cpu_train:.0f}s"
                      f" eval cpu {cpu_eval:.0f}s", flush=True)
            if not math.isfinite(loss):
                diverged = True
                ev = evaluate(tr, sets)
                break
    rec |= {'curve': curve, 'final': ev, 'step_reached': tr.step, 'epochs': tr.epoch, 'diverged': diverged,
            'cpu_train_s': round(cpu_train, 2), 'cpu_eval_s': round(cpu_eval, 2), 'wall_s': round(time.time() - t0, 1),
            'load_run_end': load_average()}
    if models is not None and row == 'trm':
        models.mkdir(parents=True, exist_ok=True)
        path = models / f"trm_N{n_train}_steps{steps}_lr{lr:g}_seed{seed}_{header['commit']}.pt"
        tr.save(path)
        rec['model_path'] = str(path)
    return rec


# ---------------------------------------------------------------------------------------------------- the log
read_log = read_sweep      # finished runs of a log; a torn last line is skipped (trm_course.ablations)


def append(path: Path, rec: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'a') as f:
        f.write(json.dumps(rec) + '\n'); f.flush(); os.fsync(f.fileno())


def best_lr(runs: list[dict], n_train: int, steps: int, grid, row: str = 'trm', **same) -> float | None:
    "The grid lr whose seed-0 run of `row` (default TRM) has the best final val exact (ties: val token); None until all are done."
    got = lr_grid(runs, n_train, steps, row=row, **same)
    if any(float(g) not in got for g in grid): return None
    return max(grid, key=lambda g: got[float(g)])


def regime(a, verbose: bool = True) -> dict:
    "--choose-from: set a.n_train and a.steps from the pilot (choose_regime); the header's extra fields."
    if not getattr(a, 'choose_from', None): return {}
    chosen = choose_regime(read_log(Path(a.choose_from)))
    a.n_train, a.steps = [chosen['n_train']], chosen['steps']
    if verbose: print(f'# regime chosen from the pilot {a.choose_from}: {json.dumps(chosen)}', flush=True)
    return {'regime': chosen}


def sweep_rows_of(a) -> list[str]:
    "The rows this sweep runs (--rows, default default_rows()); --tune-rows names must be among them."
    todo = a.rows or default_rows()
    for rid in todo + [t for t in a.tune_rows if t != 'flagged']:
        if rid not in rows(): raise SystemExit(f'unknown row {rid!r}; rows: {", ".join(rows())} (--tune-rows: also flagged)')
    missing = [t for t in a.tune_rows if t != 'flagged' and t not in todo]
    if missing: raise SystemExit(f'--tune-rows {" ".join(missing)}: not among the rows this sweep runs (add to --rows)')
    return todo


def tuned_rows(a, runs: list[dict], n: int, todo_rows: list[str]) -> list[str]:
    "The rows besides TRM with their own lr grid at N=n: --tune-rows, 'flagged' = the rows lr_flags flags in `runs`."
    out = []
    for t in a.tune_rows:
        out += [r for r in lr_flags(runs, n, a.steps) if r in todo_rows] if t == 'flagged' else [t]
    return [r for r in dict.fromkeys(out) if r != 'trm']


def row_lr(a, runs: list[dict], n: int, row: str, tuned: list[str]) -> float | None:
    "The lr phase 2 runs `row` at: its own grid's best on val if tuned, else TRM's; None until that grid is done."
    same = dict(eval_every=a.eval_every, dtype=a.dtype, compile=a.compile)
    return best_lr(runs, n, a.steps, [float(g) for g in a.lr_grid], row=row if row in tuned else 'trm', **same)


def plan(a, runs: list[dict]) -> list[dict]:
    """The runs a sweep with arguments `a` would still do, in order, given the finished `runs` of its log (call after
    regime(a)): phase 1 (seed 0 at every grid lr: TRM, then each tuned row), phase 2 (every row and seed at its lr).
    'lr' None: chosen on val once the row's grid is done. Rows that 'flagged' adds only after phase 2 are not listed."""
    todo_rows, done, out = sweep_rows_of(a), {r['key'] for r in runs}, []
    def add(phase, row, seed, n, lr, tuned):
        if lr is None and seed == 0 and (row == 'trm' or row in tuned): return      # one of its grid's runs
        if lr is None or run_key(row, seed, n, a.steps, lr, a.eval_every, a.dtype, a.compile) not in done:
            out.append({'phase': phase, 'row': row, 'seed': seed, 'n_train': n, 'steps': a.steps, 'lr': lr,
                        'lr_rule': 'own' if row == 'trm' or row in tuned else 'shared'})
    for n in a.n_train:
        tuned = tuned_rows(a, runs, n, todo_rows)
        for row in ['trm'] + tuned:
            for lr in a.lr_grid: add(1, row, 0, n, float(lr), tuned)
        lrs = {row: row_lr(a, runs, n, row, tuned) for row in todo_rows}
        for seed in a.seeds:
            for row in todo_rows: add(2, row, seed, n, lrs[row], tuned)
    return out


def format_plan(a, runs: list[dict], todo: list[dict]) -> str:
    "The plan, one line a run, under a header that names the regime, the grid and the tuned rows."
    todo_rows, lines = sweep_rows_of(a), []
    for n in a.n_train:
        tuned = tuned_rows(a, runs, n, todo_rows)
        lines.append(f"# plan: N={n}, {a.steps} steps, lr grid {' '.join(f'{float(g):g}' for g in a.lr_grid)}; rows "
                     f"{' '.join(todo_rows)}; seeds {' '.join(map(str, a.seeds))}; own lr grid (seed 0): trm"
                     + ''.join(f', {r}' for r in tuned) + ('' if tuned else ' only')
                     + (f"; --tune-rows {' '.join(a.tune_rows)}" if a.tune_rows else ''))
        for row in ['trm'] + tuned:
            lr = row_lr(a, runs, n, row, tuned)
            lines.append(f"#   {row}: lr " + (f'{lr:g} (its grid is done, best val exact)' if lr is not None else
                                                'chosen on val once its grid is done'))
        for t in todo:
            if t['n_train'] != n: continue
            lr = f"{t['lr']:g}" if t['lr'] is not None else f"best of {t['row'] if t['lr_rule'] == 'own' else 'trm'}'s grid on val"
            lines.append(f"phase {t['phase']}: {t['row']} seed {t['seed']} N={n} steps {t['steps']} lr {lr} ({t['lr_rule']} lr)")
    lines.append(f"# {len(todo)} run(s) to do; {len(runs)} finished run(s) in the log")
    return '\n'.join(lines)


def sweep(a, runner=run_one) -> list[dict]:
    """Run everything not yet in the log (phase 1: the lr grid at seed 0 on TRM and on each --tune-rows row; phase 2:
    every row and seed, each at its row's lr; with 'flagged', rows flagged by phase 2's runs are tuned after it)."""
    log = Path(a.log)
    extra = regime(a)
    header = record_header(seeds=a.seeds, scratch=a.scratch, sweep='bench_ablations_converged', **extra)
    todo_rows = sweep_rows_of(a)
    done = {r['key'] for r in read_log(log)}
    tuned = []

    def do(row, seed, n, lr):
        key = run_key(row, seed, n, a.steps, lr, a.eval_every, a.dtype, a.compile)
        if key in done: return
        print(f'# run {row} seed {seed} N={n} steps {a.steps} lr {lr:g}', flush=True)
        try:
            rec = runner(row, seed, n, a.steps, lr, a.eval_every, header, models=None if a.no_models else Path(a.models),
                         dtype=a.dtype, compile=a.compile)
        except Exception as e:          # one broken row does not stop the sweep; a restart tries it again
            import traceback; traceback.print_exc()
            append(log, {'kind': 'error', 'key': key, 'row': row, 'seed': seed, 'error': f'{type(e).__name__}: {e}',
                         'header': finish_header(header)})
            return
        rec['key'], rec['header'] = key, finish_header(rec['header'])
        rec['lr_rule'] = 'own' if row == 'trm' or row in tuned else 'shared'
        append(log, rec); done.add(key)

    for n in a.n_train:
        tuned.clear()
        first = True
        while True:                           # once; with 'flagged', again while phase 2 flags rows not yet tuned
            new = [r for r in tuned_rows(a, read_log(log), n, todo_rows) if r not in tuned]
            if not first and not new: break
            tuned += new
            for row in (['trm'] if first else []) + new:                  # phase 1: the lr grid at seed 0
                for lr in a.lr_grid: do(row, 0, n, lr)
            first = False
            runs = read_log(log)
            lrs = {row: row_lr(a, runs, n, row, tuned) for row in ['trm'] + todo_rows}
            if lrs['trm'] is None:
                print(f"# N={n}: TRM's lr grid is not complete (a run failed): no phase 2", flush=True); break
            for row in ['trm'] + tuned:
                print(f'# N={n}: {row}: ' + (f'lr {lrs[row]:g} chosen on val from {a.lr_grid}' if lrs[row] is not None
                                             else 'its lr grid is not complete (a run failed): no phase 2'), flush=True)
            for seed in a.seeds:                                          # phase 2, seed by seed
                for row in todo_rows:
                    if lrs[row] is not None: do(row, seed, n, lrs[row])
            if 'flagged' not in a.tune_rows: break
    return read_log(log)


# ---------------------------------------------------------------------------------------------------- the report
report = sweep_report              # the tables per regime (trm_course.ablations, where chapter 22 builds them)
curve_report = format_sweep_curves


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rows', nargs='+', default=None, help='default: every row')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--n-train', nargs='+', type=int, default=[300], help='base training puzzles (each x21 copies)')
    p.add_argument('--steps', type=int, default=4000)
    p.add_argument('--lr-grid', nargs='+', type=float, default=[2e-3])
    p.add_argument('--eval-every', type=int, default=500)
    p.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'],
                   help='forward dtype (bfloat16 is fast only on CPUs with native bf16: AVX512-BF16/AMX)')
    p.add_argument('--compile', action='store_true', help='torch.compile the network(s)')
    p.add_argument('--log', default=str(ROOT / 'benchmarks' / 'results' / 'ablations_converged.jsonl'))
    p.add_argument('--models', default=str(MODELS), help='where the TRM row saves its final checkpoints')
    p.add_argument('--no-models', action='store_true', help='do not save checkpoints')
    p.add_argument('--scratch', action='store_true', help='allow a dirty tree; the output is then not a record')
    p.add_argument('--choose-from', default=None, help='a pilot log: choose --n-train and --steps from it (choose_regime)')
    p.add_argument('--tune-rows', nargs='+', default=[], metavar='ROW',
                   help="rows that get their own lr grid (seed 0 at every --lr-grid lr, chosen on val; their seeds then "
                        "run at it); 'flagged' = the rows the report's lr check flags (LR_RULE: diverged, or underfitting "
                        "while TRM fits its training set)")
    p.add_argument('--plan', action='store_true', help='only print the runs this sweep would still do (runs nothing)')
    p.add_argument('--report', action='store_true', help='only print the table (and the curves) from --log')
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    if a.report:
        runs = read_log(Path(a.log))
        print(report(runs)); print(); print(curve_report(runs)); return 0
    if a.plan:
        regime(a)
        runs = read_log(Path(a.log))
        print(format_plan(a, runs, plan(a, runs))); return 0
    import torch
    torch.set_num_threads(1)
    runs = sweep(a)
    print(report(runs)); print(); print(curve_report(runs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
