"Chapter 23 (test-time compute): noise hook, K noisy trajectories, selection by q_halt and by majority vote."
import math

import pytest
import torch

from trm_course.halting import rollout
from trm_course.network import TRMConfig
from trm_course.recursion import TRM
from trm_course.test_time import (exact_match, latent_noise, majority_vote, noisy_trajectories, select_by_q,
                                  summarise, noise_sweep, sweep_table)


def tiny_trm(vocab: int, seq_len: int, n: int, N_sup: int, seed: int = 0) -> TRM:
    """A tiny TRM in eval mode (hidden 16, 2 heads, T=2, MLP token mixer, no positions or puzzle embeddings, float32),
    built after torch.manual_seed(seed), with a q_halt head that depends on the state. Leaves torch's global RNG
    where the fixtures expect it (they draw their batches from it next)."""
    torch.manual_seed(seed)
    cfg = TRMConfig(vocab_size=vocab, seq_len=seq_len, hidden_size=16, num_heads=2, T=2, n=n, N_sup=N_sup, mlp_t=True,
                    pos_encodings='none', puzzle_emb_ndim=0, puzzle_emb_len=0, forward_dtype='float32')
    model = TRM(cfg).eval()
    with torch.no_grad(): model.q_head.weight.normal_(0, 0.5)       # q_halt that depends on the state
    return model


@pytest.fixture(scope='module')
def model_batch():
    model = tiny_trm(vocab=7, seq_len=9, n=3, N_sup=3)
    batch = {'inputs': torch.randint(1, 7, (10, 9)), 'labels': torch.randint(1, 7, (10, 9))}
    return model, batch


def test_k1_sigma0_is_the_plain_evaluation(model_batch):
    model, batch = model_batch
    plain = rollout(model, batch)
    t = noisy_trajectories(model, batch, K=1, sigma=0.0, rows=len(batch['inputs']))
    assert torch.equal(t['preds'][0], plain['preds'][-1]) and torch.equal(t['q_halt'][0], plain['q_halt'][-1])
    assert torch.equal(t['exact'][0], plain['exact'][-1])
    t4 = noisy_trajectories(model, batch, K=4, sigma=0.0, rows=3)  # chunked, 4 copies: the same answers every time
    assert all(torch.equal(t4['preds'][k], plain['preds'][-1]) for k in range(4))


def test_sigma0_hook_changes_nothing_and_is_removed(model_batch):
    model, batch = model_batch
    plain = rollout(model, batch)
    with latent_noise(model, 0.0) as seen:
        assert len(model.net._forward_hooks) == 1
        same = rollout(model, batch)
    assert len(model.net._forward_hooks) == 0
    assert all(torch.equal(plain[k], same[k]) for k in plain)
    assert seen['noised'] == 0 and seen['z'] > 0
    with pytest.raises(RuntimeError, match='boom'):
        with latent_noise(model, 0.5):
            raise RuntimeError('boom')
    assert len(model.net._forward_hooks) == 0, 'the hook stays after an error'
    assert all(torch.equal(plain[k], rollout(model, batch)[k]) for k in plain)


@pytest.mark.parametrize('where', ['z', 'y', 'both'])
def test_hook_tells_z_from_y_updates(model_batch, where):
    model, batch = model_batch
    c = model.cfg
    with latent_noise(model, 0.1, torch.Generator().manual_seed(0), where) as seen:
        rollout(model, batch)
    assert seen['z'] == c.N_sup * c.T * c.n and seen['y'] == c.N_sup * c.T
    assert seen['noised'] == {'z': seen['z'], 'y': seen['y'], 'both': seen['z'] + seen['y']}[where]


def test_noise_is_seeded_and_distinct_per_trajectory(model_batch):
    model, batch = model_batch
    a = noisy_trajectories(model, batch, K=3, sigma=0.5, seed=1)
    b = noisy_trajectories(model, batch, K=3, sigma=0.5, seed=1)
    c = noisy_trajectories(model, batch, K=3, sigma=0.5, seed=2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a['q_halt'], c['q_halt'])
    assert not torch.equal(a['q_halt'][0], a['q_halt'][1]), 'two trajectories of a puzzle got the same noise'
    assert a['preds'].shape == (3, 10, 9) and a['exact'].shape == (3, 10)


