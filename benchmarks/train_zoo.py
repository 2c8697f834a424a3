"""Train the models of the course's model zoo (chapter 24, `trm_course.zoo`) and write them as package data:
`<name>.pt` (a plain state_dict of the TRM, tensors only: EMA weights where the run keeps an EMA), `<name>.test.npz`
(the held-out set it is scored on), `<name>.json` (its model card: data, recipe and the full resolved configuration,
command, commit, CPU time, held-out accuracy, convergence check, SHA-256 of both files) and `<name>.md` (the card
rendered as text).

    OMP_NUM_THREADS=1 python benchmarks/train_zoo.py                # every model not shipped yet
    OMP_NUM_THREADS=1 python benchmarks/train_zoo.py sudoku6_cpu --force   # retrain one (e.g. after a recipe change)

Resumable: a model whose card exists is skipped (unless --force); a recipe model's run keeps its checkpoints in
`--runs/<name>` and continues from the latest one (`Trainer` resume, chapter 16), its CPU time carried on from the log.
Recipe models train until converged: held-out exact accuracy (EMA weights, all N_sup steps) improved by less than
half a point over the last fifth of training, checked at every evaluation from `min_steps` on (or `max_steps`,
which the card then reports as not converged). CPU time is this process's CPU time of the training steps
(`Trainer.train_cpu_seconds`; evaluations excluded), with one torch thread.
"""
from __future__ import annotations
import argparse, dataclasses, datetime, hashlib, json, os, platform, shlex, shutil, subprocess, sys, time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from trm_course.core import IGNORE_LABEL   # noqa: E402

CONVERGED_GAIN = 0.005   # "converged": exact improved by < 0.5 points over the last fifth of training
LICENCE = 'Apache-2.0 (the trm-course licence, see LICENSE)'

