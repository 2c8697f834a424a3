"""benchmarks/records.py (the header of every record, the manifest of benchmarks/results/, today's recipe against each
stored configuration) and the resume logic of benchmarks/bench_ablations_converged.py (issue 19)."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
import records  # noqa: E402


def test_results_folder():
    "Every file of benchmarks/results/ is in the manifest; every record has its header; every stored config is today's."
    problems = records.check_results(records.RESULTS)
    assert not problems, 'benchmarks/results/ needs attention (re-run the results named):\n' + '\n'.join(problems)


def _record(lr=3e-3, commit='abc1234'):
    from trm_course.recipes import get_recipe
    over = {'lr': lr, 'model.T': 1, 'seed': 2, 'out_dir': '/tmp/x'}
    cfg = get_recipe('sudoku6_cpu').replace(**over)
    head = {'command': 'python x.py', 'commit': commit, 'torch': '2', 'seeds': [2], 'load_start': [0, 0, 0],
            'cpu': 'cpu', 'threads': 1, 'scratch': False}
    return {'kind': 'run', 'row': 'trm', 'seed': 2, 'header': head, 'config': records.config_record(cfg, 'sudoku6_cpu', over)}


def _folder(tmp_path, recs, status='record', extra=()):
    d = tmp_path / 'results'; d.mkdir()
    (d / 'sweep.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in recs))
    for name in extra: (d / name).write_text('x')
    (d / records.MANIFEST).write_text(json.dumps({'files': {'sweep.jsonl': {'status': status, 'why': 'test'}}}))
    return d


def test_a_good_record_passes(tmp_path):
    assert records.check_results(_folder(tmp_path, [_record(), _record(lr=1e-3)])) == []


def test_a_doctored_record_fails(tmp_path):
    "A stored config that no longer matches the recipe + overrides is named, with the field; so is everything else."
    bad = _record()
    bad['config']['resolved']['model.n'] = 7                 # the recipe's n is 2: a record of another model
    bad['config']['resolved']['lr'] = 0.5                    # not the stated override
    problems = records.check_results(_folder(tmp_path, [_record(), bad]))
    assert len(problems) == 1 and 'sweep.jsonl run 1' in problems[0] and 're-run' in problems[0], problems
    assert "model.n: stored 7, today 2" in problems[0] and 'lr: stored 0.5, today 0.003' in problems[0]


def test_recipe_change_is_caught(tmp_path, monkeypatch):
    "When today's recipe changes, the old record is named (the comparison is with the library, not with itself)."
    d = _folder(tmp_path, [_record()])
    from trm_course.recipes import RECIPES
    r = RECIPES['sudoku6_cpu']
    monkeypatch.setitem(RECIPES, 'sudoku6_cpu', type(r)(r.name, r.task, r.published, r.config.replace(warmup_steps=99),
                                                        r.data_shape, r.notes))
    problems = records.check_results(d)
    assert len(problems) == 1 and 'warmup_steps: stored 50, today 99' in problems[0]


def test_a_field_added_after_the_record(tmp_path):
    """A record made before TrainConfig had a field (trm_course.recipes.ADDED_FIELDS) matches while today's recipe gives
    the field the value that is the old behaviour (sudoku6_sweep: no curriculum), and is named where the recipe sets
    anything else (sudoku6_cpu adopted a depth curriculum after such records were made)."""
    from trm_course.recipes import ADDED_FIELDS, get_recipe
    def before_the_field(recipe):            # what a run of `recipe` recorded before the field existed
        over = {'seed': 2, 'out_dir': '/tmp/x'}
        cfg = get_recipe(recipe).replace(**over, **ADDED_FIELDS)
        head = dict(_record()['header'])
        rec = {'kind': 'run', 'seed': 2, 'header': head, 'config': {'recipe': recipe, 'overrides': over,
                                                                     'resolved': json.loads(json.dumps(cfg.to_dict(flat=True)))}}
        for k in ADDED_FIELDS: del rec['config']['resolved'][k]
        return rec
    assert records.check_results(_folder(tmp_path, [before_the_field('sudoku6_sweep')])) == []
    assert get_recipe('sudoku6_cpu').curriculum_T1_steps > 0
    (tmp_path / 'later').mkdir()
    problems = records.check_results(_folder(tmp_path / 'later', [before_the_field('sudoku6_cpu')]))
    assert len(problems) == 1 and 'curriculum_T1_steps: not stored, today 1200' in problems[0], problems


def test_a_file_marked_not_current_keeps_its_old_configs(tmp_path):
    """A run made before a recipe change is named in a 'record' or 'legacy' file, and not in one whose manifest status
    says with a reason that it is not today's result (historical, superseded); its other checks still apply."""
    stale = _record()
    stale['config']['resolved']['dtype'] = 'float32' if stale['config']['resolved']['dtype'] != 'float32' else 'bfloat16'
    for status in ('record', 'legacy'):
        (tmp_path / status).mkdir()
        problems = records.check_results(_folder(tmp_path / status, [stale], status=status))
        assert len(problems) == 1 and 'dtype: stored' in problems[0] and 're-run' in problems[0], (status, problems)
    for status in records.NOT_CURRENT:
        (tmp_path / status).mkdir()
        assert records.check_results(_folder(tmp_path / status, [stale], status=status)) == [], status
        scratch = dict(stale, scratch=True)
        (tmp_path / (status + '2')).mkdir()
        assert any('marked scratch' in p for p in records.check_results(_folder(tmp_path / (status + '2'), [scratch], status=status)))


