#!/usr/bin/env python
"""CPU seconds of training until held-out exact accuracy reaches a target (issue 18), resumable.

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_time_to_accuracy.py --tasks sudoku6 --variants today recipe --seeds 0 1 2
    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_time_to_accuracy.py --tasks sudoku6 --variants today bs16 --seeds 0 --targets 0.9
    .venv/bin/python benchmarks/bench_time_to_accuracy.py --report          # rewrite the .txt summary from the log only

What is measured. One run = one (variant, task, seed): a fresh `Trainer` (trm_course.train) for the variant's config,
trained with `fit` and two callbacks of this script: `EvalEveryExamples` evaluates the EMA weights (all N_sup steps of
the final model) on a fixed held-out set every `--eval-examples` training examples (batch rows trained, i.e. step x
global batch size, so the evaluation points do not move when the batch size does), and stops the run once the last
target is reached or after `--max-cpu` CPU seconds of training. The clock is the Trainer's own `train_cpu_seconds`:
this process's CPU time (`time.process_time`, 1 torch thread) over everything in the training loop, the batch loader
(data preparation) and the step (forward, backward, optimizer, EMA) included; evaluations and callbacks excluded.
torch.compile runs inside the first training step, so its compile time is counted (inductor compiles in this process:
TORCHINDUCTOR_COMPILE_THREADS=1); recompilations that evaluation triggers are not.
Runs are interleaved: for each seed, every task, every variant (baseline and new side by side in time).

Resumable: every finished run appends one JSON line to --log (default benchmarks/results/time_to_accuracy.jsonl);
a restart skips the (variant, task, seed, targets, eval) runs already there (that reached every target, or
stopped at a CPU cap no lower than --max-cpu), so a kill loses at most the current run.
Every run is a record (benchmarks/records.py): `header` (command, commit of a clean tree, torch, CPU, threads, seeds,
load average at start and end; a dirty tree is refused unless --scratch, whose runs are then not records) and `config`
(the task's recipe, the overrides this script applied to it: the run's folders, the pinned `today` fields and the
variant's changes, and the resolved TrainConfig, which tests/test_records.py compares with today's recipe), plus the
variant's changes, the training schedule and the evaluation points.
`--report` (also run at the end) writes the median / min / max CPU seconds to each target per (task, variant) to
the .txt next to the log.

Variants (VARIANTS below) are changes to a base that this script pins (`today`: the recipes as they were before
issue 18), so a later change to trm_course.recipes does not move the baseline; `recipe` is the recipe as it is now.
"""
from __future__ import annotations
import argparse, dataclasses, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

os.environ.setdefault('TORCHINDUCTOR_COMPILE_THREADS', '1')   # compile in this process: its CPU time is counted
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))

import torch

from trm_course.recipes import get_recipe
from trm_course.train import Trainer, Callback
from records import config_record, finish_header, load_average, record_header

LOG = ROOT / 'benchmarks' / 'results' / 'time_to_accuracy.jsonl'

# The data of each task (fixed: data seed 0 whatever the training seed) and its fixed held-out set (the first
# `held_out` test examples, evaluated in batches of `eval_batch`). Targets: held-out exact accuracy.
TASKS = {
    'sudoku6': dict(recipe='sudoku6_cpu', data=('sudoku', dict(size=6, n_train=1000, n_aug=20, n_test=1000, seed=0)),
                    held_out=500, eval_batch=250, targets=(0.9, 0.98), eval_examples=3200, max_cpu=600.0),
    'sudoku4': dict(recipe='sudoku4_cpu', data=('sudoku', dict(size=4, n_train=1000, n_aug=7, n_test=500, seed=0)),
                    held_out=500, eval_batch=250, targets=(0.99,), eval_examples=3200, max_cpu=300.0),
    'maze5': dict(recipe='maze_small_cpu', data=('maze', {}), held_out=500, eval_batch=250, targets=(0.9,),
                  eval_examples=3200, max_cpu=600.0),
}

