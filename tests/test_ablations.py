"The ablation sweep (trm_course.ablations): rows, one short run, the table, and the recorded results."
import json, math
import pytest
import torch

from trm_course.ablations import (ABLATIONS, ablation_config, ablation_id, ablation_net_calls, ablation_title,
                                  format_ablations, load_ablations, plot_ablations, run_ablation, save_ablations,
                                  summarise)
from trm_course.core import recorded_result

torch.set_num_threads(1)


def test_rows_cover_table_1_and_resolve_by_any_name():
    assert [r['paper'] for r in ABLATIONS.values()] == [87.4, 86.1, 82.4, 79.9, 79.5, 74.7, 73.7, 56.5, 55.0]
    for rid, r in ABLATIONS.items():
        assert ablation_id(rid) == ablation_id(r['name']) == ablation_id(r['paper_row']) == rid
    with pytest.raises(ValueError, match='unknown ablation row'): ablation_id('dropout')


def test_each_row_changes_what_it_says():
    base, _ = ablation_config('trm', data='-')
    for rid, r in ABLATIONS.items():
        cfg, build = ablation_config(rid, data='-')
        for k, v in r['train'].items():
            assert getattr(cfg.model, k, getattr(cfg, k, None)) == v
        assert cfg.lr_min_ratio == 1.0 and cfg.model.hidden_size == base.model.hidden_size
    assert ablation_net_calls('trm') == {'forward': 6, 'layers': 12, 'grad_layers': 6, 'depth': 12}
    assert ablation_net_calls('one_step')['grad_layers'] == 4 and ablation_net_calls('act')['forward'] == 12
    assert ablation_net_calls('recursion')['depth'] == 4 and ablation_net_calls('hrm')['depth'] == 24
    with pytest.raises(ValueError, match='lr_min_ratio'): ablation_config('trm', data='-', lr_min_ratio=0.1)


@pytest.fixture(scope='module')
def small6(tmp_path_factory):
    from trm_course.sudoku import sudoku_data
    return sudoku_data(6, n_train=40, n_aug=1, n_test=12, root=tmp_path_factory.mktemp('abl') / 'sudoku6')


@pytest.mark.parametrize('row', ['trm', 'hrm'])
def test_run_ablation_stops_at_both_goals(small6, row):
    r = run_ablation(row, seed=0, steps=4, cpu_seconds=0.5, eval_examples=12, data=small6, verbose=False,
                     global_batch_size=8, eval_batch_size=12)
    assert r['at_steps']['step'] == 4 and r['at_cpu']['cpu_seconds'] >= 0.5
    for k in ('at_steps', 'at_cpu'):
        assert r[k]['count'] == 12 and 0 <= r[k]['exact'] <= 1 and 0 <= r[k]['token'] <= 1
    assert r['net_calls'] == ablation_net_calls(row) and r['cpu_per_step'] > 0
    only_steps = run_ablation(row, seed=0, steps=2, cpu_seconds=None, eval_examples=12, data=small6, verbose=False,
                              global_batch_size=8, eval_batch_size=12)
    assert 'at_cpu' not in only_steps and only_steps['at_steps']['step'] == 2


def test_timed_steps_times_the_steps_only_and_stops_when_told():
    "timed_steps: n steps, or until on_step says stop; on_step runs off the clock; CPU seconds of the steps returned."
    import time
    from trm_course.ablations import timed_steps

    def burn(seconds):
        t = time.process_time()
        while time.process_time() - t < seconds: pass

    class Fake:
        step = 0
        def train_step(self, batch):
            self.step += 1; burn(0.002)                              # 2 ms of CPU per step
            return {'batch': batch}
    tr, seen = Fake(), []
    cpu = timed_steps(tr, iter(range(100)), 5, on_step=lambda m, c: seen.append((m['batch'], c)))
    assert tr.step == 5 and [b for b, _ in seen] == [0, 1, 2, 3, 4] and 0.01 <= cpu < 0.05 and seen[-1][1] == cpu
    assert timed_steps(Fake(), iter(range(100)), 3, on_step=lambda m, c: burn(0.03)) < 0.05   # on_step: off the clock
    tr = Fake()
    timed_steps(tr, iter(range(100)), on_step=lambda m, c: tr.step >= 7)
    assert tr.step == 7
    with pytest.raises(ValueError, match='n=, on_step='): timed_steps(tr, iter(range(3)))


