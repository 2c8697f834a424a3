"benchmarks/bench_time_to_accuracy.py: its record format, its resume logic and its training schedule, on a tiny budget."
import importlib.util, json, sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'benchmarks'))
import records                                           # noqa: E402  (benchmarks/records.py)
torch.set_num_threads(1)


@pytest.fixture()
def bench(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location('bench_tta', ROOT / 'benchmarks' / 'bench_time_to_accuracy.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    data = dict(size=6, n_train=40, n_aug=1, n_test=12, seed=0, root=tmp_path / 'sudoku6')
    monkeypatch.setitem(mod.TASKS, 'tiny6', dict(recipe='sudoku6_cpu', data=('sudoku', data), held_out=12, eval_batch=12,
                                                 targets=(0.0, 1.01), eval_examples=64, max_cpu=0.6))
    return mod


def test_records_resume_and_report(bench, tmp_path, monkeypatch):
    log = tmp_path / 'tta.jsonl'
    argv = ['--tasks', 'tiny6', '--variants', 'today', 'depth_ramp', '--seeds', '0', '--log', str(log), '--scratch']
    bench.main(argv)
    recs = [json.loads(l) for l in log.read_text().splitlines()]
    assert [(r['variant'], r['task'], r['seed']) for r in recs] == [('today', 'tiny6', 0), ('depth_ramp', 'tiny6', 0)]
    for r in recs:
        for k in ('header', 'load_start', 'load_end', 'config', 'curve', 'schedule'):
            assert k in r, k
        h = r['header']
        assert h['torch'] == torch.__version__ and h['threads'] == 1 and 'bench_time_to_accuracy.py' in h['command']
        assert h['scratch'] and h['seeds'] == [0] and {'commit', 'cpu', 'load_start', 'load_end'} <= set(h)
        assert r['config']['recipe'] == 'sudoku6_cpu' and not records.config_diff(r['config'])   # recipe + overrides
        res = r['config']['resolved']
        assert res['model.hidden_size'] == 64 and res['model.N_sup'] == 4 and res['curriculum_T1_steps'] == 0
        first = r['reached']['0.0']                      # target 0: reached at the first evaluation (64 examples)
        assert first['examples'] == 64 and first['cpu_s'] > 0 and first['step'] == 64 // res['global_batch_size']
        assert r['reached']['1.01'] is None and r['stop'].startswith('CPU cap') and r['cpu_s'] >= 0.6
        assert all(c['count'] == 12 for c in r['curve'])                    # the fixed held-out set, every time
        assert [c['examples'] for c in r['curve']] == [64 * (i + 1) for i in range(len(r['curve']))]
    assert recs[1]['schedule'] == {'T': [[0, 1], [400, 2]], 'n': [[0, 1], [200, 2]]}
    # a restart skips the finished runs; a torn last line (a kill while writing) is skipped, the next record is whole
    with open(log, 'a') as f: f.write('{"kind": "run", "variant": "tod')
    monkeypatch.setattr(bench, 'one_run', lambda *a: pytest.fail('a finished run was trained again'))
    bench.main(argv)
    # the same runs with 2 torch threads are other runs (a wall-time record): they are not skipped
    trained = []
    monkeypatch.setattr(bench, 'one_run', lambda variant, task, seed, args: trained.append((variant, args.threads)) or dict(recs[0]))
    monkeypatch.setattr(bench, 'append_record', lambda *a: None)
    bench.main(argv + ['--threads', '2'])
    torch.set_num_threads(1)
    assert trained == [('today', 2), ('depth_ramp', 2)]
    monkeypatch.undo()
    assert len(bench.read_log(log)) == 2
    bench.append_record(log, dict(recs[0], seed=1))
    assert [r['seed'] for r in bench.read_log(log)] == [0, 0, 1]
    text = bench.write_report(log)
    assert 'tiny6' in text and 'today' in text and 'depth_ramp' in text and '[>1]' in text
    assert log.with_suffix('.txt').read_text() == text


def test_schedule_trains_small_and_evaluates_the_final_model(bench, tmp_path):
    with pytest.raises(ValueError, match='schedule key'): bench.parse_schedule({'L': [[0, 1]]})
    with pytest.raises(ValueError, match='increasing'): bench.parse_schedule({'T': [[5, 1]]})
    with pytest.raises(ValueError, match='increasing'): bench.parse_schedule({'n': [[0, 1], [0, 2]]})
    data = bench.task_data('tiny6')
    cfg, sched, _ = bench.make_config('depth_ramp', 'tiny6', 0, data, str(tmp_path / 'run'))
    tr = bench.Trainer(cfg, verbose=False)
    seen = []
    class Spy(bench.Callback):
        def on_step_end(self, tr, m): seen.append((tr.model.model.cfg.T, tr.model.model.cfg.n, tr.model.model.cfg.N_sup))
    inner = tr.train_step
    def spy_step(batch):
        seen.append(('train', tr.model.model.cfg.T, tr.model.model.cfg.n, tr.model.model.cfg.N_sup))
        return inner(batch)
    tr.train_step = spy_step
    sch = bench.TrainSchedule({'T': [[0, 1], [2, 2]], 'n': [[0, 1], [1, 2]], 'N_sup': [[0, 1], [3, 4]]})
    tr.fit(steps=4, callbacks=[sch, Spy()])
    train = [s for s in seen if s[0] == 'train']
    assert train == [('train', 1, 1, 1), ('train', 1, 2, 1), ('train', 2, 2, 1), ('train', 2, 2, 4)]
    assert [s for s in seen if s[0] != 'train'] == [(2, 2, 4)] * 4      # outside a step: the final model
    assert tr.train_step == spy_step                                      # the wrapper is gone after fit


def test_the_library_curriculum_is_the_benchmark_schedule(bench, tmp_path):
    """TrainConfig's depth curriculum (chapter 15: curriculum_T1_steps / curriculum_n1_steps) trains exactly what the
    benchmark's TrainSchedule callback trained for the same T and n schedule: the same weights, bit for bit, so a
    recipe that adopts it is the variant that was measured."""
    data = bench.task_data('tiny6')
    cfg, _, _ = bench.make_config('today', 'tiny6', 0, data, str(tmp_path / 'a'))
    assert (cfg.curriculum_T1_steps, cfg.curriculum_n1_steps) == (0, 0), "'today' pins the curriculum off"
    a = bench.Trainer(cfg.replace(curriculum_T1_steps=3, curriculum_n1_steps=2), verbose=False)
    a.fit(steps=5, callbacks=[])
    b = bench.Trainer(cfg.replace(out_dir=str(tmp_path / 'b')), verbose=False)
    b.fit(steps=5, callbacks=[bench.TrainSchedule({'T': [[0, 1], [3, 2]], 'n': [[0, 1], [2, 2]]})])
    c = bench.Trainer(cfg.replace(out_dir=str(tmp_path / 'c')), verbose=False)
    c.fit(steps=5, callbacks=[])
    sa, sb, sc = (t.model.state_dict() for t in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa), 'the library curriculum = the measured schedule'
    assert not all(torch.equal(sa[k], sc[k]) for k in sa), 'and it is not the run without a curriculum'
    assert a.model.model.cfg.T == 2 and a.model.model.cfg.n == 2


def test_a_curriculum_needs_a_model_with_a_depth(bench, tmp_path):
    "A model built without `.model.cfg.T` / `.n` (a `build` of another kind) cannot take a curriculum: one clear error."
    cfg, _, _ = bench.make_config('today', 'tiny6', 0, bench.task_data('tiny6'), str(tmp_path / 'a'))
    with pytest.raises(ValueError, match='curriculum_T1_steps'):
        bench.Trainer(cfg.replace(curriculum_T1_steps=1), verbose=False, build=lambda m, c: torch.nn.Linear(1, 1))
    with pytest.raises(ValueError, match='curriculum_n1_steps=-1'):
        cfg.replace(curriculum_n1_steps=-1)


def test_bf16_weights_bench(tmp_path, monkeypatch):
    "benchmarks/bench_bf16_weights.py: one record a seed (bfloat16-trained EMA weights scored with both forwards), resumable."
    spec = importlib.util.spec_from_file_location('bench_bf16w', ROOT / 'benchmarks' / 'bench_bf16_weights.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from trm_course.sudoku import sudoku_data
    root = sudoku_data(size=6, n_train=40, n_aug=1, n_test=12, seed=0, root=tmp_path / 'sudoku6')
    monkeypatch.setattr(mod, 'task_data', lambda task: root)
    log = tmp_path / 'bw.jsonl'
    mod.main(['--seeds', '0', '--steps', '3', '--log', str(log), '--scratch'])
    mod.main(['--seeds', '0', '--steps', '3', '--log', str(log), '--scratch'])      # in the log already: skipped
    recs = [json.loads(l) for l in log.read_text().splitlines()]
    assert len(recs) == 1 and recs[0]['steps'] == 3 and recs[0]['header']['scratch']
    r = recs[0]
    assert r['config']['resolved']['dtype'] == 'bfloat16' and r['config']['recipe'] == 'sudoku6_cpu'
    assert r['bfloat16_forward']['count'] == r['float32_forward']['count'] == 12
    assert r['difference_points'] == round(100 * (r['float32_forward']['exact'] - r['bfloat16_forward']['exact']), 2)