@pytest.mark.parametrize('change, needle', [
    (lambda d: (d / 'new.txt').write_text('x'), 'new.txt: not in MANIFEST.json'),
    (lambda d: (d / 'sweep.jsonl').unlink(), 'lists sweep.jsonl, which is not in'),
    (lambda d: (d / 'sweep.jsonl').write_text(json.dumps(_record(commit='abc1234-dirty')) + '\n'), 'not a clean tree'),
    (lambda d: (d / 'sweep.jsonl').write_text(json.dumps({**_record(), 'header': {'commit': 'abc'}}) + '\n'),
     'the header lacks'),
    (lambda d: (d / 'sweep.jsonl').write_text(json.dumps(_record() | {'scratch': True}) + '\n'), 'marked scratch'),
])
def test_folder_problems(tmp_path, change, needle):
    d = _folder(tmp_path, [_record()])
    change(d)
    problems = records.check_results(d)
    assert any(needle in p for p in problems), problems


def test_config_record_refuses_a_wrong_override():
    from trm_course.recipes import get_recipe
    with pytest.raises(ValueError, match="lr: stored 0.003, today 0.002"):
        records.config_record(get_recipe('sudoku6_cpu').replace(lr=3e-3), 'sudoku6_cpu', {})


def test_dirty_tree_is_refused(tmp_path):
    env = dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@t', GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@t')
    git = lambda *a: subprocess.run(['git', *a], cwd=tmp_path, env=env, check=True, capture_output=True)
    git('init', '-q'); (tmp_path / 'f.py').write_text('1'); git('add', 'f.py'); git('commit', '-qm', 'one')
    (tmp_path / "new.py").write_text("x")          # untracked code: dirty too
    with pytest.raises(records.DirtyTreeError, match="new.py"): records.require_clean_tree(tmp_path)
    (tmp_path / "new.py").unlink()
    commit = records.require_clean_tree(tmp_path)
    assert commit and not commit.endswith('-dirty')
    (tmp_path / 'f.py').write_text('2')
    with pytest.raises(records.DirtyTreeError, match=r'refusing to write a record from a dirty tree.*f\.py.*--scratch'):
        records.require_clean_tree(tmp_path)
    assert records.require_clean_tree(tmp_path, scratch=True).endswith('-dirty')


# ------------------------------------------------------------------ the converged sweep: resume
import bench_ablations_converged as bac  # noqa: E402