# The recipes as they were before issue 18 (trm_course.recipes at 49d761b), every field a variant may change pinned
# (the depth curriculum, chapter 15, did not exist then: off; every CPU recipe was float32 then).
_BEFORE_ISSUE_18 = dict(curriculum_T1_steps=0, curriculum_n1_steps=0, dtype='float32')
TODAY = {
    'sudoku6_cpu': dict(global_batch_size=32, lr=2e-3, warmup_steps=50, weight_decay=0.1, ema_rate=0.99, compile=False,
                        beta1=0.9, beta2=0.95, lr_min_ratio=1.0, **_BEFORE_ISSUE_18, **{'model.N_sup': 4, 'model.T': 2, 'model.n': 2}),
    'sudoku4_cpu': dict(global_batch_size=64, lr=1e-3, warmup_steps=100, weight_decay=0.1, ema_rate=0.99, compile=False,
                        beta1=0.9, beta2=0.95, lr_min_ratio=1.0, **_BEFORE_ISSUE_18, **{'model.N_sup': 4, 'model.T': 2, 'model.n': 2}),
    'maze_small_cpu': dict(global_batch_size=32, lr=2e-3, warmup_steps=100, weight_decay=1.0, ema_rate=0.99, compile=False,
                           beta1=0.9, beta2=0.95, lr_min_ratio=1.0, **_BEFORE_ISSUE_18, **{'model.N_sup': 4, 'model.T': 2, 'model.n': 2}),
}

# name -> (base, changes). base 'today' = TODAY[recipe]; 'recipe' = get_recipe(recipe) as it is now. Changes are
# TrainConfig keys, or 'schedule' (see TrainSchedule: training-only N_sup / depth by step, the final model evaluated).
VARIANTS = {
    'today': ('today', {}),
    'recipe': ('recipe', {}),
    'compile': ('today', dict(compile=True)),
    'bs16': ('today', dict(global_batch_size=16)),
    'bs16_lr3e-3': ('today', dict(global_batch_size=16, lr=3e-3)),
    'bs64_lr4e-3': ('today', dict(global_batch_size=64, lr=4e-3)),
    'lr3e-3': ('today', dict(lr=3e-3)),
    'lr4e-3': ('today', dict(lr=4e-3)),
    'lr1e-3': ('today', dict(lr=1e-3)),
    'warmup0': ('today', dict(warmup_steps=0)),
    'warmup200': ('today', dict(warmup_steps=200)),
    'ema0.95': ('today', dict(ema_rate=0.95)),
    'ema0.98': ('today', dict(ema_rate=0.98)),
    'ema0.995': ('today', dict(ema_rate=0.995)),
    'wd0': ('today', dict(weight_decay=0.0)),
    'wd1': ('today', dict(weight_decay=1.0)),
    'nsup2': ('today', dict(schedule={'N_sup': [[0, 2]]})),
    'nsup_ramp': ('today', dict(schedule={'N_sup': [[0, 1], [300, 2], [600, 4]]})),
    'depth_ramp': ('today', dict(schedule={'T': [[0, 1], [400, 2]], 'n': [[0, 1], [200, 2]]})),
    'beta2_0.99': ('today', dict(beta2=0.99)),
    'lrcos1600': ('today', dict(lr_min_ratio=0.1, max_steps=1600)),
    'ema0.995_lrcos1600': ('today', dict(ema_rate=0.995, lr_min_ratio=0.1, max_steps=1600)),
    'depth_ramp_lrcos1600': ('today', dict(lr_min_ratio=0.1, max_steps=1600,
                                           schedule={'T': [[0, 1], [400, 2]], 'n': [[0, 1], [200, 2]]})),
    'depth_long': ('today', dict(schedule={'T': [[0, 1], [800, 2]], 'n': [[0, 1], [400, 2]]})),
    # bfloat16 forward (fp32 weights, as the reference runs on GPUs): fast only on CPUs with native bf16 matrix units
    # (AVX512-BF16 / AMX); evaluation then also runs the bf16 forward of the same model
    'bf16': ('today', dict(dtype='bfloat16')),
    'bf16_compile': ('today', dict(dtype='bfloat16', compile=True)),
    'depth_long_ema0.95': ('today', dict(ema_rate=0.95, schedule={'T': [[0, 1], [800, 2]], 'n': [[0, 1], [400, 2]]})),
    # the two schedules that each gave the most on the seed-0 screen of 2026-12-07 (time_to_accuracy_screen_dec7.jsonl), together: shallow
    # recursion (T=1 to step 800, n=1 to step 400) and fewer supervision steps early (N_sup 1 -> 2 at 300 -> 4 at 600)
    'depth_long_nsup_ramp': ('today', dict(schedule={'T': [[0, 1], [800, 2]], 'n': [[0, 1], [400, 2]],
                                                     'N_sup': [[0, 1], [300, 2], [600, 4]]})),
    # for the same-run comparison of session 10 (2026-12-07): the depth curriculum with compile, with bf16 + compile,
    # and a longer shallow phase (T=1 to step 1000, n=1 to step 600)
    'depth_long_compile': ('today', dict(compile=True, schedule={'T': [[0, 1], [800, 2]], 'n': [[0, 1], [400, 2]]})),
    'depth_long_bf16_compile': ('today', dict(dtype='bfloat16', compile=True,
                                              schedule={'T': [[0, 1], [800, 2]], 'n': [[0, 1], [400, 2]]})),
    'depth_longer': ('today', dict(schedule={'T': [[0, 1], [1000, 2]], 'n': [[0, 1], [600, 2]]})),
    # longer still, after depth_longer's seed 0 (86.6% held-out exact at step 1000 while still training at T=1):
    # T=1 to step 1200 with n=1 to 600, and T=1, n=1 (2 network calls a step instead of 6) to step 1200
    'depth_T1200_n600': ('today', dict(schedule={'T': [[0, 1], [1200, 2]], 'n': [[0, 1], [600, 2]]})),
    'depth_shallow1200': ('today', dict(schedule={'T': [[0, 1], [1200, 2]], 'n': [[0, 1], [1200, 2]]})),
    # for sudoku4 (99% after ~420 steps of batch 64): depth_long's proportions, T=1 to step 250, n=1 to step 125;
    # for maze5, whose exact accuracy plateaus at ~87% from step ~500, depth_ramp (T=1 to 400, n=1 to 200) is the analogue
    'depth_short': ('today', dict(schedule={'T': [[0, 1], [250, 2]], 'n': [[0, 1], [125, 2]]})),
    # the recipe as it is now with the override chapter 14a gives for CPUs with bfloat16 matrix units
    # (`trm-course train sudoku6_cpu dtype=auto compile=true`; pinned to bfloat16 here so that it means the same everywhere)
    'recipe_bf16_compile': ('recipe', dict(dtype='bfloat16', compile=True)),
    # the same without compile (no C++ compiler needed): what `dtype=auto` alone gives on a CPU with bf16 units
    'recipe_bf16': ('recipe', dict(dtype='bfloat16')),
    # session 11: can float32 reach the issue's 2x on 6x6? (today's recipe = T=1, n=1 to step 1,200 reaches 90% near
    # step 1,250, so a longer shallow phase, or fewer examples to the target, are what is left)
    'shallow1600': ('recipe', dict(curriculum_T1_steps=1600, curriculum_n1_steps=1600)),
    'recipe_lr3e-3': ('recipe', dict(lr=3e-3)),
    # session 12: sudoku6_cpu takes dtype='auto' (bfloat16 on a CPU with bf16 matrix units); this is what the recipe
    # gives on a CPU without them, pinned so that it means the same everywhere
    'recipe_float32': ('recipe', dict(dtype='float32')),
    'recipe_bs64_lr4e-3': ('recipe', dict(global_batch_size=64, lr=4e-3, curriculum_T1_steps=600, curriculum_n1_steps=600)),
}


