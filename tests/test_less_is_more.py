"""benchmarks/bench_less_is_more.py and its library half trm_course.less_is_more (chapter 22a, issue 19 item 2): the
architectures have the depth and size the design states and are built as the benchmark builds them, a real run writes a
record, a restart skips finished runs, a divergence moves an architecture to the next lr, the report reads a log, and
the chapter's record handling (no record, partial records, the declared verdict rule, the figure) on SYNTHETIC logs."""
import json, random, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
import bench_less_is_more as lim  # noqa: E402
import bench_ablations_converged as conv  # noqa: E402
import records  # noqa: E402
from trm_course import less_is_more as lib  # noqa: E402


def test_architectures_have_the_stated_depth_and_parameters(tmp_path):
    "Each architecture's model, built as a run builds it: T(n+1) x layers and parameters as declared in ARCHS."
    from trm_course.train import Trainer
    from trm_course.hrm import net_calls
    data = conv.train_data(40)
    for arch, spec in lim.ARCHS.items():
        cfg, build, _ = conv.run_config(arch, 0, lim.LR, 10, data, str(tmp_path / arch), spec=spec)
        tr = Trainer(cfg, verbose=False, build=build)
        m = tr.model.model.cfg
        assert net_calls(m)['depth'] == m.T * (m.n + 1) * m.layers == spec['depth'], arch
        assert m.layers == spec['layers'], arch
        assert sum(p.numel() for p in tr.model.parameters()) == spec['params'], arch
    a = lim.ARCHS
    assert a['trm']['depth'] == a['l4_T1n2']['depth'] == a['l2_wide']['depth'] == 12 and a['l8_T1n1']['depth'] == 16
    assert abs(a['l2_wide']['params'] / a['l4_T1n2']['params'] - 1) < 0.02          # the wide row matches the 4-layer size
    assert a['trm']['train'] == {} and a['trm']['switches'] == {}                     # the converged sweep's TRM row
    assert 'l8_T1n1' not in lim.DEFAULT_ARCHS                                           # cut by the budget (docstring)
    assert not set(lim.ARCHS) - {'trm'} & set(conv.rows())                              # passed as specs, not added to rows


def _fake_runner(calls, stop_at=None, diverge=()):
    "A runner that returns a full record at once; raises KeyboardInterrupt (a kill) before run `stop_at`."
    def run(arch, seed, n, steps, lr, eval_every, header, dtype='float32', compile=False):
        if stop_at is not None and len(calls) == stop_at: raise KeyboardInterrupt
        calls.append((arch, n, seed, lr))
        test = {'trm': 0.9, 'l4_T1n2': 0.6, 'l2_wide': 0.8, 'l8_T1n1': 0.5}[arch] + 0.01 * seed
        curve = [{'step': s, 'train_exact': min(1, s / steps + 0.01 * seed), 'val_exact': test * s / steps}
                 for s in range(eval_every, steps + 1, eval_every)]
        res = lambda x: {'exact': x, 'token': (1 + x) / 2, 'count': 8}
        spec = lim.ARCHS[arch]
        return {'kind': 'run', 'row': arch, 'seed': seed, 'n_train': n, 'n_aug': 20, 'steps': steps, 'lr': lr,
                'eval_every': eval_every, 'dtype': dtype, 'compile': compile, 'diverged': (arch, seed, lr) in diverge,
                'header': dict(header), 'epochs': steps // 3, 'params': spec['params'],
                'net_calls': {'forward': 6, 'layers': 12, 'grad_layers': 6, 'depth': spec['depth']},
                'cpu_train_s': 10.0, 'cpu_eval_s': 2.0, 'curve': curve,
                'final': {'train': res(0.99), 'val': res(test), 'test': res(test)}}
    return run


def _args(tmp_path, *extra):
    return lim.parser().parse_args(['--scratch', '--archs', 'trm', 'l4_T1n2', '--seeds', '0', '1', '--n-train', '100',
                                    '--steps', '100=6', '--eval-every', '2', '--log', str(tmp_path / 'log.jsonl'), *extra])