def _fake_runner(calls, stop_at=None):
    def run(row, seed, n, steps, lr, eval_every, header, models=None, dtype='float32', compile=False):
        if stop_at is not None and len(calls) == stop_at: raise KeyboardInterrupt   # killed during this run
        calls.append((row, seed, lr))
        val = {1e-3: 0.5, 2e-3: 0.7}[lr] if row == 'trm' and seed == 0 else 0.1
        res = {'exact': val, 'token': val, 'count': 1}
        return {'kind': 'run', 'row': row, 'seed': seed, 'n_train': n, 'steps': steps, 'lr': lr, 'eval_every': eval_every,
                'dtype': dtype, 'compile': compile, 'diverged': False, 'header': dict(header),
                'final': {'train': res, 'val': res, 'test': res}}
    return run


def test_sweep_resumes(tmp_path):
    "A finished run in the log is skipped; the run a kill interrupted (nothing written) is redone; the lr is chosen on val."
    argv = ['--scratch', '--rows', 'trm', 'no_ema', '--seeds', '0', '1', '--n-train', '100', '--steps', '5',
            '--lr-grid', '1e-3', '2e-3', '--log', str(tmp_path / 'log.jsonl'), '--no-models']
    a = bac.parser().parse_args(argv)
    calls = []
    with pytest.raises(KeyboardInterrupt):
        bac.sweep(a, runner=_fake_runner(calls, stop_at=3))
    assert calls == [('trm', 0, 1e-3), ('trm', 0, 2e-3), ('no_ema', 0, 2e-3)]   # grid, then lr 2e-3 (best val)
    assert len(bac.read_log(Path(a.log))) == 3
    calls2 = []
    runs = bac.sweep(a, runner=_fake_runner(calls2))
    assert calls2 == [('trm', 1, 2e-3), ('no_ema', 1, 2e-3)]                  # trm seed 0 at 2e-3 is the grid's run
    assert len(runs) == 5 and len({r['key'] for r in runs}) == 5
    calls3 = []
    bac.sweep(a, runner=_fake_runner(calls3))
    assert calls3 == []
    with open(a.log, 'a') as f: f.write('{"kind": "run", "row"')                  # a torn last line (kill mid-write)
    assert len(bac.read_log(Path(a.log))) == 5


def test_one_tiny_real_run(tmp_path, monkeypatch):
    "A real run (3 steps, tiny eval sets): its record holds the header, a config that matches today's recipe, a curve."
    monkeypatch.setattr(bac, 'VAL', slice(0, 8)); monkeypatch.setattr(bac, 'TEST', slice(8, 16))
    monkeypatch.setattr(bac, 'TRAIN_SUBSET', 8)
    a = bac.parser().parse_args(['--scratch', '--rows', 'trm', '--seeds', '0', '--n-train', '40', '--steps', '3',
                                 '--eval-every', '2', '--log', str(tmp_path / 'log.jsonl'), '--models', str(tmp_path / 'm')])
    runs = bac.sweep(a)
    assert len(runs) == 1
    r = runs[0]
    assert [p['step'] for p in r['curve']] == [2, 3] and r['final']['test']['count'] == 8
    assert r['header']['scratch'] and 'load_end' in r['header'] and r['config']['overrides']['max_steps'] == 3
    assert records.config_diff(r['config']) == []
    assert Path(r['model_path']).exists() and r['net_calls']['forward'] == 6
    assert 'TRM (T=2, n=2)' in bac.report(runs)


def test_choose_regime():
    "The pilot rule: the smallest N whose best val exact >= 60%, steps where its val curve reaches 90% or plateaus."
    c = lambda vals: [{'step': 250 * (i + 1), 'val_exact': v} for i, v in enumerate(vals)]
    pilot = [{'row': 'trm', 'n_train': 100, 'curve': c([0, .2, .4, .5, .5]), 'cpu_train_s': 10, 'step_reached': 1250},
             {'row': 'trm', 'n_train': 300, 'curve': c([0, .3, .6, .7, .8, .805, .81]), 'cpu_train_s': 10, 'step_reached': 1750}]
    assert bac.choose_regime(pilot)['n_train'] == 300 and bac.choose_regime(pilot)['steps'] == 1250
    pilot[1]['curve'] = c([0, .3, .6, .7, .92, .95])
    assert bac.choose_regime(pilot)['steps'] == 1250
    pilot[1]['curve'] = c([0, .3, .5])                                  # none reaches 60%: the largest N
    r = bac.choose_regime(pilot)
    assert r['n_train'] == 300 and r['steps'] == 1000                   # plateau at 750, at least 1000
    pilot[1]['curve'] = c([.1] * 11 + [.7])                            # late: capped at 2000 (budget)
    assert bac.choose_regime(pilot)['steps'] == 2000