def test_run_ablation_refuses_no_budget():
    with pytest.raises(ValueError, match='cpu_seconds'): run_ablation('trm', cpu_seconds=None, steps=None)
    with pytest.raises(ValueError, match='must be > 0'): run_ablation('trm', cpu_seconds=-1)


def fake_runs():
    runs = []
    for i, rid in enumerate(ABLATIONS):
        for s in range(3):
            e = 0.1 * i + 0.01 * s
            runs.append({'row': rid, 'seed': s, 'net_calls': ablation_net_calls(rid), 'params': 1, 'cpu_per_step': 0.1,
                         'at_cpu': {'step': 10, 'cpu_seconds': 1.0, 'exact': e, 'token': 0.5, 'count': 5},
                         'at_steps': {'step': 5, 'cpu_seconds': 0.5, 'exact': e / 2, 'token': 0.4, 'count': 5}})
    return runs


def test_summary_table_figure_and_files(tmp_path):
    runs = fake_runs()
    summary = summarise(runs)
    assert [d['row'] for d in summary] == list(ABLATIONS)
    m, s = summary[1]['cpu_exact']
    assert math.isclose(m, 0.11) and math.isclose(s, 0.01)
    text = format_ablations(summary)
    assert '11.0 ±  1.0' in text and len(text.splitlines()) == 1 + len(ABLATIONS)
    plot_ablations(summary, tmp_path / 'a.png', title=ablation_title({'cpu_seconds': 1, 'steps': 5}, runs))
    assert (tmp_path / 'a.png').stat().st_size > 1000
    save_ablations(runs, tmp_path / 'r.json', {'x': 1})
    assert load_ablations(tmp_path / 'r.json') == (runs, {'x': 1})
    (tmp_path / 'bad.json').write_text(json.dumps({'curves': {}}))
    with pytest.raises(ValueError, match='runs'): load_ablations(tmp_path / 'bad.json')
    with pytest.raises(FileNotFoundError): load_ablations(tmp_path / 'missing.json')


def test_recorded_sweep_is_complete_and_matches_its_table():
    if recorded_result('ablations.json') is None: pytest.skip('no recorded sweep')
    runs, meta = load_ablations()
    summary = summarise(runs)
    assert [d['row'] for d in summary] == list(ABLATIONS) and all(d['seeds'] == [0, 1, 2] for d in summary)
    assert all(r['at_steps']['step'] == meta['steps'] and r['at_cpu']['cpu_seconds'] >= meta['cpu_seconds'] for r in runs)
    assert format_ablations(summary) in recorded_result('ablations.txt').read_text()


# ------------------------------------------------------------------ the converged sweep's record (issue 19)
from trm_course.ablations import (EXTRA_ROWS, direction, direction_sentence, equal_compute, format_compute,  # noqa: E402
                                  format_sweep, format_sweep_curves, lr_grid, plot_sweep, plot_sweep_curves, read_sweep,
                                  summarise_sweep, sweep_regimes, sweep_report, sweep_rows)


def _run(row, seed, test, train=1.0, val=None, lr=2e-3, steps=4, n=100):
    "A synthetic record of one run: exact accuracies as given (token = (1 + exact) / 2), a 2-point curve."
    res = lambda e: {'exact': e, 'token': (1 + e) / 2, 'count': 10}
    val = test if val is None else val
    return {'kind': 'run', 'row': row, 'seed': seed, 'n_train': n, 'n_aug': 20, 'steps': steps, 'lr': lr,
            'diverged': False, 'net_calls': ablation_net_calls(row), 'epochs': 3, 'cpu_train_s': 1.0, 'cpu_eval_s': 0.5,
            'header': {'commit': 'abc1234'}, 'final': {'train': res(train), 'val': res(val), 'test': res(test)},
            'curve': [{'step': s, 'train_exact': train * s / steps, 'val_exact': val * s / steps} for s in (2, steps)]}