def test_resume_skips_finished_runs(tmp_path):
    "The plan runs N by N, seed by seed; a killed sweep restarts at the run the kill interrupted; nothing is redone."
    a = _args(tmp_path)
    calls = []
    with pytest.raises(KeyboardInterrupt):
        lim.sweep(a, runner=_fake_runner(calls, stop_at=3))
    assert calls == [('trm', 100, 0, 2e-3), ('l4_T1n2', 100, 0, 2e-3), ('trm', 100, 1, 2e-3)]
    assert len(lim.read_sweep(Path(a.log))) == 3
    calls2 = []
    runs = lim.sweep(a, runner=_fake_runner(calls2))
    assert calls2 == [('l4_T1n2', 100, 1, 2e-3)] and len(runs) == 4 and len({r['key'] for r in runs}) == 4
    calls3 = []
    lim.sweep(a, runner=_fake_runner(calls3))
    assert calls3 == []
    assert all(r['header']['scratch'] and 'finished' in r['header'] for r in runs)


def test_a_divergence_moves_the_architecture_to_the_next_lr(tmp_path):
    "l4 diverges at 2e-3 on seed 1: both its seeds rerun at 1e-3 (the first retune lr), TRM stays at 2e-3."
    a = _args(tmp_path)
    calls = []
    runs = lim.sweep(a, runner=_fake_runner(calls, diverge={('l4_T1n2', 1, 2e-3)}))
    assert calls == [('trm', 100, 0, 2e-3), ('l4_T1n2', 100, 0, 2e-3), ('trm', 100, 1, 2e-3), ('l4_T1n2', 100, 1, 2e-3),
                     ('l4_T1n2', 100, 0, 1e-3), ('l4_T1n2', 100, 1, 1e-3)]
    assert lim.arch_lr(runs, 'l4_T1n2', 100, 6, [2e-3, 1e-3, 5e-4]) == 1e-3
    s = {d['arch']: d for d in lim.summarise(runs)}
    assert s['l4_T1n2']['lr'] == 1e-3 and s['l4_T1n2']['retuned'] and not s['trm']['retuned']
    assert 'RE-TUNED' in lim.format_table(list(s.values()))
    calls2 = []
    lim.sweep(a, runner=_fake_runner(calls2, diverge={('l4_T1n2', 1, 2e-3)}))
    assert calls2 == []


def test_report_on_a_synthetic_log(tmp_path):
    "Mean ± std over seeds, the paired difference to TRM, the verdict with 3 seeds, the mean curves."
    a = lim.parser().parse_args(['--scratch', '--seeds', '0', '1', '2', '--n-train', '100', '300', '--steps', '100=4',
                                 '300=6', '--eval-every', '2', '--log', str(tmp_path / 'log.jsonl')])
    runs = lim.sweep(a, runner=_fake_runner([]))
    assert len(runs) == 3 * 2 * 3
    s = lim.summarise(runs)
    assert [(d['n_train'], d['arch']) for d in s] == [(n, k) for n in (100, 300) for k in ('trm', 'l4_T1n2', 'l2_wide')]
    d = s[1]
    assert d['test_exact'][0] == pytest.approx(0.61) and d['test_exact'][1] == pytest.approx(0.01)
    assert d['diff_ms'][0] == pytest.approx(-0.3) and d['gap_diff_ms'][0] == pytest.approx(0.3)
    assert lim.verdict(d) == 'holds' and lim.verdict(s[0]) == ''
    assert [p['step'] for p in d['curve']] == [2, 4] and d['curve'][-1]['val_exact'] == pytest.approx(0.61)
    text = lim.report(runs)
    assert 'N=100 base puzzles' in text and 'N=300 base puzzles' in text and '4 layers, T=1, n=2' in text
    assert '-30.0 ±' in text and '  holds' in text and '# curves' in text
    one = [r for r in runs if r['seed'] == 0]
    assert 'not yet measured (1 of 3 seeds)' in lim.report(one)
    (tmp_path / 'log.jsonl').open('a').write('{"kind": "run", "row"')              # a torn last line
    assert lim.main(['--report', '--log', str(tmp_path / 'log.jsonl')]) == 0
    assert lim.report([]) == '(no finished runs in the log)'


def test_estimate_adds_up_the_plan():
    "A run's cost: steps x s/step + one train+val evaluation per eval_every steps (the last at the end) + the test."
    t = {'step_s': 0.2, 'eval_s': 10.0, 'test_s': 14.0, 'params': 1}
    assert lim.run_cost(t, 1750, 250) == pytest.approx(350 + 70 + 14)
    assert lim.run_cost(t, 2000, 300) == pytest.approx(400 + 70 + 14)
    a = lim.parser().parse_args(['--estimate'])
    out = lim.estimate(a, timer=lambda arch, steps: t)
    # 3 architectures x 3 seeds x (N=100: 350 + 70 + 14 = 434 s; N=300: 400 + 80 + 14 = 494 s) = 8352 s
    assert 'total: 3 architectures x N in [100, 300] x 3 seeds = 18 runs, 2.32 CPU-hours' in out