def test_a_failing_run_does_not_stop_the_sweep(tmp_path):
    "A run that raises is logged as an error (not as finished) and the sweep goes on; a restart tries it again."
    a = bac.parser().parse_args(['--scratch', '--rows', 'trm', 'no_ema', '--seeds', '0', '--n-train', '100', '--steps',
                                 '5', '--lr-grid', '1e-3', '--log', str(tmp_path / 'log.jsonl'), '--no-models'])
    calls, ok = [], _fake_runner([])
    def flaky(row, *args, **kw):
        calls.append(row)
        if row == 'no_ema' and calls.count('no_ema') == 1: raise RuntimeError('boom')
        return ok(row, *args, **kw)
    assert [r['row'] for r in bac.sweep(a, runner=flaky)] == ['trm']
    assert [r['row'] for r in bac.sweep(a, runner=flaky)] == ['trm', 'no_ema'] and calls == ['trm', 'no_ema', 'no_ema']


def test_default_rows():
    "Every Table 1 row is in the sweep by default, plus the confound rows but the costly hrm_mlp_t (--rows adds it)."
    from trm_course.ablations import ABLATIONS
    assert set(ABLATIONS) < set(bac.default_rows()) and 'hrm_mlp_t' not in bac.default_rows()
    assert {'recursion_T1n2', 'recursion_T1n5'} < set(bac.default_rows()) and 'hrm_mlp_t' in bac.rows()


# ------------------------------------------------------------------ bench_learning_curves: its runs carry the header
import bench_learning_curves as blc  # noqa: E402


def test_learning_curves_runs_carry_the_header(tmp_path, monkeypatch):
    """A tiny run of bench_learning_curves.py writes each run's header and resolved config under 'runs', which
    check_results checks once the file is a record; the format before the header rule fails as a record."""
    import torch
    from trm_course.experiments import load_curves
    from trm_course.sudoku import build_sudoku4_data
    root = build_sudoku4_data(tmp_path / 'data', n_train=80, n_aug=1, n_test=16, seed=0)   # >= one batch of 64 puzzles
    monkeypatch.setattr(blc, 'runs', lambda: [('4x4 sudoku4_cpu', 'sudoku4_cpu', lambda: root)])
    threads = torch.get_num_threads()
    try: blc.main(['--scratch', '--minutes4', '0.02', '--minutes6', '0', '--eval-seconds', '0.5', '--out', str(tmp_path / 'out')])
    finally: torch.set_num_threads(threads)
    path = tmp_path / 'out' / 'learning_curves.json'
    curves, meta = load_curves(path)                                      # what chapter 17 and readme_rows read
    assert list(curves) == ['4x4 sudoku4_cpu, seed 0'] and meta['runs']['4x4 sudoku4_cpu, seed 0']['recipe'] == 'sudoku4_cpu'
    d = json.loads(path.read_text())
    [run] = d['runs']
    assert run['header']['scratch'] and {'command', 'commit', 'torch', 'seeds', 'load_start', 'load_end', 'cpu', 'threads'} <= set(run['header'])
    assert records.config_diff(run['config']) == [] and run['config']['resolved']['seed'] == 0
    res = tmp_path / 'results'; res.mkdir()
    def check(doc):
        (res / 'learning_curves.json').write_text(json.dumps(doc))
        (res / records.MANIFEST).write_text(json.dumps({'files': {'learning_curves.json': {'status': 'record'}}}))
        return records.check_results(res)
    assert any('marked scratch' in p for p in check(d))
    run['header'] |= {'scratch': False, 'commit': 'abc1234'}             # as if run from a clean tree
    assert check(d) == []
    legacy = {'meta': d['meta'], 'curves': d['curves']}                  # the format before the header rule
    assert any('the header lacks' in p for p in check(legacy))
