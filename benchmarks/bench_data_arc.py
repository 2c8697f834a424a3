"""ARC data with 1000 augmented copies per task: on the fly (trm_course.dataset.ArcOnTheFly) vs materialised
(the reference's on-disk format, trm_course.arc_data.build_arc_dataset).

    .venv/bin/python benchmarks/bench_data_arc.py [--recipe arc1] [--num-aug 1000] [--fraction 0.02] [--also-arc2]
        | tee benchmarks/results/data_arc.txt

Measures, for the paper's recipe (ConceptARC included when it can be loaded, else said so):
  - on the fly: time until the train and test splits are ready to sample (plan of every copy + index arrays),
    bytes held (exact array bytes; and the process's peak RSS);
  - fixed (the reference's build-time) translations: extra time and bytes;
  - a batch of 768 drawn and rendered: time;
  - materialised: exact bytes of every array (= RAM to hold it, = disk of the .npy files up to 128-byte headers);
    time to render and write, measured on the first `--fraction` of the train groups and on the whole test split,
    and extrapolated linearly in the number of examples (said so in the output).
Wall times on a shared machine depend on its load; CPU time of this process is printed too.
"""
import argparse, os, resource, shutil, sys, tempfile, time
from pathlib import Path

import numpy as np

from trm_course.arc_data import (ARC_VOCAB, ArcOnTheFly, plan_recipe, reference_offsets,
                                 render_arc_examples)
from trm_course.dataset import BatchSampler, PuzzleSplit, collate, write_dataset