def test_one_tiny_real_run_writes_a_record(tmp_path, monkeypatch):
    "Two real runs (3 steps, tiny eval sets): each record carries the header, today's config, a curve, the test."
    monkeypatch.setattr(conv, 'VAL', slice(0, 8)); monkeypatch.setattr(conv, 'TEST', slice(8, 16))
    monkeypatch.setattr(conv, 'TRAIN_SUBSET', 8)
    a = lim.parser().parse_args(['--scratch', '--archs', 'trm', 'l2_wide', '--seeds', '0', '--n-train', '40', '--steps',
                                 '40=3', '--eval-every', '2', '--log', str(tmp_path / 'log.jsonl')])
    runs = lim.sweep(a)
    assert [r['row'] for r in runs] == ['trm', 'l2_wide']
    for r in runs:
        assert [p['step'] for p in r['curve']] == [2, 3] and r['final']['test']['count'] == 8 and not r['diverged']
        assert r['header']['scratch'] and 'load_end' in r['header'] and r['header']['sweep'] == 'bench_less_is_more'
        assert records.config_diff(r['config']) == [] and r['params'] == lim.ARCHS[r['row']]['params']
        assert 'model_path' not in r
    wide = runs[1]['config']['resolved']
    assert wide['model.hidden_size'] == 80 and wide['model.expansion'] == 5.0 and runs[1]['net_calls']['depth'] == 12
    assert json.loads(Path(a.log).read_text().splitlines()[0])['key'] == runs[0]['key']
    assert '2 layers wide' in lim.report(runs)
    calls = []
    lim.sweep(a, runner=_fake_runner(calls))                                          # resumed: both are there
    assert calls == []


# ---------------------------------------------------------------------------------------------------- the library half
def test_the_library_builds_the_runs_as_the_benchmark_does(tmp_path):
    "trm_course.less_is_more.arch_config gives the configuration conv.run_config gives each run (the bench's spec=ARCHS)."
    assert lim.ARCHS is lib.ARCHS and lim.summarise is lib.summarise and lim.report is lib.report   # imported, not copied
    for arch in lib.ARCHS:
        for seed, lr, steps in ((0, 2e-3, 1750), (2, 1e-3, 2000)):
            mine = lib.arch_config(arch, seed, 'some/data', lr, steps, out_dir=tmp_path)
            bench = conv.run_config(arch, seed, lr, steps, 'some/data', str(tmp_path), spec=lib.ARCHS[arch])
            assert mine[0] == bench[0] and mine[2] == bench[2], arch
    m = lib.arch_config('l4_T1n2')[0].model
    assert (m.layers, m.T, m.n) == (4, 1, 2) and lib.effective_depth(m.T, m.n, m.layers) == 12
    assert lib.effective_depth(3, 6, 2) == 42 and lib.effective_depth(3, 3, 4) == 48          # the paper's two rows


# SYNTHETIC runs (never a record): final test exact per (arch, N) ~ mean ± sd over seeds, train exact near 1
SYNTH = {'trm': (0.99, {100: (0.89, 0.02), 300: (0.95, 0.01)}), 'l4_T1n2': (0.98, {100: (0.62, 0.04), 300: (0.80, 0.03)}),
         'l2_wide': (0.99, {100: (0.86, 0.03), 300: (0.96, 0.01)})}