def test_select_by_q_hand_made():
    preds = torch.tensor([[[1, 2], [3, 4]], [[1, 2], [5, 5]], [[7, 7], [3, 4]]])   # (K=3, B=2, L=2)
    q = torch.tensor([[0.0, 1.0], [-1.0, 2.0], [5.0, 0.0]])
    ans, k = select_by_q(preds, q)
    assert k.tolist() == [2, 1] and ans.tolist() == [[7, 7], [5, 5]]


def test_majority_vote_hand_made():
    preds = torch.tensor([[[1, 2], [3, 4]], [[1, 2], [5, 5]], [[7, 7], [3, 4]]])
    q = torch.tensor([[0.0, 1.0], [-1.0, 2.0], [5.0, 0.0]])
    ans, k = majority_vote(preds, q)          # two of three trajectories agree on each puzzle, whatever q says
    assert ans.tolist() == [[1, 2], [3, 4]]
    # a 2-2 tie: the answer whose best trajectory has the highest q_halt wins
    preds = torch.tensor([[[1]], [[2]], [[2]], [[1]]]); q = torch.tensor([[0.0], [1.0], [-3.0], [0.5]])
    assert majority_vote(preds, q)[0].tolist() == [[2]]
    q = torch.tensor([[0.0], [0.4], [-3.0], [0.5]])
    assert majority_vote(preds, q)[0].tolist() == [[1]]
    # the whole grid votes: answers differing in one cell are different answers
    preds = torch.tensor([[[1, 1]], [[1, 2]], [[1, 3]], [[1, 3]]]); q = torch.tensor([[9.0], [8.0], [0.0], [0.0]])
    assert majority_vote(preds, q)[0].tolist() == [[1, 3]]


def test_exact_match_ignores_unsupervised_cells():
    labels = torch.tensor([[1, -100, 3]])
    assert exact_match(torch.tensor([[[1, 9, 3]], [[1, 2, 4]]]), labels).tolist() == [[True], [False]]


def test_summary_oracle_bounds_the_selectors(model_batch):
    model, batch = model_batch
    t = noisy_trajectories(model, batch, K=8, sigma=1.0, seed=0)
    for r in summarise(t, batch['labels'], Ks=(1, 2, 8)):
        assert r['oracle'] >= max(r['q_halt'], r['vote'], r['single']) - 1e-12
    assert summarise(t, batch['labels'], Ks=(1,))[0]['q_halt'] == t['exact'][0].float().mean().item()
    recs = noise_sweep(model, batch, sigmas=(0.5,), Ks=(1, 2), seeds=(0, 1), verbose=False)
    rows = sweep_table(recs)
    assert [(r['sigma'], r['K'], r['seeds']) for r in rows] == [(0.5, 1, 2), (0.5, 2, 2)]


@pytest.mark.parametrize('kw, word', [(dict(K=0), 'K'), (dict(K=1.5), 'K'), (dict(K=True), 'K'),
                                      (dict(sigma=-0.1), 'sigma'), (dict(sigma=math.nan), 'sigma'),
                                      (dict(sigma=math.inf), 'sigma'), (dict(where='x'), 'where')])
def test_bad_arguments_name_themselves(model_batch, kw, word):
    model, batch = model_batch
    args = dict(K=2, sigma=0.1) | kw
    with pytest.raises(ValueError, match=word):
        noisy_trajectories(model, batch, **args)