def git_describe() -> str:
    try: return subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError: return 'unknown'


def task_data(task: str) -> Path:
    kind, kw = TASKS[task]['data']
    if kind == 'sudoku':
        from trm_course.sudoku import sudoku_data
        return sudoku_data(**kw)
    from trm_course.maze import maze_small_data
    return maze_small_data(**kw)


def parse_schedule(spec) -> dict:
    "{'N_sup'|'T'|'n': [[step, value], ...]} checked: known keys, first step 0, steps increasing, positive integers."
    if not spec: return {}
    if not isinstance(spec, dict): raise ValueError(f'schedule {spec!r}: expected a dict of N_sup/T/n -> [[step, value], ...]')
    out = {}
    for k, pts in spec.items():
        if k not in ('N_sup', 'T', 'n'): raise ValueError(f'schedule key {k!r}: expected N_sup, T or n')
        pts = [tuple(int(v) for v in p) for p in pts]
        if not pts or pts[0][0] != 0 or any(b[0] <= a[0] for a, b in zip(pts, pts[1:])) or any(v < 1 for _, v in pts):
            raise ValueError(f'schedule {k}={spec[k]!r}: expected [[0, v0], [s1, v1], ...] with increasing steps, values >= 1')
        out[k] = pts
    return out


class TrainSchedule(Callback):
    """Training-only N_sup and recursion depth (T, n) by step: each training step runs with the values of the
    schedule at that step; the model outside training steps (evaluations, checkpoints) is the final one."""
    def __init__(self, schedule: dict): self.schedule = parse_schedule(schedule)
    def value(self, key: str, step: int, final: int) -> int:
        pts = self.schedule.get(key)
        return final if not pts else [v for s, v in pts if s <= step][-1]
    def on_fit_start(self, tr):
        if not self.schedule: return
        self.saved = tr.__dict__.get('train_step')      # an instance's own train_step (if any) comes back at the end
        inner, trm, final_cfg = tr.train_step, tr.model.model, tr.model.model.cfg
        def train_step(batch):     # N_sup, T and n all live in the model's config: one swap, undone after the step
            s = tr.step            # the step about to run (0-based)
            trm.cfg = dataclasses.replace(final_cfg, T=self.value('T', s, final_cfg.T), n=self.value('n', s, final_cfg.n),
                                          N_sup=self.value('N_sup', s, final_cfg.N_sup))
            try: return inner(batch)
            finally: trm.cfg = final_cfg
        tr.train_step = train_step
    def on_fit_end(self, tr):
        if not self.schedule: return
        if self.saved is None: tr.__dict__.pop('train_step', None)
        else: tr.train_step = self.saved