def _log():
    runs = [_run('trm', 0, 0.5, lr=1e-3), _run('trm', 0, 0.8, val=0.7, lr=4e-3)]      # the lr grid: 2e-3 wins on val
    for s, (t, a, e) in enumerate([(0.90, 0.80, 0.95), (0.92, 0.85, 0.91), (0.88, 0.70, 0.89)]):
        runs += [_run('trm', s, t), _run('attention', s, a), _run('no_ema', s, e)]
    runs += [_run('separate', 0, 0.2, train=0.99), _run('separate', 1, 0.3, train=0.99), _run('recursion_T1n2', 0, 0.9)]
    return runs


def test_extra_rows_resolve_and_change_what_they_say():
    assert list(sweep_rows()) == list(ABLATIONS) + list(EXTRA_ROWS)
    assert ablation_id('recursion_T1n2') == ablation_id('w/ T=1, n=2') == 'recursion_T1n2'
    assert ablation_config('recursion_T1n5', data='-')[0].model.n == 5
    assert ablation_net_calls('recursion_T1n2')['grad_layers'] == ablation_net_calls('trm')['grad_layers']


def test_read_sweep_skips_torn_lines_and_errors(tmp_path):
    p = tmp_path / 'log.jsonl'
    assert read_sweep(p) == []                                               # not there yet: nothing finished
    p.write_text(json.dumps({'kind': 'run', 'row': 'trm'}) + '\n' + json.dumps({'kind': 'error', 'row': 'x'}) + '\n'
                 + '{"kind": "run", "ro')
    assert read_sweep(p) == [{'kind': 'run', 'row': 'trm'}]


def test_regime_and_lr_chosen_on_val():
    runs = _log()
    assert lr_grid(runs, 100, 4) == {1e-3: (0.5, 0.75), 2e-3: (0.9, 0.95), 4e-3: (0.7, 0.85)}
    (g,) = sweep_regimes(runs)
    assert (g['n_train'], g['steps'], g['lr']) == (100, 4, 2e-3) and g['runs'] == 12   # not 4e-3: better test, worse val
    again = runs + [_run('trm', 0, 0.1)]                                    # a run logged twice: the first one counts
    assert lr_grid(again, 100, 4)[2e-3] == (0.9, 0.95) and summarise_sweep(again)[0]['by_seed'][0]['test'] == 0.9


def test_summarise_sweep_means_gaps_and_paired_differences():
    s = {d['row']: d for d in summarise_sweep(_log())}
    assert list(s) == ['trm', 'separate', 'no_ema', 'attention', 'recursion_T1n2']       # sweep_rows() order
    assert s['trm']['seeds'] == [0, 1, 2] and math.isclose(s['trm']['test_exact'][0], 0.9)
    assert math.isclose(s['trm']['test_exact'][1], 0.02) and math.isclose(s['trm']['gap'][0], 0.1)
    a = s['attention']
    assert [round(x, 6) for x in a['diff'].values()] == [-0.1, -0.07, -0.18]
    assert math.isclose(a['diff_ms'][0], -0.35 / 3) and math.isclose(a['test_token'][0], (1 + 2.35 / 3) / 2)
    assert math.isclose(s['separate']['gap_diff'][0], (0.69 + 0.61) / 2)          # (0.99 - 0.2) - 0.1, (0.99 - 0.3) - 0.08
    assert s['trm']['calls'] == 6 and s['trm']['layer_calls'] == 12 and s['trm']['epochs'] == 3
    with pytest.raises(ValueError, match='no runs'): summarise_sweep(_log(), n_train=300)


def test_equal_compute_reads_each_row_at_trms_budget():
    s = {d['row']: d for d in summarise_sweep(_log())}
    assert s['trm']['ec_budget'] == 4 * 12 and s['trm']['ec_step'] == 4 and s['trm']['ec_bound'] == ''
    t = {d['row']: d for d in equal_compute(list(s.values()), budget=2 * 12)}           # half TRM's layer calls
    assert t['trm']['ec_step'] == 2 and math.isclose(t['trm']['ec_val_exact'][0], 0.45)
    hrm = next(d for d in summarise_sweep(_log() + [_run('hrm', 0, 0.3)]) if d['row'] == 'hrm')   # 48 calls a step
    assert hrm['ec_step'] == 0 and math.isnan(hrm['ec_val_exact'][0])
    t1 = next(d for d in summarise_sweep(_log()) if d['row'] == 'recursion_T1n2')       # 6 a step: ran out first
    assert t1['ec_bound'] == '>=' and t1['ec_step'] == 4


