"ARC evaluation (trm_course.arc_eval): voting over augmented copies, pass@K, submissions."
import hashlib, json, os

import numpy as np
import pytest
import torch

from trm_course.arc_eval import (ArcEvaluator, SubmissionError, grid_hash, score_submission, validate_submission,
                                 write_submission, load_submission, format_table)
from trm_course.recipes import ARC_PASS_KS
from arc_eval_fixtures import arc1_tasks, make_test_split, noisy_predictions, summary


@pytest.fixture(scope='module')
def tasks():
    return arc1_tasks()


@pytest.fixture(scope='module')
def ex(tasks):
    return make_test_split(tasks, num_aug=24)


def run(tasks, names, preds, q, batch=None, **kw):
    ev = ArcEvaluator(tasks, **{k: v for k, v in kw.items() if k != 'inputs' and k != 'test_index'})
    ev.begin()
    extra = {k: kw[k] for k in ('inputs', 'test_index') if k in kw}
    n = len(names); batch = batch or n
    for s in range(0, n, batch):
        ev.update(names[s:s + batch], preds[s:s + batch], q[s:s + batch], **{k: v[s:s + batch] for k, v in extra.items()})
    return ev.result()


def test_grid_hash_is_the_reference_digest():
    g = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert grid_hash(g) == hashlib.sha256(b'\x02\x03' + g.tobytes()).hexdigest()
    assert grid_hash(g) != grid_hash(g.reshape(3, 2))


def test_oracle_scores_100_through_every_transform(tasks, ex):
    assert set(ex['tids']) == set(range(8)), 'the fixture must exercise all 8 dihedral transforms'
    q = np.random.default_rng(1).normal(size=len(ex['names']))
    res = run(tasks, ex['names'], torch.as_tensor(ex['labels']), torch.as_tensor(q), batch=37, inputs=ex['inputs'])
    assert res.scores == {k: 1.0 for k in ARC_PASS_KS}
    assert all(len(c) == 1 and c[0].votes == 25 for c in res.ranked.values())
    assert score_submission(res.submission, tasks)['score'] == 1.0


def test_integer_identifiers_and_padding(tasks, ex):
    ids = np.array([ex['identifiers'].index(n) for n in ex['names']] + [0])
    ev = ArcEvaluator(tasks, identifiers=ex['identifiers']); ev.begin()
    ev.update(torch.as_tensor(ids), np.concatenate([ex['labels'], np.zeros((1, 900), np.uint8)]),
              np.zeros(len(ids)), inputs=np.concatenate([ex['inputs'], np.zeros((1, 900), np.uint8)]))
    res = ev.result()
    assert res.scores[1] == 1.0 and res.counts['padding'] == 1


def test_wrong_answers_score_zero(tasks, ex):
    res = run(tasks, ex['names'], ex['inputs'], np.zeros(len(ex['names'])), inputs=ex['inputs'])
    assert res.scores == {k: 0.0 for k in ARC_PASS_KS}
    assert score_submission(res.submission, tasks)['score'] == 0.0


@pytest.mark.parametrize('q_right,expect', [(2.0, 1.0), (-2.0, 0.0)])
def test_tie_in_votes_resolved_by_q(tasks, ex, q_right, expect):
    t0 = tasks[0]
    sel = [j for j, n in enumerate(ex['names']) if n.split('|||')[0] == t0.id][:24]
    preds = ex['labels'][sel].copy(); preds[12:] = ex['inputs'][sel][12:]
    q = np.where(np.arange(24) < 12, q_right, 0.0)
    res = run([t0], [ex['names'][j] for j in sel], preds, q, test_index=ex['test_index'][sel])
    c = res.ranked[(t0.id, 0)]
    assert [x.votes for x in c] == [12, 12]
    assert res.scores[1] == expect and res.scores[2] == 1.0


def test_two_test_inputs_score_fractionally(tasks, ex):
    t2 = next(t for t in tasks if t.id == '6ea4a07e')
    sel = [j for j, n in enumerate(ex['names']) if n.split('|||')[0] == t2.id]
    preds = np.where((ex['test_index'][sel] == 0)[:, None], ex['labels'][sel], ex['inputs'][sel])
    names = [ex['names'][j] for j in sel]
    frac = run([t2], names, preds, np.zeros(len(sel)), inputs=ex['inputs'][sel])
    strict = run([t2], names, preds, np.zeros(len(sel)), inputs=ex['inputs'][sel], task_rule='all')
    assert frac.scores[1] == 0.5 and strict.scores[1] == 0.0
    assert frac.per_task[0]['answer_rank'] == [1, None]
    assert score_submission(frac.submission, [t2])['score'] == 0.5
    assert score_submission(frac.submission, [t2], rule='all')['score'] == 0.0