# name -> how it is trained. kind 'recipe': chapter 14a's recipe through chapter 15's Trainer until converged;
# 'fixed': a recipe for a fixed number of steps (chapter 23's partly trained model); 'watch': chapter 21's `train_trm`.
SPECS = {
    'sudoku4_cpu': dict(kind='recipe', recipe='sudoku4_cpu', data=('sudoku', 4), eval_every=100, min_steps=1000, max_steps=6000,
                        title='4x4 Sudoku, recipe sudoku4_cpu, trained until converged',
                        limits='4x4 Sudoku with a unique solution only (generated, "minimal" puzzles); the input must be a valid '
                               'puzzle: the model does not check the rules, it only predicts.'),
    # dtype float32: the recipe's dtype='auto' would train bfloat16 on a CPU with bf16 units; the zoo's weights are float32
    # models that load and score the same on every CPU (bf16-trained weights score within 0.2 points in float32 too)
    'sudoku6_cpu': dict(kind='recipe', recipe='sudoku6_cpu', overrides=dict(dtype='float32'), data=('sudoku', 6), eval_every=250,
                        min_steps=2500, max_steps=12000,
                        title='6x6 Sudoku (2x3 boxes), recipe sudoku6_cpu, trained until converged',
                        limits='6x6 Sudoku with 2x3 boxes and a unique solution (generated "minimal" puzzles, about 28% of cells '
                               'given); it does not check the rules of the answer it gives.'),
    'maze_small_cpu': dict(kind='recipe', recipe='maze_small_cpu', data=('maze_small',), eval_every=250, min_steps=1500,
                           max_steps=12000, title='5x5 mazes with a unique shortest path, recipe maze_small_cpu, until converged',
                           limits='5x5 mazes (tokens # wall, space, S start, G goal) whose shortest path is unique and longer '
                                  'than 4 moves; on other mazes the answer is not a shortest path in general.'),
    'sudoku4_cpu_250': dict(kind='fixed', recipe='sudoku4_cpu', data=('sudoku', 4), steps=250, seed=0,
                            title='4x4 Sudoku, recipe sudoku4_cpu stopped at 250 steps (partly trained on purpose: chapter 23)',
                            limits='deliberately stopped early (chapter 23 studies test-time compute on a model that is '
                                   'sometimes wrong); use sudoku4_cpu to solve puzzles.'),
    'watch_sudoku4': dict(kind='watch', task='sudoku', title="Chapter 21's quick-mode 4x4 Sudoku model (N_sup=16, puzzle embedding, no EMA)",
                          limits='trained for a fixed 1000 steps by chapter 21 (`train_trm`), not to convergence; 4x4 Sudoku only.'),
    'watch_maze5': dict(kind='watch', task='maze', title="Chapter 21's quick-mode 5x5 maze model (N_sup=4, puzzle embedding, no EMA)",
                        limits='trained for a fixed 300 steps by chapter 21 (`train_trm`), not to convergence; 5x5 unique-path mazes only.'),
    'watch_arc_tiny': dict(kind='arc_watch', title="Chapter 21's quick-mode tiny ARC model (recipe arc_tiny_cpu, 750 steps, EMA)",
                           limits='8 tiny ARC tasks on a 4x4 canvas (chapter 20); scored on the test inputs of its training '
                                  'tasks (it saw their demonstrations), not on unseen tasks; a fixed 750-step run, not converged.'),
}
# kind 'sweep': the TRM row of issue 19's converged sweep (benchmarks/bench_ablations_converged.py: 6x6 Sudoku from 100
# base puzzles x 21 copies, 1,750 steps, lr 2e-3), imported from its final Trainer checkpoint (chapter 23's models)
for _s in (0, 1, 2):
    SPECS[f'sudoku6_small_s{_s}'] = dict(
        kind='sweep', seed=_s, n_train=100, steps=1750, lr=0.002, eval_every=500,
        title=f'6x6 Sudoku from 100 training puzzles (x21 copies), recipe sudoku6_sweep, 1,750 steps, training seed {_s} '
              '(issue 19 converged sweep, TRM row)',
        limits='trained on only 100 base puzzles (x21 shuffled copies) on purpose, to leave headroom for test-time compute '
               '(chapter 23): it solves about 9 in 10 held-out 6x6 puzzles; use sudoku6_cpu to solve puzzles. 6x6 Sudoku '
               'with 2x3 boxes and a unique solution only; it does not check the rules of its answer. Trained for the sweep\'s '
               'fixed 1,750 steps (its rule: the first step where the seed-0 pilot reached 90% validation exact), not until '
               'the zoo\'s convergence rule held (the sweep evaluates only every 500 steps); the seed-0 pilot of the same '
               'configuration, continued to 2,000 steps, gained nothing on validation after step 1,750 '
               '(benchmarks/results/ablations_converged_pilot.jsonl).')
# the default order: the small models the chapters load first, the longest run last
ORDER = ('sudoku4_cpu_250', 'watch_sudoku4', 'watch_maze5', 'watch_arc_tiny', 'sudoku4_cpu', 'maze_small_cpu', 'sudoku6_cpu',
         'sudoku6_small_s0', 'sudoku6_small_s1', 'sudoku6_small_s2')
assert sorted(ORDER) == sorted(SPECS)


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''): h.update(b)
    return h.hexdigest()


def git_info() -> dict:
    "The commit and exactly what was dirty in the working tree when the model was written."
    run = lambda *a: subprocess.run(['git', *a], cwd=REPO, capture_output=True, text=True).stdout.rstrip()
    dirty = [l for l in run('status', '--porcelain', '--untracked-files=no').splitlines() if l.strip()]
    code_diff = run('diff', 'HEAD', '--', 'trm_course', 'benchmarks/train_zoo.py')
    return {'describe': run('describe', '--always', '--dirty').strip(), 'commit': run('rev-parse', 'HEAD').strip(),
            'dirty_tracked_files': dirty,
            'library_diff_sha256': hashlib.sha256(code_diff.encode()).hexdigest() if code_diff else None,
            'library_diff_files': [l.split()[-1] for l in dirty if l.split()[-1].startswith(('trm_course/', 'benchmarks/train_zoo.py'))]}