def test_direction_needs_three_seeds_of_the_papers_sign():
    s = {d['row']: d for d in summarise_sweep(_log())}
    assert direction(s['attention'])['verdict'] == 'reproduces' and direction(s['attention'])['paper_diff'] == -12.7
    assert direction(s['no_ema'])['verdict'] == 'does not reproduce (the sign differs between seeds)'
    assert direction(s['separate'])['verdict'] == 'not yet measured (2 of 3 seeds)'
    assert direction(s['recursion_T1n2'])['verdict'] is None and direction(s['trm'])['verdict'] is None
    up = summarise_sweep([r | {'final': {**r['final'], 'test': {'exact': 0.99, 'token': 1}}} if r['row'] == 'attention' else r
                          for r in _log()])
    assert direction(next(d for d in up if d['row'] == 'attention'))['verdict'].endswith('(the opposite on every seed)')
    line = direction_sentence(direction(s['attention']))
    assert line.startswith('w/ self-attention: paper -12.7 points; here (w/ self-attention) -11.7 ± 5.7 points over 3 seeds')
    assert 'reproduces' in line and '(not in the paper)' in direction_sentence(direction(s['recursion_T1n2']))


def test_a_row_that_does_not_learn_gets_sign_only():
    "A row below TRM on every seed that does not fit its own training puzzles is not the paper's effect: 'sign only'."
    runs = [r for r in _log() if r['row'] != 'attention']
    runs += [_run('attention', s, 0.0, train=t) for s, t in enumerate([0.0, 0.1, 0.6])]     # mean train 0.233 < 0.5
    att = next(d for d in summarise_sweep(runs) if d['row'] == 'attention')
    v = direction(att)['verdict']
    assert v.startswith('sign only: the row does not learn (train exact 23.3% < 50%)'), v
    fits = [r for r in runs if r['row'] != 'attention'] + [_run('attention', s, 0.0, train=0.6) for s in range(3)]
    assert direction(next(d for d in summarise_sweep(fits) if d['row'] == 'attention'))['verdict'] == 'reproduces'


def test_sweep_tables_and_figures(tmp_path):
    runs = _log()
    summary = summarise_sweep(runs)
    text = format_sweep(summary)
    assert len(text.splitlines()) == 1 + len(summary) and ' 90.0 ±  2.0' in text and '-11.7 ±  5.7' in text
    assert '99.0 ±  0.0' in text.splitlines()[2] and '0,1' in text.splitlines()[2]
    assert 'layer calls/run' in format_compute(summary) and '>=' in format_compute(summary)
    rep = sweep_report(runs)
    assert rep.startswith('## 6x6 Sudoku, N=100 base puzzles x 21 copies, 4 steps (3 epochs), lr 0.002')
    assert text in rep and '0.001: 50.0%, 0.002: 90.0%, 0.004: 70.0%' in rep
    assert len(format_sweep_curves(runs).splitlines()) == len(runs)
    plot_sweep(summary, tmp_path / 'a.png', title='t'); plot_sweep_curves(summary, tmp_path / 'b.png')
    assert (tmp_path / 'a.png').stat().st_size > 1000 and (tmp_path / 'b.png').stat().st_size > 1000


def _chapter_output(cell_id):
    from pathlib import Path
    nb = json.loads((Path(__file__).resolve().parents[1] / 'nbs' / '22_ablations.ipynb').read_text())
    (cell,) = [c for c in nb['cells'] if c.get('id') == cell_id]
    return ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []))


