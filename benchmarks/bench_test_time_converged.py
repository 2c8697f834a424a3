#!/usr/bin/env python
"""Test-time compute on 6x6 models that have learned (issue 19 item 3, chapter 23): PTRM's noisy trajectories with
selection by the halting head, against other ways to spend the same compute, on the zoo's sudoku6_small_s{0,1,2}.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_test_time_converged.py          # the record (clean tree)
    python benchmarks/bench_test_time_converged.py --report                              # the table from the record

The models: the TRM row of the converged ablation sweep (benchmarks/bench_ablations_converged.py: recipe sudoku6_cpu,
6x6 minimal Sudoku from 100 base puzzles x 21 copies, 1,750 steps, lr 2e-3), training seeds 0, 1, 2, shipped in the
zoo (benchmarks/train_zoo.py, kind 'sweep'). The data: that sweep's split of the dataset's 1,000 test puzzles,
validation = puzzles 0-499 (rebuilt from the course cache, checked against the model card's data signature), test =
500-999 (the zoo's shipped held-out set of each model, checked to be the same puzzles).

Per model:
1. validation: the plain evaluation, and K_max noisy trajectories (noise on every z update, `latent_noise`) at each
   --sigmas value, one noise seed. For selection by q_halt (PTRM) and for the majority vote, sigma and K are chosen
   where the validation accuracy is best (ties: smaller K, then smaller sigma): `choose_on_val`;
2. test, never used for a choice: K_max noisy trajectories at each chosen sigma; K_max copies under random Sudoku
   symmetries (digit relabelling, rows within bands, bands, columns within stacks, stacks; no transpose for 2x3 boxes),
   each answer mapped back by the exact inverse; one trajectory run for K_max x N_sup supervision steps. Every method is
   read at every K of --Ks at equal compute, K x N_sup supervision steps per puzzle (`equal_passes`), and the halting
   head's separation of right from wrong answers at the final step of the plain evaluation (`halting_separation`).

Output: --out/--name.json ({'runs': one record per model with records.py's header and the model's training config,
'summary': mean ± std over the models}) and .txt (the table). Resumable: the json is rewritten after each model, and a
restart skips the models it already holds with the same settings. A dirty tree is refused unless --scratch.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))

import numpy as np
import torch

from records import record_header, finish_header

MODELS = ('sudoku6_small_s0', 'sudoku6_small_s1', 'sudoku6_small_s2')


def val_test(card: dict, n_val: int, n_test: int) -> tuple[dict, dict]:
    "The validation puzzles (rebuilt from the sweep's dataset, checked) and the test puzzles (the zoo's held-out set)."
    import bench_ablations_converged as B
    from trm_course import zoo
    from trm_course.core import IGNORE_LABEL
    from trm_course.dataset import read_info
    n_train = card['data']['n_train_puzzles']
    root = B.train_data(n_train)
    sig = card['data']['signature']
    info = read_info(root)
    sets = B.eval_sets(root)
    test = zoo.held_out(card['name'], device='cpu')
    x, y = sets['test']
    if not (np.array_equal(x, test['inputs'].numpy()) and np.array_equal(np.where(y == 0, IGNORE_LABEL, y), test['labels'].numpy())):
        raise SystemExit(f"{card['name']}: the rebuilt dataset {root} is not the one the model was trained on "
                         f"(its test half differs from the shipped held-out set); card data: {sig}, rebuilt: {info}")
    as_batch = lambda x, y: {'inputs': torch.from_numpy(x.astype(np.int64)),
                             'labels': torch.from_numpy(np.where(y == 0, IGNORE_LABEL, y).astype(np.int64))}
    xv, yv = sets['val']
    return as_batch(xv[:n_val], yv[:n_val]), {k: test[k][:n_test] for k in ('inputs', 'labels')}


def one_model(name: str, a, settings: dict) -> dict:
    from trm_course import zoo
    from trm_course.test_time import (final_step, exact_match, noisy_trajectories, summarise, augmented_trajectories,
                                      more_steps, halting_separation, equal_passes, choose_on_val, METHODS)
    card = zoo.card(name)
    header = record_header(seeds=[card['training']['sweep']['config']['resolved']['seed']], scratch=a.scratch,
                           bench='bench_test_time_converged')
    model = zoo.load(name, device='cpu')
    N, Kmax = model.cfg.N_sup, max(a.Ks)
    val, test = val_test(card, a.n_val, a.n_test)
    cpu, t0 = {}, time.process_time()
    # 1. validation
    ref = final_step(model, val)
    right = exact_match(ref['preds'], val['labels'])
    rec_val = {'plain': right.float().mean().item(), 'separation': halting_separation(ref['q_halt'], right), 'sweep': []}
    for sigma in a.sigmas:
        t = time.process_time()
        traj = noisy_trajectories(model, val, Kmax, sigma, seed=a.noise_seed, rows=a.rows)
        for r in summarise(traj, val['labels'], a.Ks):
            rec_val['sweep'].append({'sigma': sigma, 'seed': a.noise_seed, **r, 'passes': r['K'] * N})
        print(f'{name} val sigma {sigma:g} K={Kmax}: ' + '  '.join(f'{m} {rec_val["sweep"][-1][m]:.3f}' for m in METHODS)
              + f'  (plain {rec_val["plain"]:.3f}; {time.process_time() - t:.0f} CPU-s)', flush=True)
    choices = {m: choose_on_val(rec_val['sweep'], m) for m in ('q_halt', 'vote')}
    cpu['val'] = round(time.process_time() - t0, 1)
    print(f'{name} chosen on val: {choices}', flush=True)
    # 2. test
    t = time.process_time()
    steps = more_steps(model, test, Kmax * N, rows=a.rows)
    right = steps['exact'][N - 1]
    sep, sep_steps = halting_separation(steps['q_halt'][N - 1], right), halting_separation(steps['q_halt'][-1], steps['exact'][-1])
    noisy = {}
    for m, c in choices.items():
        if c['sigma'] not in noisy:
            noisy[c['sigma']] = noisy_trajectories(model, test, Kmax, c['sigma'], seed=a.noise_seed, rows=a.rows)
    aug = augmented_trajectories(model, test, Kmax, seed=a.aug_seed, rows=a.rows)
    rows = equal_passes(test['labels'], N, a.Ks, noisy[choices['q_halt']['sigma']], noisy[choices['vote']['sigma']], aug, steps)
    chosen = {m: {'sigma': c['sigma'], 'K': c['K'], 'test': next(r[m] for r in rows if r['K'] == c['K'])} for m, c in choices.items()}
    cpu['test'] = round(time.process_time() - t, 1)
    for r in rows: print(f'{name} test K={r["K"]}: ' + '  '.join(f'{k} {v:.3f}' for k, v in r.items() if k not in ('K', 'passes')), flush=True)
    print(f'{name} halting head on test: {sep}', flush=True)
    sw = card['training']['sweep']
    return {'kind': 'run', 'model': name, 'seed': sw['config']['resolved']['seed'], 'settings': settings,
            'weights_sha256': card['weights']['sha256'], 'card_held_out': card['held_out'],
            'trained_by': {k: sw[k] for k in ('command', 'commit', 'log', 'key', 'cpu_train_s')},
            'config': sw['config'], 'N_sup': N, 'n_val': len(val['inputs']), 'n_test': len(test['inputs']),
            'val': rec_val, 'choices': choices,
            'test': {'rows': rows, 'chosen': chosen, 'separation': sep, 'separation_after_all_steps': sep_steps,
                     'steps_curve': steps['exact'].float().mean(1).tolist(),
                     'noise_single': {str(s): t['exact'].float().mean().item() for s, t in noisy.items()}},
            'cpu_s': cpu, 'header': finish_header(header)}


def write(path: Path, runs: list[dict]) -> None:
    from trm_course.core import atomic_write
    from trm_course.test_time import converged_summary, format_converged
    summary = converged_summary(runs)
    doc = {'about': 'chapter 23: test-time compute on the zoo models sudoku6_small_s*; benchmarks/bench_test_time_converged.py',
           'summary': summary, 'runs': runs}
    with atomic_write(path.with_suffix('.json'), 'w') as f: json.dump(doc, f, indent=1)
    text = format_converged(summary) + '\n\n' + '\n'.join(
        f"# {r['model']}: command `{r['header']['command']}`, commit {r['header']['commit']}, torch {r['header']['torch']}, "
        f"{r['header']['cpu']}, {r['header']['threads']} thread(s), load {r['header']['load_start']} -> {r['header']['load_end']}, "
        f"{r['header']['started']} - {r['header']['finished']}, CPU-s val {r['cpu_s']['val']} test {r['cpu_s']['test']}"
        for r in runs) + '\n'
    with atomic_write(path.with_suffix('.txt'), 'w') as f: f.write(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=list(MODELS))
    p.add_argument('--n-val', type=int, default=500)
    p.add_argument('--n-test', type=int, default=500)
    p.add_argument('--sigmas', type=float, nargs='+', default=[0.3, 0.6, 1.2])
    p.add_argument('--Ks', type=int, nargs='+', default=[1, 2, 4, 8])
    p.add_argument('--noise-seed', type=int, default=0)
    p.add_argument('--aug-seed', type=int, default=0)
    p.add_argument('--rows', type=int, default=128, help='rows per forward batch')
    p.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results'))
    p.add_argument('--name', default='test_time_converged')
    p.add_argument('--scratch', action='store_true', help='allow a dirty tree; the output is then not a record')
    p.add_argument('--report', action='store_true', help='only print the table of the existing output')
    a = p.parse_args(argv)
    path = Path(a.out) / f'{a.name}.json'
    if a.report:
        print(path.with_suffix('.txt').read_text()); return 0
    torch.set_num_threads(1)
    a.Ks = sorted(set(a.Ks))
    settings = {k: getattr(a, k) for k in ('n_val', 'n_test', 'sigmas', 'Ks', 'noise_seed', 'aug_seed', 'rows')}
    runs = json.loads(path.read_text())['runs'] if path.exists() else []
    runs = [r for r in runs if r['settings'] == settings and r['model'] in a.models]
    for name in a.models:
        if any(r['model'] == name for r in runs):
            print(f'{name}: already in {path}, skipped', flush=True); continue
        t = time.time()
        runs.append(one_model(name, a, settings))
        runs.sort(key=lambda r: a.models.index(r['model']))
        write(path, runs)
        print(f'{name}: done in {time.time() - t:.0f} s wall; wrote {path}', flush=True)
    print(path.with_suffix('.txt').read_text())
    return 0


if __name__ == '__main__':
    sys.exit(main())