def test_malformed_predictions_never_crash(tasks, ex):
    t0 = tasks[0]; j = ex['names'].index(t0.id)
    bad = np.stack([ex['labels'][j].astype(np.int64)] * 5)
    bad[0] = 0              # all pad: empty crop
    bad[1, 0] = 15          # out of vocabulary first token: empty crop
    bad[2, 31] = -3         # negative token inside the grid: smaller grid
    bad[3, 0] = 1           # eos first: empty
    for keep in (False, True):
        ev = ArcEvaluator([t0], keep_empty=keep); ev.begin()
        ev.update([ex['names'][j]] * 5, torch.as_tensor(bad), torch.tensor([0., 0, 0, 0, 1]), inputs=ex['inputs'][[j] * 5])
        res = ev.result()
        assert res.counts['empty'] == 3 and res.counts['out_of_vocab'] == 2
        assert res.counts['votes'] == (5 if keep else 2)
        assert res.answer_rank[(t0.id, 0)] == (2 if keep else 1)    # keep_empty: the empty grid (3 votes) comes first
        validate_submission(res.submission, [t0])                     # placeholder, never an empty grid
        assert 'empty grid' in res.messages['empty'][0]


def test_unknown_and_unmatched_rows_are_skipped(tasks, ex):
    ev = ArcEvaluator(tasks[:1]); ev.begin()
    other = ex['names'].index(tasks[1].id)
    mine = ex['names'].index(tasks[0].id)
    ev.update([ex['names'][other], ex['names'][mine]], ex['labels'][[other, mine]], [0., 0.],
              inputs=ex['inputs'][[other, other]])
    res = ev.result()
    assert res.counts['unknown_task'] == 1 and res.counts['unmatched_input'] == 1 and res.counts.get('votes', 0) == 0
    assert res.counts['no_predictions'] == 1 and res.scores[1] == 0.0


def test_bad_arguments_raise_one_clear_error(tasks, ex):
    ev = ArcEvaluator(tasks); ev.begin()
    with pytest.raises(ValueError, match='exactly one of'): ev.update(ex['names'][:1], ex['labels'][:1], [0.])
    with pytest.raises(ValueError, match='900-token'): ev.update(ex['names'][:1], ex['labels'][:1, :30], [0.], test_index=[0])
    with pytest.raises(ValueError, match='identifiers list'): ev.update([5], ex['labels'][:1], [0.], test_index=[0])
    with pytest.raises(ValueError, match='not a copy name'): ev.update(['x|||t1|||12'], ex['labels'][:1], [0.], test_index=[0])
    with pytest.raises(ValueError, match='task_rule'): ArcEvaluator(tasks, task_rule='any')


def test_result_independent_of_row_order_and_batching(tasks, ex):
    preds, q = noisy_predictions(tasks, ex)
    a = run(tasks, ex['names'], preds, q, batch=7, inputs=ex['inputs'])
    perm = np.random.default_rng(3).permutation(len(q))
    b = run(tasks, [ex['names'][i] for i in perm], preds[perm], q[perm], batch=50, inputs=ex['inputs'][perm])
    assert summary(a) == summary(b)
    ks = sorted(a.scores)
    assert all(a.scores[x] <= a.scores[y] for x, y in zip(ks, ks[1:]))
    assert abs(score_submission(a.submission, tasks)['score'] - a.scores[2]) < 1e-12


def test_votes_fresh_per_evaluation_unless_accumulating(tasks, ex):
    n = len(ex['names'])
    for acc, votes in ((False, n), (True, 2 * n)):
        ev = ArcEvaluator(tasks, accumulate=acc)
        for _ in range(2):
            ev.begin(); ev.update(ex['names'], ex['labels'], np.zeros(n), inputs=ex['inputs'])
        assert ev.result().counts['votes'] == votes