def test_chapter_shows_the_recorded_sweep():
    "Chapter 22's table and verdicts are what the record gives today (re-execute the chapter when the record grows)."
    runs = read_sweep()
    shown = _chapter_output('a1b2000e')
    assert sweep_report(runs) in shown, ('chapter 22 does not show the table of benchmarks/results/'
                                         'ablations_converged.jsonl: re-run `tools/nbtool.py run nbs/22_ablations.ipynb`')
    verdicts = _chapter_output('a1b20019')
    for d in summarise_sweep(runs):
        if d['row'] != 'trm': assert direction_sentence(direction(d)) in verdicts, d['row']


# ------------------------------------------------------------------ a row's own learning rate (issue 19: the lr grid)
from trm_course.ablations import LR_RULE, format_lr_check, lr_flags, row_lrs, sweep_markdown  # noqa: E402


def _tune_log():
    "TRM's grid (2e-3 best on val), attention underfitting at 2e-3 and then tuned: its grid at seed 0, seeds 1, 2 at 4e-3."
    runs = [_run('trm', 0, 0.5, lr=1e-3), _run('trm', 0, 0.8, val=0.7, lr=4e-3)]
    runs += [_run('trm', s, 0.9) for s in range(3)] + [_run('no_ema', s, 0.8, train=0.95) for s in range(3)]
    runs += [_run('attention', s, 0.0, train=0.0) for s in (0, 1)]                       # underfits at the shared lr
    runs += [_run('attention', 0, 0.5, train=0.4, val=0.3, lr=1e-3),                    # better test, worse val: not it
             _run('attention', 0, 0.4, train=0.9, val=0.6, lr=4e-3)]
    runs += [_run('attention', s, t, train=0.9, lr=4e-3) for s, t in ((1, 0.45), (2, 0.35))]
    return runs


def test_lr_flags_underfitting_and_divergence_not_trm():
    "The declared rule flags a row that does not fit its training set where TRM does, or that diverged; never TRM."
    runs = _tune_log()
    assert list(lr_flags(runs, 100, 4)) == ['attention']                 # no_ema fits (95%): not flagged
    why = lr_flags(runs, 100, 4)['attention']
    assert why.startswith('underfits at the shared lr 0.002: train exact 0.0% (seeds 0,1) < 50%') and '100.0% >= 90%' in why
    bad = runs + [_run('separate', 0, 0.1, train=0.99) | {'diverged': True}]
    assert lr_flags(bad, 100, 4)['separate'] == 'diverged at the shared lr 0.002 (seed 0 of 0)'
    no_fit = [r | {'final': {**r['final'], 'train': {'exact': 0.4, 'token': 0.7, 'count': 10}}} if r['row'] == 'trm' else r
              for r in runs]
    assert lr_flags(no_fit, 100, 4) == {}                                 # TRM does not fit either: no underfit flag
    assert lr_flags(_log(), 100, 4) == {} and '< 50%' in LR_RULE and '>= 90%' in LR_RULE


def test_row_lr_chosen_on_val_and_its_seeds_averaged_alone():
    runs = _tune_log()
    lrs = row_lrs(runs, 100, 4)
    assert lrs['trm'] == {'lr': 2e-3, 'own': False, 'tried': {}, 'shared': 2e-3}
    assert lrs['no_ema']['lr'] == 2e-3 and not lrs['no_ema']['own']
    a = lrs['attention']
    assert a['own'] and a['lr'] == 4e-3 and a['tried'] == {2e-3: (0.0, 0.5), 1e-3: (0.3, 0.65), 4e-3: (0.6, 0.8)}
    s = {d['row']: d for d in summarise_sweep(runs)}
    att = s['attention']
    assert att['lr'] == 4e-3 and att['seeds'] == [0, 1, 2] and att['other_lr'] == [(1, 2e-3)]    # seed 1 at 2e-3: out
    assert math.isclose(att['test_exact'][0], 0.4) and att['lr_flag'].startswith('underfits')  # (0.4 + 0.45 + 0.35) / 3
    assert [round(x, 6) for x in att['diff'].values()] == [-0.5, -0.45, -0.55]                  # against TRM at 2e-3
    assert s['trm']['other_lr'] == [] and not s['trm']['lr_own'] and s['no_ema']['lr'] == 2e-3
    one = [r | {'lr_rule': 'own'} if r['row'] == 'no_ema' else r for r in _log()]   # the record says so: own, one lr
    assert row_lrs(one, 100, 4)['no_ema']['own'] and not row_lrs(_log(), 100, 4)['no_ema']['own']   # old lines: by lr