def build_data(spec) -> Path:
    if spec[0] == 'sudoku':
        from trm_course.sudoku import sudoku_data
        from trm_course.test_time import SUDOKU_DATA
        return sudoku_data(spec[1], **SUDOKU_DATA[spec[1]])
    from trm_course.maze import maze_small_data
    return maze_small_data()


def held_out(root, split: str = 'test') -> dict:
    "A whole split of a dataset as numpy arrays (ignored labels -> IGNORE_LABEL)."
    from trm_course.dataset import read_split
    s = read_split(root, split)
    x, y = np.asarray(s.inputs).astype(np.int64), np.asarray(s.labels).astype(np.int64)
    if s.ignore_label_id is not None: y[y == s.ignore_label_id] = IGNORE_LABEL
    ids = np.asarray(s.puzzle_identifiers).astype(np.int64)
    idx = np.asarray(s.puzzle_indices).astype(np.int64)
    pid = np.repeat(ids, np.diff(idx)) if len(ids) == len(idx) - 1 else np.zeros(len(x), np.int64)
    return {'inputs': x, 'labels': y, 'puzzle_identifiers': pid[:len(x)]}


@torch.no_grad()
def score(model, test: dict) -> dict:
    "Exact and token accuracy after all N_sup steps (chapter 11's rollout) on the held-out arrays."
    from trm_course.halting import rollout
    batch = {k: torch.from_numpy(v) for k, v in test.items()}
    if model.cfg.puzzle_emb_ndim == 0: batch.pop('puzzle_identifiers')
    ex, tok = [], []
    for i in range(0, len(test['inputs']), 256):
        r = rollout(model, {k: v[i:i + 256] for k, v in batch.items()}, record=('exact', 'token_acc'))
        ex.append(r['exact'][-1].float()); tok.append(r['token_acc'][-1].float())
    ex, tok = torch.cat(ex), torch.cat(tok)
    return {'exact': round(ex.mean().item(), 6), 'token': round(tok.mean().item(), 6), 'count': len(ex)}


def converged(curve: list[dict]) -> dict:
    "The convergence check on an evaluation curve [{'step', 'exact'}, ...]: gain over the last fifth of the steps."
    last = curve[-1]
    start = [c for c in curve if c['step'] <= 0.8 * last['step']]
    if not start: return {'converged': False, 'why': 'no evaluation before the last fifth'}
    s = start[-1]
    gain = last['exact'] - s['exact']
    return {'converged': gain < CONVERGED_GAIN, 'rule': 'held-out exact gain over the last fifth of training < 0.5 points',
            'from_step': s['step'], 'to_step': last['step'], 'exact_from': s['exact'], 'exact_to': last['exact'],
            'gain_points': round(100 * gain, 3)}