def test_submission_validation_errors(tasks, ex):
    good = run(tasks, ex['names'], ex['labels'], np.zeros(len(ex['names'])), inputs=ex['inputs']).submission
    validate_submission(good, tasks)
    def bad(edit, needle):
        s = json.loads(json.dumps(good)); edit(s)
        with pytest.raises(SubmissionError, match=needle): validate_submission(s, tasks)
    bad(lambda s: s.pop('be03b35f'), "task 'be03b35f' is missing")
    bad(lambda s: s['6ea4a07e'].append(s['6ea4a07e'][0]), '3 test entries, expected 2')
    bad(lambda s: s['4cd1b7b2'][0]['attempt_2'].append([1]), r'not rectangular')
    bad(lambda s: s['4cd1b7b2'][0]['attempt_1'][0].__setitem__(0, -1), 'colour -1 is not an integer in 0..9')
    bad(lambda s: s['4cd1b7b2'][0]['attempt_1'][0].__setitem__(0, 2.0), 'colour 2.0')
    bad(lambda s: s['4cd1b7b2'][0].__setitem__('attempt_1', np.zeros((2, 2))), 'numpy array')
    with pytest.raises(SubmissionError, match='not one of'): validate_submission({**good, 'abc': []}, tasks)


def test_write_is_atomic_and_round_trips(tasks, ex, tmp_path):
    good = run(tasks, ex['names'], ex['labels'], np.zeros(len(ex['names'])), inputs=ex['inputs']).submission
    p = write_submission(good, tmp_path / 'submission.json', tasks)
    assert load_submission(p) == good and os.listdir(tmp_path) == ['submission.json']
    with pytest.raises(SubmissionError): write_submission({}, tmp_path / 'bad.json', tasks)
    assert os.listdir(tmp_path) == ['submission.json']
    kaggle = {t.id: [b.tolist() for _, b in t.test] for t in tasks}
    assert score_submission(good, kaggle)['score'] == 1.0


def test_format_table():
    s = format_table([dict(task='a', score=0.5, ranks=[1, None]), dict(task='bb', score=1.0, ranks=[2])])
    lines = s.splitlines()
    assert lines[0].split() == ['task', 'score', 'ranks'] and lines[2].split() == ['a', '0.500', '1,-']


def test_dataset_test_split_is_what_the_evaluator_decodes(tasks):
    "chapter 06's test split (materialise_arc) + identifiers + test_puzzles.json, fed as integer ids: oracle = 100%."
    from trm_course.arc_data import ArcSubset, plan_arc
    from trm_course.arc_data import materialise_arc, arc_test_puzzles
    plan = plan_arc([ArcSubset('eval', list(tasks), True)], num_aug=6, seed=42)
    split = materialise_arc(plan, 'test')
    ids = np.repeat(split.puzzle_identifiers, np.diff(split.puzzle_indices))
    ev = ArcEvaluator(arc_test_puzzles(plan), identifiers=plan.identifiers()); ev.begin()
    ev.update(torch.as_tensor(ids), np.asarray(split.labels), np.zeros(len(ids)), inputs=np.asarray(split.inputs))
    res = ev.result()
    assert res.scores == {k: 1.0 for k in ARC_PASS_KS} and res.counts['votes'] == len(ids)
    fx = make_test_split(tasks, num_aug=6)
    assert np.array_equal(fx['labels'], np.asarray(split.labels)) and np.array_equal(fx['inputs'], np.asarray(split.inputs))


def test_evaluate_arc_runs_a_model_with_fresh_votes(tasks):
    from trm_course.arc_eval import evaluate_arc
    from trm_course.network import TRMConfig
    from trm_course.recursion import TRM
    t = [next(x for x in tasks if x.id == '6ea4a07e')]
    ex = make_test_split(t, num_aug=1)
    ids = np.array([ex['identifiers'].index(n) for n in ex['names']])
    torch.manual_seed(0)
    cfg = TRMConfig(vocab_size=12, seq_len=900, hidden_size=16, num_heads=1, T=1, n=1, N_sup=1, puzzle_emb_len=1,
                    puzzle_emb_ndim=16, num_puzzle_identifiers=len(ex['identifiers']), forward_dtype='float32')
    model = TRM(cfg)
    batch = {'inputs': torch.as_tensor(np.pad(ex['inputs'].astype(np.int32), ((0, 2), (0, 0)))),
             'puzzle_identifiers': torch.as_tensor(np.pad(ids.astype(np.int32), (0, 2)))}
    ev = ArcEvaluator(t, identifiers=ex['identifiers'])
    r1 = evaluate_arc(model, [('all', batch, len(ids))], ev)
    r2 = evaluate_arc(model, [batch], ev)
    assert r1.counts['padding'] == 2 and r1.counts.get('votes', 0) + r1.counts.get('empty', 0) == len(ids)
    assert summary(r1) == summary(r2), 'a second evaluation starts from fresh votes'
    assert model.training, 'the training flag is restored'
    validate_submission(r1.submission, t)