class EvalEveryExamples(Callback):
    "Evaluate every `every` training examples (step x global batch); stop at the last target or after `max_cpu` CPU-s."
    def __init__(self, every: int, targets, max_examples: int, max_cpu: float):
        self.every, self.targets, self.max_examples, self.max_cpu = every, sorted(targets), max_examples, max_cpu
        self.next, self.curve, self.hit = every, [], {}
    def _eval(self, tr):
        res = tr.evaluate(max_examples=self.max_examples)
        ex = tr.step * tr.cfg.global_batch_size
        r = dict(step=tr.step, examples=ex, cpu_s=round(tr.train_cpu_seconds, 2), wall_s=round(tr.train_seconds, 2),
                 exact=res['exact_accuracy'], token=res['accuracy'], count=res['count'])
        self.curve.append(r)
        for t in self.targets:
            if t not in self.hit and r['exact'] >= t: self.hit[t] = r
        print(f"  step {r['step']:>5}  ex {ex:>7}  cpu {r['cpu_s']:7.1f}s  exact {r['exact']:6.1%}  token {r['token']:6.1%}", flush=True)
    def on_step_end(self, tr, metrics):
        if tr.step * tr.cfg.global_batch_size >= self.next:
            while self.next <= tr.step * tr.cfg.global_batch_size: self.next += self.every
            self._eval(tr)
            if len(self.hit) == len(self.targets): tr.stop('every target reached')
        if not tr.should_stop and tr.train_cpu_seconds >= self.max_cpu: tr.stop(f'CPU cap {self.max_cpu} s')


def make_config(variant: str, task: str, seed: int, data: Path, out_dir: str):
    "(TrainConfig, training schedule for TrainSchedule, overrides): the task's recipe + `overrides` = the config."
    spec = TASKS[task]
    base, changes = VARIANTS[variant]
    changes = dict(changes)
    schedule = parse_schedule(changes.pop('schedule', {}))
    pinned = TODAY[spec['recipe']] if base == 'today' else {}
    run = dict(data=str(data), seed=seed, out_dir=out_dir, progress=False, eval_every=None, eval_interval=None,
               eval_batch_size=spec['eval_batch'], checkpoint_every=None, device='cpu')
    overrides = {**run, **pinned, **changes}
    return get_recipe(spec['recipe']).replace(**overrides), schedule, overrides


def run_key(r: dict) -> tuple:
    "What makes two runs the same run: variant, task, seed, targets, evaluation interval and set, torch threads."
    return (r['variant'], r['task'], r['seed'], tuple(r['targets']), r['eval_examples'], r['held_out'],
            r.get('header', {}).get('threads', 1))


def finished(records: list[dict], key: tuple, max_cpu: float) -> bool:
    "Is the run `key` in the log: every target reached, or stopped at a CPU cap at least `max_cpu`?"
    return any(run_key(r) == key and (all(r['reached'].values()) or r['max_cpu'] >= max_cpu)
               for r in records if r.get('kind') == 'run')