def test_tables_show_the_lrs_tried_and_the_lr_used():
    runs = _tune_log()
    summary = summarise_sweep(runs)
    line = next(x for x in format_sweep(summary).splitlines() if x.startswith('w/ self-attention'))
    assert line.endswith('0,1,2 at its own lr 0.004 (1 run(s) at other lrs not in the mean)')
    check = format_lr_check(summary)
    assert 'w/ self-attention: flagged: underfits' in check and 'no EMA' not in check
    assert 'seed 0 val exact by lr: 0.001: 30.0%, 0.002: 0.0%, 0.004: 60.0%' in check
    assert 'its seeds 0,1,2 ran at lr 0.004 and its mean is over them only' in check and 'seed 1 at lr 0.002' in check
    assert check in sweep_report(runs)
    md = next(x for x in sweep_markdown(summary) if x.startswith('| w/ self-attention'))
    assert md.endswith('| 0, 1, 2 (own lr 0.004, chosen on val: 0.001 30.0%, 0.002 0.0%, 0.004 60.0%) '
                       '(+1 at other lrs, not in the mean) |')
    plain = summarise_sweep(_log())                                        # nothing tuned: the tables as before
    assert 'own lr' not in '\n'.join(sweep_markdown(plain)) and 'own lr' not in format_sweep(plain)
    assert format_lr_check(plain).endswith('no row flagged or tuned: every row ran at the shared lr')
    flagged_only = summarise_sweep([r for r in runs if not (r['row'] == 'attention' and r['lr'] != 2e-3)])
    assert 'not tuned yet: its seeds ran at the shared lr' in format_lr_check(flagged_only)


# the benchmark's --tune-rows and --plan (benchmarks/bench_ablations_converged.py), with a fake trainer
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'benchmarks'))
import bench_ablations_converged as bac  # noqa: E402


def _fake_trainer(calls):
    "Records like run_one's: TRM is best at 2e-3 on val; attention underfits at 2e-3 and is best at 4e-3 on val."
    val = {'trm': {1e-3: 0.5, 2e-3: 0.7, 4e-3: 0.6}, 'attention': {1e-3: 0.2, 2e-3: 0.0, 4e-3: 0.4}}
    def run(row, seed, n, steps, lr, eval_every, header, models=None, dtype='float32', compile=False):
        calls.append((row, seed, lr))
        v = val.get(row, {}).get(lr, 0.5)
        train = 0.0 if (row, lr) == ('attention', 2e-3) else 1.0
        return _run(row, seed, v, train=train, lr=lr, steps=steps, n=n) | {
            'eval_every': eval_every, 'dtype': dtype, 'compile': compile, 'header': dict(header)}
    return run


def _args(tmp_path, *more):
    return bac.parser().parse_args(_argv_of(tmp_path, *more))