def train_recipe(name: str, spec: dict, runs: Path) -> dict:
    from trm_course.recipes import get_recipe
    from trm_course.train import Trainer, Callback, JsonlLog, Evaluate, Checkpoint
    from trm_course.checkpoint import latest_checkpoint, load_checkpoint
    root = build_data(spec['data'])
    cfg = get_recipe(spec['recipe'], data=str(root), max_steps=spec['max_steps'], out_dir=str(runs / name), progress=False,
                     eval_every=spec['eval_every'], keep_checkpoints=2, device='cpu', **spec.get('overrides', {}))
    last = latest_checkpoint(cfg.out_dir)
    if last is None and Path(cfg.out_dir).exists(): shutil.rmtree(cfg.out_dir)   # a run stopped before its first checkpoint
    tr = Trainer(cfg, verbose=True)
    if last is not None:
        load_checkpoint(tr, last)
        from trm_course.train import read_log
        recs = [r for r in read_log(tr.log_path) if r.get('kind') == 'zoo' and r['step'] <= tr.step]
        tr.train_cpu_seconds = recs[-1]['train_cpu_seconds'] if recs else 0.0
        print(f'{name}: resumed from {last} at step {tr.step} ({tr.train_cpu_seconds:.0f} CPU-s so far)', flush=True)

    class Converge(Callback):
        "After each evaluation: log the CPU time so far, stop when the curve has converged."
        def on_eval_end(self, tr, record):
            tr.log({'kind': 'zoo', 'step': tr.step, 'train_cpu_seconds': round(tr.train_cpu_seconds, 2),
                    'exact': record['eval/exact_accuracy'], 'token': record['eval/accuracy']})
            curve = [{'step': r['step'], 'exact': r['exact']} for r in tr.history if r.get('kind') == 'zoo']
            c = converged(curve)
            print(f"{name}: step {tr.step} exact {record['eval/exact_accuracy']:.4f} token {record['eval/accuracy']:.4f} "
                  f"cpu {tr.train_cpu_seconds:.0f}s gain(last fifth) {c.get('gain_points')}", flush=True)
            if tr.step >= spec['min_steps'] and c['converged']: tr.stop(f"converged: {c}")
            elif spec.get('cpu_budget') and tr.train_cpu_seconds >= spec['cpu_budget']:
                tr.stop(f"CPU budget of {spec['cpu_budget']} s spent before the convergence rule held: {c}")

    if last is not None and spec.get('cpu_budget') is not None and tr.train_cpu_seconds >= spec['cpu_budget']:
        from trm_course.train import read_log   # the budget is spent already: the card comes from the latest checkpoint
        tr.history = [r for r in read_log(tr.log_path) if r.get('step', 0) <= tr.step]
        print(f"{name}: the CPU budget {spec['cpu_budget']} s is spent: writing the card from {last}", flush=True)
    else:
        tr.fit(callbacks=[JsonlLog(50), Evaluate(every_steps=spec['eval_every'], at_end='always'), Converge(), Checkpoint()])
    curve = [{k: r[k] for k in ('step', 'exact', 'token', 'train_cpu_seconds')} for r in tr.history if r.get('kind') == 'zoo']
    tr.ema.copy_to(tr.model)
    model = tr.model.model.eval()
    from trm_course.recipes import recipe_card
    return dict(model=model, model_cfg=tr.model_cfg, train_config=cfg.to_dict(), recipe=recipe_card(spec['recipe']),
                root=root, data_signature=tr.data_sig, steps=tr.step, cpu_seconds=round(tr.train_cpu_seconds, 1),
                curve=curve, convergence=converged(curve), trainer_eval=dict(exact=curve[-1]['exact'], token=curve[-1]['token']),
                weights='EMA (rate %s)' % cfg.ema_rate)


def train_fixed(name: str, spec: dict, runs: Path) -> dict:
    "Like chapter 23's `_train_preset`: the recipe for `steps` steps, no evaluations, logs or checkpoints."
    from trm_course.recipes import get_recipe, recipe_card
    from trm_course.train import Trainer
    root = build_data(spec['data'])
    cfg = get_recipe(spec['recipe'], data=str(root), max_steps=spec['steps'], seed=spec['seed'], out_dir=str(runs / name))
    tr = Trainer(cfg, verbose=False)
    tr.fit(steps=spec['steps'], callbacks=[])
    tr.ema.copy_to(tr.model)
    res = tr.evaluate()
    return dict(model=tr.model.model.eval(), model_cfg=tr.model_cfg, train_config=cfg.to_dict(), recipe=recipe_card(spec['recipe']),
                root=root, data_signature=tr.data_sig, steps=tr.step, cpu_seconds=round(tr.train_cpu_seconds, 1), curve=None,
                convergence={'converged': False, 'why': f"a fixed {spec['steps']}-step run (stopped early on purpose)"},
                trainer_eval=dict(exact=res['exact_accuracy'], token=res['accuracy']), weights='EMA (rate %s)' % cfg.ema_rate)


