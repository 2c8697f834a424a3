#!/usr/bin/env python
"""The paper's Table 1 (HRM, TRM, and TRM with one thing changed) retrained on 6x6 Sudoku on the CPU, several seeds.

    OMP_NUM_THREADS=1 python benchmarks/bench_ablations.py --jobs 2 --out benchmarks/results/ablations   # the recorded sweep
    OMP_NUM_THREADS=1 python benchmarks/bench_ablations.py --rows trm one_step --seeds 0 --cpu-seconds 20 --steps 50   # smoke
    python benchmarks/bench_ablations.py --from-runs RUNS.jsonl --out PREFIX      # rebuild the table from a runs log

Each (row, seed) trains from scratch (trm_course.ablations.run_ablation: the `sudoku6_cpu` preset with the row's
change) until it has done --steps training steps AND used --cpu-seconds of its process's CPU time (training only), and
is evaluated (EMA weights, all N_sup steps, the first --eval-examples held-out puzzles) when each is reached: equal
steps and equal compute from one run (the lr is constant after warm-up). One torch thread per process, --jobs
processes. Every finished run is appended to --runs-log (JSON lines) at once. With --out PREFIX it writes PREFIX.txt
(the table, machine, load, every run), PREFIX.json (trm_course.ablations.load_ablations reads it) and the figure
(images/ablations.png when PREFIX is in benchmarks/results/, else PREFIX.png); without --out it only prints.
"""
import argparse, json, os, platform, sys, tempfile, time
import multiprocessing as mp
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def work(job):
    import torch
    torch.set_num_threads(1)
    from trm_course.ablations import run_ablation
    row, seed, a = job
    t = time.time()
    rec = run_ablation(row, seed=seed, cpu_seconds=a['cpu_seconds'], steps=a['steps'], eval_examples=a['eval_examples'],
                       verbose=False)
    rec['wall_seconds'] = round(time.time() - t, 1)
    rec['load_after'] = round(os.getloadavg()[0], 2)
    return rec


def line(r):
    s = f"{r['row']:<10} seed {r['seed']}  "
    for k in ('at_cpu', 'at_steps'):
        if k in r:
            x = r[k]
            s += f"{k}: step {x['step']:>5} cpu {x['cpu_seconds']:7.1f}s exact {100 * x['exact']:5.1f}% token {100 * x['token']:5.1f}%  "
    return s + f"cpu/step {r['cpu_per_step']:.3f}s  wall {r.get('wall_seconds', 0):.0f}s  load {r.get('load_after', 0)}"


def main():
    from trm_course.ablations import (ABLATIONS, ablation_id, ablation_data, ablation_title, summarise, format_ablations,
                                      plot_ablations, save_ablations)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rows', nargs='+', default=list(ABLATIONS))
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--cpu-seconds', type=float, default=90)
    p.add_argument('--steps', type=int, default=420)
    p.add_argument('--eval-examples', type=int, default=500)
    p.add_argument('--jobs', type=int, default=1)
    p.add_argument('--runs-log', default=None, help='JSON lines, one per finished run (default: a temporary file)')
    p.add_argument('--from-runs', default=None, help='only rebuild the table from this runs log')
    p.add_argument('--note', default=None, help='one more header line for the table (e.g. how the runs were made)')
    p.add_argument('--out', default=None, help='PREFIX: write PREFIX.txt, PREFIX.json and images/ablations.png')
    a = p.parse_args()
    import torch
    cmd = 'python ' + ' '.join(sys.argv)
    meta = {'command': cmd, 'started': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), 'torch': torch.__version__,
            'host': f'{platform.machine()}, {os.cpu_count()} CPUs', 'load_before': [round(x, 2) for x in os.getloadavg()],
            'cpu_seconds': a.cpu_seconds, 'steps': a.steps, 'eval_examples': a.eval_examples, 'jobs': a.jobs,
            'threads_per_process': 1}
    if a.from_runs:
        runs = [json.loads(l) for l in Path(a.from_runs).read_text().splitlines() if l.strip()]
        meta.update(json.loads(Path(a.from_runs).with_suffix('.meta.json').read_text()) if Path(a.from_runs).with_suffix('.meta.json').exists() else {})
    else:
        rows = [ablation_id(r) for r in a.rows]
        print(f'# {cmd}\n# {meta["started"]}  torch {meta["torch"]}  host {meta["host"]}  load average {meta["load_before"]}', flush=True)
        print(f'# data {ablation_data()}', flush=True)
        log = Path(a.runs_log or tempfile.mkstemp(prefix='ablations-', suffix='.jsonl')[1])
        log.with_suffix('.meta.json').write_text(json.dumps(meta))
        jobs = [(r, s, vars(a)) for s in a.seeds for r in rows]            # seed by seed: early seeds finish first
        runs = []
        with mp.get_context('spawn').Pool(a.jobs) as pool:
            for rec in pool.imap_unordered(work, jobs):
                runs.append(rec)
                with open(log, 'a') as f: f.write(json.dumps(rec) + '\n')
                print(line(rec), flush=True)
        print(f'# runs log: {log}')
        meta['finished'] = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
        meta['load_after'] = [round(x, 2) for x in os.getloadavg()]
        log.with_suffix('.meta.json').write_text(json.dumps(meta))
    if not a.from_runs or 'finished' not in meta:
        meta['finished'] = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
        meta['load_after'] = [round(x, 2) for x in os.getloadavg()]
    summary = summarise(runs)
    table = format_ablations(summary)
    head = [f"# bench_ablations.py  {meta['started']} - {meta['finished']}  torch {meta['torch']}  host {meta['host']}",
            f"# command: {meta['command']}",
            f"# load average (1, 5, 15 min) before {meta['load_before']}, after {meta['load_after']}; "
            f"{meta['jobs']} processes of {meta['threads_per_process']} torch thread; budgets count each process's CPU time",
            f"# task: 6x6 Sudoku (trm_course.ablations.ablation_data: 1,000 puzzles x 21 copies), held-out exact/token accuracy "
            f"on the first {meta['eval_examples']} test puzzles, EMA weights (none for 'no EMA'), all N_sup=4 steps",
            f"# each run: from scratch until {meta['steps']} steps AND {meta['cpu_seconds']:g} CPU s of training; "
            f"'@ CPU budget' = evaluated at {meta['cpu_seconds']:g} CPU s, '@ steps' = at step {meta['steps']}",
            "# mean ± std (sample std over seeds), in %; paper = Table 1 of arXiv 2510.04871 (Sudoku-Extreme, 9x9, full scale)",
            "# net calls = forward calls of the tiny network(s) per training supervision step; depth = T(n+1)·layers"]
    head += ([f'# note: {a.note}'] if a.note else []) + ['']
    text = '\n'.join(head) + table + '\n\n# every run:\n' + '\n'.join(line(r) for r in sorted(runs, key=lambda r: (list(ABLATIONS).index(r['row']), r['seed']))) + '\n'
    print(text)
    if a.out:
        out = Path(a.out)
        out.with_suffix('.txt').write_text(text)
        save_ablations(runs, out.with_suffix('.json'), meta)
        recorded = out.resolve().parent == ROOT / 'benchmarks' / 'results'      # the recorded sweep draws images/
        png = ROOT / 'images' / 'ablations.png' if recorded else out.with_suffix('.png')
        plot_ablations(summary, png, title=ablation_title(meta, runs))
        print(f'wrote {out.with_suffix(".txt")}, {out.with_suffix(".json")}, {png}')


if __name__ == '__main__':
    main()
