"""benchmarks/bench_less_is_more.py (issue 19 item 2): the architectures have the depth and size the design states, a
real run writes a record, a restart skips finished runs, a divergence moves an architecture to the next lr, and the
report reads a log."""
import json, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
import bench_less_is_more as lim  # noqa: E402
import bench_ablations_converged as conv  # noqa: E402
import records  # noqa: E402


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
    assert lim.verdict(d).startswith('holds') and lim.verdict(s[0]) == ''
    assert [p['step'] for p in d['curve']] == [2, 4] and d['curve'][-1]['val_exact'] == pytest.approx(0.61)
    text = lim.report(runs)
    assert 'N=100 base puzzles' in text and 'N=300 base puzzles' in text and '4 layers, T=1, n=2' in text
    assert '-30.0 ±' in text and 'holds (TRM better on every seed)' in text and '# curves' in text
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