def train_watch(name: str, spec: dict, runs: Path) -> dict:
    "Chapter 21's quick-mode model, trained exactly as its `fit_or_load` does (same key)."
    from trm_course.core import set_mode
    from trm_course.watch import watch_sudoku_task, watch_maze_task, train_trm, watch_key
    set_mode('quick')
    task = (watch_sudoku_task if spec['task'] == 'sudoku' else watch_maze_task)('cpu', 'float32')
    fit = dict(task['fit'])
    steps, data_key = fit.pop('steps'), fit.pop('data_key')
    t = time.process_time()
    model, losses = train_trm(task['cfg'], task['sample'], steps, device='cpu', **fit)
    cpu = time.process_time() - t
    b = task['batch']
    test = {'inputs': b['inputs'].cpu().numpy(), 'labels': b['labels'].cpu().numpy(),
            'puzzle_identifiers': b['puzzle_identifiers'].cpu().numpy()}
    return dict(model=model, model_cfg=task['cfg'], test=test, steps=steps, cpu_seconds=round(cpu, 1), curve=None,
                train_config={'function': 'trm_course.watch.train_trm', 'steps': steps, 'data_key': data_key, **fit,
                              'seed': fit.get('seed', 0), 'device': 'cpu', 'mode': 'quick'},
                watch_key=watch_key(task['cfg'], steps, data_key, fit),
                data={'builder': f"trm_course.watch.watch_{spec['task']}_task() in quick mode", 'data_key': data_key,
                      'n_train': len(task['train']['question']), 'n_test': len(task['test']['question'])},
                convergence={'converged': False, 'why': f'a fixed {steps}-step run (chapter 21 ships it as it is)'},
                losses_first_last=[round(losses[:max(1, steps // 10)].mean().item(), 4), round(losses[-max(1, steps // 10):].mean().item(), 4)],
                weights='the trained weights (train_trm keeps no EMA)')


def train_arc_watch(name: str, spec: dict, runs: Path) -> dict:
    "Chapter 21's quick-mode ARC model, trained exactly as its cell does (the same key: configuration and data)."
    from trm_course.core import cache_dir, set_mode, pick
    from trm_course.arc_data import build_arc_tiny_data
    from trm_course.recipes import get_recipe, recipe_card
    from trm_course.train import Trainer
    from trm_course.watch import trainer_run_key
    set_mode('quick')
    root = build_arc_tiny_data(cache_dir('datasets', 'watch-arc-tiny'))
    cfg = get_recipe('arc_tiny_cpu', data=str(root), out_dir=str(runs / name), max_steps=pick(750, 3000), eval_every=None,
                     progress=False, seed=0)
    key = trainer_run_key(cfg, root)
    tr = Trainer(cfg, verbose=False)
    tr.fit(callbacks=tr.config_callbacks(at_end=None))
    tr.ema.copy_to(tr.model)
    test = held_out(root, split='fit')
    return dict(model=tr.model.model.eval(), model_cfg=tr.model_cfg, train_config=cfg.to_dict(), recipe=recipe_card('arc_tiny_cpu'),
                root=root, data_signature=tr.data_sig, steps=tr.step, cpu_seconds=round(tr.train_cpu_seconds, 1), curve=None,
                test=test, watch_key=key, scored_on="the 'fit' split: test inputs of the 8 training tasks (every augmented copy)",
                data={'builder': "trm_course.arc_data.build_arc_tiny_data(cache_dir('datasets', 'watch-arc-tiny'))",
                      'folder': Path(root).name, 'signature': tr.data_sig},
                convergence={'converged': False, 'why': f'a fixed {tr.step}-step run (chapter 21 ships it as it is)'},
                weights='EMA (rate %s)' % cfg.ema_rate)


SWEEP_LOGS = [REPO / 'benchmarks' / 'results' / 'ablations_converged.jsonl']


def sweep_command(spec: dict, log: str) -> str:
    "The sweep command that trains this seed's run (its phase 1 also trains seed 0 at this lr unless the log has it)."
    return ('OMP_NUM_THREADS=1 python benchmarks/bench_ablations_converged.py --rows trm --seeds %d --n-train %d --steps %d '
            '--lr-grid %g --eval-every %d --log %s' % (spec['seed'], spec['n_train'], spec['steps'], spec['lr'],
                                                       spec['eval_every'], log))


def import_sweep(name: str, spec: dict, runs: Path, logs=None, models=None) -> dict:
    """The TRM run of the converged sweep with this spec's seed, N, steps and lr: its record (from the sweep's JSONL
    logs) and its final Trainer checkpoint, loaded into a Trainer of the same configuration (checked: configuration
    and dataset signature), EMA weights copied in; the held-out set is the sweep's test half (puzzles 500-999)."""
    sys.path.insert(0, str(REPO / 'benchmarks'))
    import bench_ablations_converged as B
    from trm_course.train import Trainer
    from trm_course.checkpoint import load_checkpoint
    from trm_course.recipes import recipe_card
    logs = [Path(p) for p in (logs or SWEEP_LOGS)]
    models = Path(models) if models else B.MODELS
    want = dict(row='trm', seed=spec['seed'], n_train=spec['n_train'], steps=spec['steps'], lr=spec['lr'])
    found = []
    for log in logs:
        for r in B.read_log(log):
            if all(r.get(k) == v for k, v in want.items()) and not r['diverged'] and r.get('model_path'):
                p = models / Path(r['model_path']).name
                if p.exists(): found.append((log, r, p))
    if not found:
        raise SystemExit(f'{name}: no finished sweep run {want} with its checkpoint in {models} among the logs '
                         f'{[str(p) for p in logs]} (pass --sweep-log / --sweep-models); train it: {sweep_command(spec, "LOG")}')
    log, rec, path = found[-1]                       # the latest run
    root = B.train_data(spec['n_train'])
    cfg, build, overrides = B.run_config('trm', spec['seed'], spec['lr'], spec['steps'], root, str(runs / name))
    tr = Trainer(cfg, verbose=False, build=build)
    load_checkpoint(tr, path)                        # refuses another configuration or dataset
    if tr.step != spec['steps']: raise SystemExit(f'{name}: {path} is at step {tr.step}, not {spec["steps"]}')
    from trm_course.network import TRMConfig
    from trm_course.recursion import TRM
    tr.ema.copy_to(tr.model)
    model = TRM(TRMConfig(**dataclasses.asdict(tr.model_cfg)))
    model.load_state_dict(tr.model.model.state_dict())          # the variant with no switches is TRM exactly
    x, y = B.eval_sets(root)['test']
    test = {'inputs': x.astype(np.int64), 'labels': np.where(y == 0, IGNORE_LABEL, y).astype(np.int64),
            'puzzle_identifiers': np.zeros(len(x), np.int64)}
    h = rec['header']
    curve = [{'step': p['step'], 'exact': p['val_exact'], 'token': p['val_token'], 'train_exact': p['train_exact'],
              'train_cpu_seconds': p['cpu_train']} for p in rec['curve']]
    conv = converged(curve) | {'on': 'the validation half (test puzzles 0-499), the only split the sweep evaluates on the way'}
    first = B.BASE_DATA
    return dict(model=model.eval(), model_cfg=tr.model_cfg, train_config=cfg.to_dict(), recipe=recipe_card(B.RECIPE), root=root,
                data_signature=tr.data_sig, steps=tr.step, cpu_seconds=rec['cpu_train_s'], curve=curve, convergence=conv,
                test=test, weights='EMA (rate %s)' % cfg.ema_rate,
                scored_on="the sweep's test half: puzzles 500-999 of the dataset's 1,000 test puzzles (never used for a choice; "
                          "0-499 are the validation half)",
                trainer_eval=dict(exact=rec['final']['test']['exact'], token=rec['final']['test']['token']),
                command=sweep_command(spec, log.name) + ' && OMP_NUM_THREADS=1 python benchmarks/train_zoo.py %s --force '
                        '--sweep-log %s' % (name, log.name),
                data={'folder': Path(root).name, 'signature': tr.data_sig, 'n_train_puzzles': spec['n_train'],
                      'copies_per_puzzle': 1 + first['n_aug'], 'data_seed': first['seed'],
                      'builder': f"benchmarks/bench_ablations_converged.py train_data({spec['n_train']}): the first "
                                 f"{spec['n_train']} puzzle groups (each x{1 + first['n_aug']}) of trm_course.sudoku."
                                 f"sudoku_data(6, n_train={first['n_train']}, n_aug={first['n_aug']}, n_test={first['n_test']}, "
                                 f"seed={first['seed']})",
                      'validation': 'test puzzles 0-499 (every choice)', 'held_out': 'test puzzles 500-999 (shipped)'},
                sweep={'log': log.name, 'key': rec['key'], 'command': h['command'], 'commit': h['commit'],
                       'started': h.get('started'), 'finished': h.get('finished'), 'torch': h['torch'], 'cpu': h['cpu'],
                       'threads': h['threads'], 'load_start': h['load_start'], 'load_end': h.get('load_end'),
                       'load_run_start': h.get('load_run_start'), 'cpu_train_s': rec['cpu_train_s'],
                       'cpu_eval_s': rec['cpu_eval_s'], 'wall_s': rec['wall_s'], 'epochs': rec['epochs'],
                       'checkpoint': path.name, 'checkpoint_sha256': sha256(path), 'config': rec['config'],
                       'final': rec['final']},
                extra_held_out={'val_exact': rec['final']['val']['exact'], 'val_token': rec['final']['val']['token'],
                                'val_count': rec['final']['val']['count'], 'train_subset_exact': rec['final']['train']['exact']})


def write(name: str, spec: dict, res: dict, out: Path, argv: list[str], seconds_wall: float) -> None:
    model = res['model'].cpu().eval()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if 'test' in res: test = res['test']
    else: test = held_out(res['root'])
    test = {k: np.ascontiguousarray(v.astype(np.int16 if k == 'labels' else np.int64 if k == 'puzzle_identifiers' else np.uint8))
            for k, v in test.items()}
    out.mkdir(parents=True, exist_ok=True)
    wpath, tpath = out / f'{name}.pt', out / f'{name}.test.npz'
    torch.save(state, wpath)
    np.savez_compressed(tpath, **test)
    # the recorded accuracy: the shipped weights on the shipped held-out set, read back from the files
    from trm_course.network import TRMConfig
    from trm_course.recursion import TRM
    m2 = TRM(TRMConfig(**dataclasses.asdict(res['model_cfg'])))
    m2.load_state_dict(torch.load(wpath, map_location='cpu', weights_only=True))
    with np.load(tpath, allow_pickle=False) as z: back = {k: z[k].astype(np.int64) for k in z.files}
    acc = score(m2.eval(), back)
    card = {
        'name': name, 'title': spec['title'], 'format': 'trm-course-zoo', 'version': 1,
        'task': 'maze' if 'maze' in name else 'arc' if 'arc' in name else 'sudoku',
        'model_config': dataclasses.asdict(res['model_cfg']),
        'weights': {'file': wpath.name, 'sha256': sha256(wpath), 'bytes': wpath.stat().st_size, 'what': res['weights'],
                    'parameters': sum(v.numel() for v in state.values())},
        'test_set': {'file': tpath.name, 'sha256': sha256(tpath), 'bytes': tpath.stat().st_size, 'count': len(test['inputs'])},
        'held_out': {**acc, 'N_sup': res['model_cfg'].N_sup, 'weights': res['weights'],
                     'scored_on': res.get('scored_on', 'the held-out (test) split of its data: no puzzle of it was trained on'),
                     'trainer_evaluation': res.get('trainer_eval')},
        'training': {'kind': spec['kind'], 'steps': res['steps'], 'cpu_seconds': res['cpu_seconds'],
                     'cpu_seconds_note': 'CPU time of the training steps in one process, 1 torch thread, evaluations excluded',
                     'wall_seconds_total': round(seconds_wall, 1), 'torch_threads': torch.get_num_threads(),
                     'config': res['train_config'], 'curve': res['curve'], 'convergence': res['convergence']},
        'recipe': res.get('recipe'),
        'data': res.get('data') or {'folder': Path(res['root']).name, 'signature': res.get('data_signature'),
                                    'builder': ('trm_course.sudoku.sudoku_data(%d, **trm_course.test_time.SUDOKU_DATA[%d])' % (spec['data'][1], spec['data'][1])
                                                if spec['data'][0] == 'sudoku' else 'trm_course.maze.maze_small_data()')},
        'command': res.get('command') or ' '.join(shlex.quote(a) for a in ['OMP_NUM_THREADS=1', 'python', 'benchmarks/train_zoo.py', name, '--force']
                            + (['--cpu-budget', str(spec['cpu_budget'])] if spec.get('cpu_budget') else [])),
        'invoked_as': ' '.join(shlex.quote(a) for a in argv),
        'git': git_info(), 'torch': torch.__version__, 'numpy': np.__version__, 'python': platform.python_version(),
        'machine': platform.machine(), 'load_average': [round(x, 2) for x in os.getloadavg()],
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'limits': spec['limits'], 'licence': LICENCE,
    }
    if 'watch_key' in res: card['watch_key'] = res['watch_key']
    if 'sweep' in res: card['training']['sweep'] = res['sweep']
    if 'extra_held_out' in res: card['held_out'].update(res['extra_held_out'])
    if 'losses_first_last' in res: card['training']['mean_loss_first_last_tenth'] = res['losses_first_last']
    (out / f'{name}.json').write_text(json.dumps(card, indent=1) + '\n')
    try:
        from trm_course.zoo import render_card
        (out / f'{name}.md').write_text(render_card(card) + '\n')
    except ImportError: pass
    print(f"{name}: wrote {wpath} ({wpath.stat().st_size} bytes), held-out exact {acc['exact']:.4f} token {acc['token']:.4f} "
          f"on {acc['count']}; {res['cpu_seconds']} CPU-s, {res['steps']} steps; {res['convergence']}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('names', nargs='*', help=f'models to train (default: all): {", ".join(SPECS)}')
    p.add_argument('--out', default=str(REPO / 'trm_course' / 'models'), help='where the shipped files go')
    p.add_argument('--runs', default=str(REPO / 'runs' / 'zoo'), help='run folders (checkpoints, logs) for resuming')
    p.add_argument('--force', action='store_true', help='retrain even if the card exists (the run still resumes)')
    p.add_argument('--cpu-budget', type=float, default=None, help='stop a recipe model at the first evaluation after this '
                   'many training CPU-s (over resumes); its card then says whether it had converged (default: no budget)')
    p.add_argument('--render', action='store_true', help='only rewrite every NAME.md from its NAME.json (no training)')
    p.add_argument('--sweep-log', nargs='+', default=None, help="kind 'sweep': the converged sweep's JSONL logs to find the "
                   f"run in (default {', '.join(str(x.relative_to(REPO)) for x in SWEEP_LOGS)})")
    p.add_argument('--sweep-models', default=None, help="kind 'sweep': the folder of the sweep's final checkpoints "
                   '(default: bench_ablations_converged.MODELS, $TRM_ABLATION_MODELS or ~/.cache/trm-course/ablation_models)')
    args = p.parse_args(argv)
    if args.render:
        from trm_course.zoo import render_card
        for f in sorted(Path(args.out).glob('*.json')):
            f.with_suffix('.md').write_text(render_card(json.loads(f.read_text())) + '\n'); print('rendered', f.with_suffix('.md'))
        return 0
    bad = [n for n in args.names if n not in SPECS]
    if bad: p.error(f'unknown model(s) {bad}; known: {", ".join(SPECS)}')
    torch.set_num_threads(1)
    out, runs = Path(args.out), Path(args.runs)
    for name in args.names or ORDER:
        if (out / f'{name}.json').exists() and not args.force:
            print(f'{name}: {out / (name + ".json")} exists, skipped (--force retrains)', flush=True); continue
        spec, t = dict(SPECS[name], cpu_budget=args.cpu_budget), time.time()
        print(f'{name}: training ({spec["kind"]})', flush=True)
        if spec['kind'] == 'sweep': res = import_sweep(name, spec, runs, args.sweep_log, args.sweep_models)
        else: res = {'recipe': train_recipe, 'fixed': train_fixed, 'watch': train_watch, 'arc_watch': train_arc_watch}[spec['kind']](name, spec, runs)
        write(name, spec, res, out, ['python', 'benchmarks/train_zoo.py', *(argv if argv is not None else sys.argv[1:])],
              time.time() - t)
    return 0


if __name__ == '__main__':
    sys.exit(main())