def one_run(variant: str, task: str, seed: int, args) -> dict:
    spec = TASKS[task]
    data = task_data(task)
    out = tempfile.mkdtemp(prefix='trm-tta-')
    cfg, schedule, overrides = make_config(variant, task, seed, data, out)
    targets = tuple(args.targets or spec['targets'])
    every, max_cpu = args.eval_examples or spec['eval_examples'], args.max_cpu or spec['max_cpu']
    load0, t0, head = os.getloadavg(), time.time(), args.header | {'load_run_start': load_average()}
    print(f'== {variant} {task} seed {seed}: targets {targets}, eval every {every} examples, cap {max_cpu} CPU-s, load {load0[0]:.2f}', flush=True)
    tr = Trainer(cfg, verbose=False)
    ev = EvalEveryExamples(every, targets, spec['held_out'], max_cpu)
    tr.fit(callbacks=[TrainSchedule(schedule), ev])
    rec = dict(kind='run', variant=variant, task=task, seed=seed, targets=list(targets), eval_examples=every,
               held_out=spec['held_out'], max_cpu=max_cpu,
               reached={str(t): ev.hit.get(t) for t in targets},
               forward_dtype=tr.model_cfg.forward_dtype,      # what the run's dtype resolved to on this machine
               steps=tr.step, cpu_s=round(tr.train_cpu_seconds, 2), wall_s=round(tr.train_seconds, 2),
               run_wall_s=round(time.time() - t0, 1), stop=tr.stop_reason, curve=ev.curve,
               changes={k: v for k, v in VARIANTS[variant][1].items()}, base=VARIANTS[variant][0], schedule=schedule,
               data=str(Path(data).name), load_start=round(load0[0], 2), load_end=round(os.getloadavg()[0], 2),
               header=finish_header(head), config=config_record(cfg, spec['recipe'], overrides))
    return rec


def profile_steps(variant: str, task: str, out: Path, warmup: int = 20, steps: int = 5) -> str:
    "A torch.profiler table (CPU time by operator, self time sorted) of `steps` training steps after `warmup` steps."
    from torch.profiler import profile, ProfilerActivity
    cfg, schedule, _ = make_config(variant, task, 0, task_data(task), tempfile.mkdtemp(prefix='trm-tta-prof-'))
    tr = Trainer(cfg, verbose=False)
    tr.fit(steps=warmup, callbacks=[])
    c0 = time.process_time()
    tr.fit(steps=steps, callbacks=[])
    plain = (time.process_time() - c0) / steps
    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        tr.fit(steps=steps, callbacks=[])
    table = prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=30)
    head = (f'# bench_time_to_accuracy.py --profile {variant} {task}: torch.profiler, {steps} training steps after {warmup} '
            f'warm-up steps (Trainer.fit: loader + train_step), 1 thread; {plain * 1000:.1f} ms CPU per step unprofiled; '
            f'torch {torch.__version__}, commit {git_describe()}, load {os.getloadavg()[0]:.1f}, '
            f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}\n# config: {json.dumps(cfg.to_dict(flat=True))}\n')
    out.write_text(head + table + '\n')
    return head + table


def read_log(path: Path) -> list[dict]:
    if not path.exists(): return []
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        if not line.strip(): continue
        try: out.append(json.loads(line))
        except json.JSONDecodeError: print(f'{path}:{i + 1}: an unreadable line (a run killed while writing?) is skipped', flush=True)
    return out


def append_record(path: Path, rec: dict) -> None:
    "Append one JSON line (after a newline if a killed run left the file without one)."
    torn = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b'\n')
    with open(path, 'a') as f:
        f.write(('\n' if torn else '') + json.dumps(rec) + '\n')
        f.flush(); os.fsync(f.fileno())