def test_selectors_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match='preds'):
        select_by_q(torch.zeros(3, 2, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match='preds'):
        majority_vote(torch.zeros(3, 2), torch.zeros(3, 2))


def test_trained_sudoku_refuses_bad_arguments_before_any_work():
    from trm_course.test_time import trained_sudoku
    with pytest.raises(ValueError, match='size'):
        trained_sudoku(5)
    with pytest.raises(ValueError, match='steps'):
        trained_sudoku(4, steps=0)


# ---------------------------------------------------------------------------------------------------- issue 19 item 3
from trm_course.test_time import (sudoku_symmetries, apply_symmetry, invert_symmetry, augmented_trajectories, more_steps,
                                  halting_separation, equal_passes, choose_on_val, converged_summary, format_converged)
from trm_course.sudoku import is_valid_solution, random_solution

import numpy as np


@pytest.mark.parametrize('n', [4, 6, 9])
def test_symmetries_keep_solutions_and_invert_exactly(n):
    rng = np.random.default_rng(n)
    sols = np.stack([random_solution(n, rng) for _ in range(50)])
    x = torch.from_numpy(sols.reshape(50, -1) + 1)                  # tokens: digit d -> d + 1
    puzzles = x.clone(); puzzles[torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) < 0.6] = 1   # blanks
    s = sudoku_symmetries(n, 50, rng, vocab_size=n + 5)
    xs, ps = apply_symmetry(x, s), apply_symmetry(puzzles, s)
    assert is_valid_solution((xs - 1).view(-1, n, n).numpy()).all()
    assert torch.equal((ps == 1).sum(1), (puzzles == 1).sum(1)), 'blanks stay blanks'
    assert ((ps == 1) | (ps == xs)).all(), 'a puzzle and its solution move together; blanks stay blanks'
    inv = invert_symmetry(s)
    assert torch.equal(apply_symmetry(xs, inv), x) and torch.equal(apply_symmetry(ps, inv), puzzles)
    # the inverse also maps any token row back (the model may predict any token, also non-digits)
    junk = torch.randint(0, n + 5, (50, n * n))
    assert torch.equal(apply_symmetry(apply_symmetry(junk, s), inv), junk)
    assert len({tuple(r) for r in xs.tolist()}) > 40


def test_no_transpose_for_6x6():
    rng = np.random.default_rng(0)
    sol = random_solution(6, rng)
    assert is_valid_solution(sol) and not is_valid_solution(sol.T), '2x3 boxes become 3x2 under a transpose'
    with pytest.raises(ValueError, match='transpose'):
        sudoku_symmetries(6, 1, rng, transpose=True)
    s4 = sudoku_symmetries(4, 400, rng, vocab_size=6)            # square boxes: about half the draws transpose
    sol4 = torch.from_numpy(random_solution(4, rng).reshape(1, -1) + 1).repeat(400, 1)
    moved = apply_symmetry(sol4, s4)
    assert is_valid_solution((moved - 1).view(-1, 4, 4).numpy()).all()
    # cells 0 and 1 share a row; under a transpose they land in one column: (cell 1 - cell 0) is a multiple of 4
    transposed = np.abs(s4['cells'][:, 1] - s4['cells'][:, 0]) % 4 == 0
    assert 120 < transposed.sum() < 280


@pytest.fixture(scope='module')
def model4():
    model = tiny_trm(vocab=6, seq_len=16, n=2, N_sup=2)
    rng = np.random.default_rng(1)
    sols = torch.from_numpy(np.stack([random_solution(4, rng) for _ in range(12)]).reshape(12, -1) + 1)
    x = sols.clone(); x[torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) < 0.5] = 1
    return model, {'inputs': x, 'labels': sols}


def test_augmented_copy0_is_plain_and_answers_are_mapped_back(model4):
    model, batch = model4
    plain = rollout(model, batch)
    a = augmented_trajectories(model, batch, K=4, seed=0, rows=5)
    assert torch.equal(a['preds'][0], plain['preds'][-1]) and torch.equal(a['q_halt'][0], plain['q_halt'][-1])
    assert torch.equal(a['exact'], exact_match(a['preds'], batch['labels']))
    assert augmented_trajectories(model, batch, K=4, seed=0)['preds'].shape == (4, 12, 16)
    assert torch.equal(augmented_trajectories(model, batch, K=4, seed=0)['preds'], a['preds']), 'seeded, chunking-invariant'


def test_augmentation_is_exact_for_an_equivariant_solver(model4, monkeypatch):
    "With a solver that answers every copy right, every mapped-back answer is the puzzle's own solution."
    model, batch = model4
    import trm_course.halting as H
    table = {}
    def fake_rollout(m, b, N_sup=None, record=()):
        p = torch.tensor([table[tuple(row)] for row in b['inputs'].tolist()])   # the solution of the copy it is shown
        return {'preds': p[None], 'q_halt': torch.zeros(1, len(p))}
    # the copies augmented_trajectories will make (same rng draw): register their solutions
    K, B = 8, 12
    sym = sudoku_symmetries(4, (K - 1) * B, np.random.default_rng(3), vocab_size=6)
    sym = {k: np.concatenate([np.tile(np.arange(v.shape[1]), (B, 1)), v]) for k, v in sym.items()}
    for xi, yi in zip(apply_symmetry(batch['inputs'].repeat(K, 1), sym).tolist(), apply_symmetry(batch['labels'].repeat(K, 1), sym).tolist()):
        table[tuple(xi)] = yi
    monkeypatch.setattr(H, 'rollout', fake_rollout)
    a = augmented_trajectories(model, batch, K=K, seed=3)
    assert a['exact'].all() and torch.equal(a['preds'], batch['labels'].expand(K, -1, -1))