def synthetic_runner(profile=SYNTH):
    "A runner for lim.sweep that returns a made-up full record at once: seeded noise around `profile`, marked synthetic."
    def run(arch, seed, n, steps, lr, eval_every, header, dtype='float32', compile=False):
        rng = random.Random(f'{arch}-{n}-{seed}')
        train_end, (mu, sd) = profile[arch][0], profile[arch][1][n]
        test = min(1.0, max(0.0, rng.gauss(mu, sd)))
        train = min(1.0, train_end + rng.uniform(-0.01, 0.01))
        ramp = lambda s, end: end * min(1.0, (s / steps) ** 0.7)
        curve = [{'step': s, 'train_exact': ramp(s, train), 'val_exact': ramp(s, test + rng.uniform(-0.01, 0.01)),
                  'loss': 1.0 / s} for s in range(eval_every, steps + 1, eval_every)] + \
                ([] if steps % eval_every == 0 else [{'step': steps, 'train_exact': train, 'val_exact': test, 'loss': 1 / steps}])
        res = lambda x: {'exact': x, 'token': 0.3 + 0.7 * x, 'count': 500}
        spec = lib.ARCHS[arch]
        grad = {'trm': 6, 'l4_T1n2': 12, 'l2_wide': 6, 'l8_T1n1': 16}[arch]
        return {'kind': 'run', 'row': arch, 'seed': seed, 'n_train': n, 'n_aug': 20, 'steps': steps, 'lr': lr,
                'eval_every': eval_every, 'dtype': dtype, 'compile': compile, 'diverged': False,
                'header': dict(header, synthetic=True), 'epochs': steps * 32 // n, 'params': spec['params'],
                'net_calls': {'forward': 12 // spec['layers'], 'layers': 12, 'grad_layers': grad, 'depth': spec['depth']},
                'cpu_train_s': 400.0, 'cpu_eval_s': 60.0, 'curve': curve,
                'final': {'train': res(train), 'val': res(test), 'test': res(test)}}
    return run


def synthetic_log(path, seeds=(0, 1, 2), n_train=(100, 300), archs=('trm', 'l4_T1n2', 'l2_wide'), steps='100=1750 300=2000'):
    "Write a SYNTHETIC log at `path` through the benchmark's own sweep (--scratch); returns its runs."
    a = lim.parser().parse_args(['--scratch', '--archs', *archs, '--seeds', *map(str, seeds), '--n-train',
                                 *map(str, n_train), '--steps', *steps.split(), '--log', str(path)])
    return lim.sweep(a, runner=synthetic_runner())


def test_no_record_gives_no_runs_and_says_which_are_missing(tmp_path, monkeypatch):
    "Without a record the chapter reads [] and lists every planned cell as missing; nothing is summarised."
    assert lib.read_record(tmp_path / 'nothing.jsonl') == []
    monkeypatch.setattr(lib, 'recorded_result', lambda name: None)
    assert lib.read_record() == []
    cov = lib.coverage([])
    assert [(c['n_train'], c['arch']) for c in cov] == [(n, a) for n in (100, 300) for a in lib.DEFAULT_ARCHS]
    assert all(c['seeds'] == [] and c['missing'] == [0, 1, 2] and not c['complete'] for c in cov)
    assert 'seeds recorded none; missing 0, 1, 2' in lib.format_coverage(cov) and lib.summarise([]) == []


def test_a_partial_record_is_shown_as_it_is(tmp_path):
    "Two seeds of everything at N=100 only: coverage names the seeds, the table shows them, every verdict waits."
    runs = synthetic_log(tmp_path / 'log.jsonl', seeds=(0, 1), n_train=(100,))
    cov = {(c['n_train'], c['arch']): c for c in lib.coverage(runs)}
    assert cov[(100, 'trm')]['seeds'] == [0, 1] and cov[(100, 'trm')]['missing'] == [2] and not cov[(100, 'trm')]['complete']
    assert cov[(300, 'l2_wide')]['seeds'] == []
    text = lib.format_coverage(list(cov.values()))
    assert 'N=100 (1750 steps), 4 layers, T=1, n=2: seeds recorded 0, 1; missing 2' in text
    s = lib.summarise(runs)
    assert {d['n_train'] for d in s} == {100} and all(d['seeds'] == [0, 1] for d in s)
    assert [lib.verdict(d) for d in s] == ['', 'not yet measured (2 of 3 seeds)', 'not yet measured (2 of 3 seeds)']


def test_the_verdict_rule():
    "Each outcome of CLAIM_RULE on hand-made entries (diff, gap_diff = row minus TRM, seed by seed)."
    def entry(diff, gap, std=0.02, arch='l4_T1n2'):
        return {'arch': arch, 'diff': dict(enumerate(diff)), 'gap_diff': dict(enumerate(gap)),
                'test_exact': (0.6, std), 'trm_test_exact': (0.9, std)}
    assert lib.verdict(entry([-.3, -.25, -.28], [.3, .2, .25])) == 'holds'
    assert lib.verdict(entry([-.3, -.25, -.28], [-.1, .2, .25])) == 'TRM better, not by overfitting'
    assert lib.verdict(entry([.1, .12, .08], [0, 0, 0])) == 'does not hold'
    assert lib.verdict(entry([-.01, -.02, -.01], [.1, .1, .1])) == 'not shown'                     # inside the spread
    assert lib.verdict(entry([-.3, .01, -.3], [.3, .3, .3], std=0.001)) == 'not shown'             # the sign differs
    assert lib.verdict(entry([-.03, -.03, -.03], [.1, .1, .1], std=0.05)) == 'not shown'           # every seed, < spread
    assert lib.verdict(entry([-.3, -.3], [.3, .3])) == 'not yet measured (2 of 3 seeds)'
    assert lib.verdict(entry([-.3] * 3, [.3] * 3, arch='trm')) == ''


def test_a_full_synthetic_record(tmp_path):
    "3 seeds x 3 architectures x 2 N: paired differences, spreads, verdicts, table, curves and the figure."
    runs = synthetic_log(tmp_path / 'log.jsonl')
    assert len(runs) == 18 and all(r['header']['synthetic'] and r['header']['scratch'] for r in runs)
    assert all(c['complete'] for c in lib.coverage(runs))
    s = {(d['n_train'], d['arch']): d for d in lib.summarise(runs)}
    d, trm = s[(100, 'l4_T1n2')], s[(100, 'trm')]
    tests = {r['seed']: r['final']['test']['exact'] for r in runs if (r['row'], r['n_train']) == ('l4_T1n2', 100)}
    trm_tests = {r['seed']: r['final']['test']['exact'] for r in runs if (r['row'], r['n_train']) == ('trm', 100)}
    assert d['diff'] == pytest.approx({k: tests[k] - trm_tests[k] for k in tests})
    assert d['trm_test_exact'] == pytest.approx(trm['test_exact']) and d['test_exact'] == pytest.approx(lib.mean_std(tests.values()))
    assert lib.verdict(d) == 'holds' and lib.verdict(s[(300, 'l4_T1n2')]) == 'holds'
    assert lib.verdict(s[(300, 'l2_wide')]) in ('not shown', 'does not hold')      # synthetic: wide ~ TRM at N=300
    assert [p['step'] for p in d['curve']][-1] == 1750 and d['curve'][-1]['seeds'] == 3
    table = lib.format_table(list(s.values()))
    assert 'N=100 base puzzles' in table and 'N=300 base puzzles' in table and 'less is more?' in table
    fig = lib.plot_curves(list(s.values()), path=tmp_path / 'lim.png', title='SYNTHETIC')
    assert (tmp_path / 'lim.png').stat().st_size > 10_000 and len(fig.axes) == 2
    import matplotlib.pyplot as plt
    plt.close(fig)
    with pytest.raises(ValueError, match='empty'): lib.plot_curves([])


def test_the_markdown_table(tmp_path):
    "The README's table: one row per (N, architecture) of a synthetic record, its numbers, paired differences and verdict."
    s = lib.summarise(synthetic_log(tmp_path / 'log.jsonl'))
    rows = lib.markdown_table(s)
    assert len(rows) == 2 + 6 and all(r.count('|') == 12 for r in rows)
    by = {(d['n_train'], d['arch']): d for d in s}
    d = by[(100, 'l4_T1n2')]
    row = next(r for r in rows if r.startswith('| 100 (') and '4 layers' in r)
    assert f"{100 * d['test_exact'][0]:.1f} ± {100 * d['test_exact'][1]:.1f}" in row
    assert f"{100 * d['diff_ms'][0]:+.1f} ± {100 * d['diff_ms'][1]:.1f}" in row and row.endswith('| holds |')
    trm = next(r for r in rows if r.startswith('| 300 (') and 'TRM' in r)
    assert trm.endswith('| – | – | 0, 1, 2 | – |')
    one = lib.markdown_table(lib.summarise(synthetic_log(tmp_path / 'one.jsonl', seeds=(0,), n_train=(100,))))
    assert ' ± ' not in ''.join(one[2:]) and 'not yet measured (1 of 3 seeds)' in one[3]


def _chapter_output(cell_id):
    nb = json.loads((ROOT / 'nbs' / '22a_less_is_more.ipynb').read_text())
    (cell,) = [c for c in nb['cells'] if c.get('id') == cell_id]
    return ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []))


def test_chapter_shows_the_record():
    "Chapter 22a shows what benchmarks/results/less_is_more.jsonl holds today (none yet: it says so; re-execute it when it lands)."
    runs = lib.read_record()
    hint = 're-run `tools/nbtool.py run nbs/22a_less_is_more.ipynb` (the record changed)'
    shown = _chapter_output('ed594697')
    assert f'{len(runs)} finished run(s)' in shown and lib.format_coverage(lib.coverage(runs)) in shown, hint
    table = _chapter_output('c78e4faf')
    if runs: assert lib.format_table(lib.summarise(runs)) in table, hint
    else: assert 'no table: the record has no finished run yet' in table