def summarise(records: list[dict]) -> str:
    "One line per (task, variant, targets set): median [min..max] CPU-s (and steps) to each target over its seeds."
    groups: dict = {}
    for r in records:
        if r.get('kind') != 'run': continue
        threads = r.get('header', {}).get('threads', 1)
        groups.setdefault((r['task'], r['variant'], threads, tuple(r['targets']), r['eval_examples'], r['held_out']), []).append(r)
    lines, walls = [], any(k[2] != 1 for k in groups)     # several thread counts: their wall times too
    for (task, variant, threads, targets, every, held), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r['seed'])
        cells = []
        for t in targets:
            hits = [r['reached'][str(t)] for r in rs]
            got = [h['cpu_s'] for h in hits if h]
            per = ' '.join(f"{h['cpu_s']:.0f}" if h else f">{r['cpu_s']:.0f}" for h, r in zip(hits, rs))
            med = f'{statistics.median(got):.0f}' if len(got) == len(rs) else 'n/a'
            steps = '/'.join(str(h['step']) if h else '-' for h in hits)
            wall = f' (wall {statistics.median(h["wall_s"] for h in hits):.0f} s)' if walls and len(got) == len(rs) else ''
            cells.append(f'{t:.0%}: median {med} CPU-s [{per}]{wall} steps {steps}')
        loads = f"load {min(r['load_start'] for r in rs):.1f}-{max(r['load_end'] for r in rs):.1f}"
        if threads != 1: variant = f'{variant} x{threads}'   # torch threads: a wall-time comparison, the CPU-s add up
        lines.append(f"{task:<8} {variant:<14} seeds {','.join(str(r['seed']) for r in rs):<7} " + '; '.join(cells)
                     + f'  ({loads}; eval every {every} ex on {held})')
    return '\n'.join(lines)


def write_report(path: Path) -> str:
    recs = read_log(path)
    head = [f'# bench_time_to_accuracy.py summary of {path.name} ({len(recs)} records), written '
            f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}',
            '# CPU-s = training CPU seconds (1 torch thread, process_time; evaluations excluded) until held-out exact',
            '# accuracy first >= target at an evaluation; [per seed, >x = not reached within x CPU-s]; full records in the .jsonl.']
    text = '\n'.join(head) + '\n' + summarise(recs) + '\n'
    txt = path.with_suffix('.txt') if path.suffix == '.jsonl' else Path(str(path) + '.txt')
    extra = txt.with_name(txt.stem + '_notes.txt')
    if extra.exists(): text += '\n' + extra.read_text()
    txt.write_text(text)
    return text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tasks', nargs='+', default=['sudoku6'], choices=list(TASKS))
    ap.add_argument('--variants', nargs='+', default=['today', 'recipe'], help=f'from {", ".join(VARIANTS)}')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    ap.add_argument('--targets', nargs='+', type=float, default=None, help="default: the task's (sudoku6: 0.9 0.98)")
    ap.add_argument('--eval-examples', type=int, default=None, help='evaluate every this many training examples (default 3200)')
    ap.add_argument('--max-cpu', type=float, default=None, help='stop a run after this many training CPU-s (default: per task)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--log', default=str(LOG))
    ap.add_argument('--report', action='store_true', help='only rewrite the summary from the log')
    ap.add_argument('--scratch', action='store_true', help='allow a dirty tree; the output is then not a record')
    ap.add_argument('--profile', action='store_true', help='only write a torch.profiler table of a few steps of each '
                    'variant x task to benchmarks/results/profile_<task>_<variant>.txt')
    args = ap.parse_args(argv)
    log = Path(args.log)
    if args.report:
        print(write_report(log)); return
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad: raise SystemExit(f'unknown variant(s) {bad}; known: {", ".join(VARIANTS)}')
    torch.set_num_threads(args.threads)
    if args.profile:
        for task in args.tasks:
            for v in args.variants: print(profile_steps(v, task, ROOT / 'benchmarks' / 'results' / f'profile_{task}_{v}.txt'))
        return
    # benchmarks/records.py's header (command, clean commit, torch, CPU, threads, seeds, load); refuses a dirty tree
    # unless --scratch (then the runs are marked scratch: not records)
    command = (f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "?")} python benchmarks/bench_time_to_accuracy.py '
               + ' '.join(argv if argv is not None else sys.argv[1:]))
    args.header = record_header(seeds=args.seeds, scratch=args.scratch, bench='bench_time_to_accuracy', command=command,
                                tasks=args.tasks, variants=args.variants)
    log.parent.mkdir(parents=True, exist_ok=True)
    for task in args.tasks: task_data(task)            # build (or find) the data before any timed run
    for seed in args.seeds:
        for task in args.tasks:
            for variant in args.variants:
                spec = TASKS[task]
                key = (variant, task, seed, tuple(args.targets or spec['targets']), args.eval_examples or spec['eval_examples'],
                       spec['held_out'], args.threads)
                if finished(read_log(log), key, args.max_cpu or spec['max_cpu']):
                    print(f'== {variant} {task} seed {seed}: in the log already, skipped', flush=True); continue
                rec = one_run(variant, task, seed, args)
                append_record(log, rec)
                print(f"   -> {rec['reached']}", flush=True)
    print(write_report(log))


if __name__ == '__main__':
    main()