def test_tune_rows_plan_and_sweep(tmp_path, capsys):
    calls = []
    bac.sweep(_args(tmp_path), runner=_fake_trainer(calls))               # the shared-lr sweep
    assert calls == [('trm', 0, 1e-3), ('trm', 0, 2e-3), ('trm', 0, 4e-3)] + [
        (r, s, 2e-3) for s in (0, 1) for r in ('trm', 'attention', 'no_ema') if (r, s) != ('trm', 0)]
    runs = bac.read_log(Path(tmp_path / 'log.jsonl'))
    assert all(r['lr_rule'] == ('own' if r['row'] == 'trm' else 'shared') for r in runs)
    a = _args(tmp_path, '--tune-rows', 'attention')
    todo = bac.plan(a, runs)
    assert [(t['phase'], t['row'], t['seed'], t['lr']) for t in todo] == [
        (1, 'attention', 0, 1e-3), (1, 'attention', 0, 4e-3), (2, 'attention', 1, None)]   # 2e-3, seed 0: in the log
    assert bac.plan(_args(tmp_path, '--tune-rows', 'flagged'), runs) == todo       # the rule picks the same row
    text = bac.format_plan(a, runs, todo)
    assert 'phase 1: attention seed 0 N=100 steps 4 lr 0.001 (own lr)' in text
    assert "phase 2: attention seed 1 N=100 steps 4 lr best of attention's grid on val (own lr)" in text
    assert bac.main(['--plan', *_argv_of(tmp_path, '--tune-rows', 'attention')]) == 0
    assert 'phase 1: attention seed 0 N=100 steps 4 lr 0.004 (own lr)' in capsys.readouterr().out
    assert len(bac.read_log(Path(tmp_path / 'log.jsonl'))) == len(runs)          # --plan ran nothing
    calls.clear()
    bac.sweep(a, runner=_fake_trainer(calls))
    assert calls == [('attention', 0, 1e-3), ('attention', 0, 4e-3), ('attention', 1, 4e-3)]
    runs = bac.read_log(Path(tmp_path / 'log.jsonl'))
    assert bac.plan(a, runs) == [] and runs[-1]['lr_rule'] == 'own'
    att = next(d for d in summarise_sweep(runs) if d['row'] == 'attention')
    assert att['lr'] == 4e-3 and att['seeds'] == [0, 1] and att['other_lr'] == [(1, 2e-3)]
    with pytest.raises(SystemExit, match='not among the rows'): bac.plan(_args(tmp_path, '--tune-rows', 'layers4'), runs)


def _argv_of(tmp_path, *more):
    return ['--scratch', '--rows', 'trm', 'attention', 'no_ema', '--seeds', '0', '1', '--n-train', '100', '--steps', '4',
            '--lr-grid', '1e-3', '2e-3', '4e-3', '--log', str(tmp_path / 'log.jsonl'), '--no-models', *more]


def test_tune_rows_flagged_tunes_what_phase_2_flags(tmp_path):
    "From an empty log, 'flagged' tunes the rows that phase 2 shows underfitting, then runs their seeds at their lr."
    calls = []
    bac.sweep(_args(tmp_path, '--tune-rows', 'flagged'), runner=_fake_trainer(calls))
    assert calls[-3:] == [('attention', 0, 1e-3), ('attention', 0, 4e-3), ('attention', 1, 4e-3)] and len(calls) == 11


@pytest.mark.parametrize('record, rows_not_run', [('ablations_converged.jsonl', {'hrm_mlp_t'}),
                                                   ('less_is_more.jsonl', {'l8_T1n1'})])
def test_sweep_config_rebuilds_every_recorded_config(record, rows_not_run):
    """`sweep_config` (which bench_ablations_converged.run_config and less_is_more.arch_config call) gives every recorded
    run of chapters 22 and 22a exactly its stored `overrides` (keys, order, values), its resolved TrainConfig and its
    network calls, so a refactor of the config code cannot change a recorded configuration unnoticed."""
    from trm_course.ablations import SWEEP_RECIPE, read_sweep, sweep_config, sweep_rows
    from trm_course.hrm import VariantConfig, net_calls
    from trm_course.less_is_more import ARCHS
    from trm_course.recipes import run_identity
    path = recorded_result(record)
    if path is None: pytest.skip(f'no recorded {record}')
    specs = sweep_rows() if record.startswith('ablations') else ARCHS
    runs = read_sweep(path)
    assert runs
    for r in runs:
        stored = r['config']
        spec = specs[r['row']]
        cfg, _, over = sweep_config(spec, r['seed'], stored['overrides']['data'], r['lr'], r['steps'],
                                    stored['overrides']['out_dir'], r['dtype'], r['compile'])
        where = f"{record}: {r['row']} seed {r['seed']} lr {r['lr']}"
        assert stored['recipe'] == SWEEP_RECIPE == 'sudoku6_sweep', where
        assert list(json.loads(json.dumps(over)).items()) == list(stored['overrides'].items()), where
        assert run_identity(json.loads(json.dumps(cfg.to_dict(flat=True)))) == stored['resolved'], where
        assert net_calls(VariantConfig.from_trm(cfg.model, **spec['switches'])) == r['net_calls'], where
    assert set(specs) - {r['row'] for r in runs} <= rows_not_run       # every other row is checked against a record