def test_more_steps_extends_the_plain_evaluation(model4):
    model, batch = model4
    plain = rollout(model, batch)
    s = more_steps(model, batch, 6, rows=5)
    assert s['preds'].shape == (6, 12, 16) and torch.equal(s['preds'][:2], plain['preds'])
    assert torch.equal(s['exact'][:2], plain['exact'])


def test_halting_separation_hand_made():
    h = halting_separation(torch.tensor([2.0, 1.0, -1.0, -3.0, 0.5]), torch.tensor([True, True, False, False, False]))
    assert h['fires'] == pytest.approx(0.6) and h['precision'] == pytest.approx(2 / 3) and h['auc'] == 1.0
    assert h['fires_right'] == 1.0 and h['fires_wrong'] == pytest.approx(1 / 3)
    h = halting_separation(torch.tensor([0.0, 0.0, 0.0]), torch.tensor([True, False, False]))
    assert h['auc'] == 0.5 and h['fires'] == 0.0 and math.isnan(h['precision'])
    assert math.isnan(halting_separation(torch.tensor([1.0, 2.0]), torch.tensor([True, True]))['auc'])
    with pytest.raises(ValueError, match='q_halt'):
        halting_separation(torch.zeros(3), torch.zeros(4, dtype=torch.bool))


def test_equal_passes_and_the_choice_on_val(model4):
    model, batch = model4
    t = noisy_trajectories(model, batch, K=4, sigma=0.5, seed=0)
    a = augmented_trajectories(model, batch, K=4, seed=0)
    s = more_steps(model, batch, 8)
    rows = equal_passes(batch['labels'], 2, (1, 2, 4), t, t, a, s)
    assert [r['passes'] for r in rows] == [2, 4, 8]
    for r in rows:
        assert r['oracle'] >= max(r['q_halt'], r['vote']) and r['aug_oracle'] >= max(r['aug_vote'], r['aug_q_halt'])
        assert r['steps'] == s['exact'][r['passes'] - 1].float().mean().item()
    assert rows[0]['plain'] == rows[0]['aug_vote'] == s['exact'][1].float().mean().item()
    with pytest.raises(ValueError, match='K=8'):
        equal_passes(batch['labels'], 2, (8,), t, t, a, s)
    recs = [{'sigma': sg, 'seed': 0, 'K': k, 'passes': 2 * k, 'q_halt': v, 'vote': 1 - v, 'oracle': 1.0, 'single': v}
            for sg, k, v in ((0.3, 1, 0.5), (0.3, 4, 0.7), (0.6, 1, 0.4), (0.6, 4, 0.7), (0.6, 2, 0.9))]
    assert choose_on_val(recs, 'q_halt') == {'method': 'q_halt', 'sigma': 0.6, 'K': 2, 'val': 0.9}
    assert choose_on_val(recs, 'q_halt', K=4)['sigma'] == 0.3          # a tie: the smaller sigma
    assert choose_on_val(recs, 'vote')['K'] == 1 and choose_on_val(recs, 'vote')['sigma'] == 0.6


def test_converged_summary_mean_and_std():
    def run(seed, v):
        rows = [{'K': 1, 'passes': 4, **{m: v for m in ('plain', 'q_halt', 'vote', 'aug_vote', 'aug_q_halt', 'steps', 'oracle', 'aug_oracle')}}]
        sep = {k: v for k in ('right', 'fires', 'fires_right', 'fires_wrong', 'precision', 'auc', 'q_right', 'q_wrong')}
        return {'model': f'm{seed}', 'seed': seed, 'test': {'rows': rows, 'separation': sep, 'chosen': {'q_halt': {'test': v}}},
                'choices': {'q_halt': {'sigma': 0.3, 'K': 1, 'val': v}}}
    s = converged_summary([run(0, 0.8), run(1, 0.9), run(2, 1.0)])
    assert s['table'][0]['q_halt'][0] == pytest.approx(0.9) and s['table'][0]['q_halt'][1] == pytest.approx(0.1)
    assert s['seeds'] == [0, 1, 2] and '90.0 ± 10.0' in format_converged(s)
