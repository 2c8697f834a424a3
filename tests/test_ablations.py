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