def now(): return time.perf_counter(), time.process_time()
def since(t): return time.perf_counter() - t[0], time.process_time() - t[1]
def rss_mb(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def gb(n): return f'{n / 2**30:.2f} GiB'
def mb(n): return f'{n / 2**20:.1f} MiB'
def du(path): return sum(p.stat().st_size for p in Path(path).rglob('*') if p.is_file())


def bench(recipe, num_aug, fraction, batch):
    print(f'\n=== recipe {recipe!r}, {num_aug} copies per task ===')
    print(f'machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start')
    rss0 = rss_mb()
    t = now()
    plan = plan_recipe(recipe, num_aug=num_aug, allow_missing_conceptarc=True)
    t_plan = since(t)
    train = ArcOnTheFly(plan, 'train', translate='fresh')
    test = ArcOnTheFly(plan, 'test')
    t_ready = since(t)
    print(f'subsets: {plan.subsets}' + ('' if 'conceptarc' in plan.subsets else
                                        '   (ConceptARC NOT included: not available offline)'))
    print(f'groups {plan.n_groups}, puzzles (copies incl. originals) {plan.n_copies}, '
          f'examples train {train.n_examples}, test {test.n_examples}')
    fly_bytes = plan.nbytes() + train.index.nbytes() + test.index.nbytes()
    print(f'ON THE FLY ready in {t_ready[0]:.1f} s wall ({t_ready[1]:.1f} s CPU; plan {t_plan[0]:.1f} s wall / {t_plan[1]:.1f} s CPU)')
    print(f'  bytes held: plan {mb(plan.nbytes())} + index arrays {mb(train.index.nbytes() + test.index.nbytes())} '
          f'= {mb(fly_bytes)};  process peak RSS {rss_mb():.0f} MiB (was {rss0:.0f} MiB before)')

    t = now()
    offsets = reference_offsets(plan, train.index)
    t_off = since(t)
    print(f'  + the reference\'s fixed translations: {t_off[0]:.1f} s wall ({t_off[1]:.1f} s CPU), {mb(offsets.nbytes)}')

    smp = BatchSampler(train, batch, seed=0)
    times = []
    for b in (b for ep in range(10) for b in smp.iter_epoch(ep)):
        t = now(); collate(train, b, batch); times.append(since(t))
        if len(times) == 10: break
    print(f'  one batch of {batch} rendered + collated: median {np.median([w for w, _ in times]) * 1e3:.0f} ms wall, '
          f'{np.median([c for _, c in times]) * 1e3:.0f} ms CPU')

    # materialised: exact sizes
    E_tr, E_te = train.n_examples, test.n_examples
    idx_bytes = 4 * (2 * len(train.puzzle_identifiers) + 1 + len(train.group_indices)
                     + 2 * len(test.puzzle_identifiers) + 1 + len(test.group_indices))
    mat_bytes = 2 * 900 * (E_tr + E_te) + idx_bytes
    print(f'MATERIALISED (exact): inputs+labels {E_tr + E_te} examples x 2 x 900 B + index {mb(idx_bytes)} = {gb(mat_bytes)} '
          f'(RAM to hold it; disk = the same + 10 x 128 B headers + JSON)')
    print(f'  ratio materialised / on the fly: {mat_bytes / fly_bytes:.0f}x  '
          f'(with fixed translations kept: {mat_bytes / (fly_bytes + offsets.nbytes):.0f}x)')

    # materialise a fraction of the train groups (+ the whole test split) and write it
    k = max(1, int(round(fraction * train.n_groups)))
    P = int(train.group_indices[k]); E = int(train.puzzle_indices[P])
    tmp = Path(tempfile.mkdtemp(prefix='bench_arc_'))
    try:
        t = now()
        xs, ys = render_arc_examples(plan, train.index, np.arange(E), offsets[:E])
        part = PuzzleSplit(xs, ys, train.puzzle_identifiers[:P], train.puzzle_indices[:P + 1], train.group_indices[:k + 1],
                           ARC_VOCAB, num_puzzle_identifiers=plan.n_copies + 1)
        xt, yt = render_arc_examples(plan, test.index, np.arange(E_te))
        tst = PuzzleSplit(xt, yt, test.puzzle_identifiers, test.puzzle_indices, test.group_indices, ARC_VOCAB,
                          num_puzzle_identifiers=plan.n_copies + 1)
        t_render = since(t)
        t = now()
        write_dataset(tmp / 'd', {'train': part, 'test': tst}, plan.identifiers())
        t_write = since(t)
        disk = du(tmp / 'd')
        arrays = sum(getattr(s, f).nbytes for s in (part, tst) for f in ('inputs', 'labels', 'puzzle_identifiers',
                                                                       'puzzle_indices', 'group_indices'))
        print(f'  measured on {k} of {train.n_groups} train groups ({E} of {E_tr} train examples = {E / E_tr:.1%}) '
              f'+ the whole test split ({E_te} examples):')
        print(f'    render {t_render[0]:.1f} s wall ({t_render[1]:.1f} s CPU), write {t_write[0]:.1f} s wall; '
              f'disk {mb(disk)} (arrays {mb(arrays)}, the rest identifiers.json etc.)')
        per_ex_render = t_render[1] / (E + E_te)
        per_ex_write = t_write[0] / (E + E_te)
        full_s = (E_tr + E_te) * (per_ex_render + per_ex_write)
        print(f'  EXTRAPOLATED (linear in examples) for all {E_tr + E_te} examples: '
              f'~{full_s / 60:.1f} min (render CPU + write wall), {gb(mat_bytes)} RAM and disk; '
              f'the time excludes the plan ({t_plan[1]:.0f} s CPU) and offsets ({t_off[1]:.0f} s CPU) it also needs')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'process peak RSS {rss_mb():.0f} MiB')
    return dict(ready_s=t_ready[0], fly_bytes=fly_bytes, mat_bytes=mat_bytes)


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--recipe', default='arc1')
    ap.add_argument('--num-aug', type=int, default=1000)
    ap.add_argument('--fraction', type=float, default=0.02)
    ap.add_argument('--batch', type=int, default=768)
    ap.add_argument('--also-arc2', action='store_true', help='also the ARC-AGI-2 recipe (1120 tasks, a larger stand-in)')
    a = ap.parse_args()
    print(' '.join([os.path.basename(sys.executable)] + sys.argv))
    r = bench(a.recipe, a.num_aug, a.fraction, a.batch)
    if a.also_arc2: bench('arc2', a.num_aug, a.fraction, a.batch)
