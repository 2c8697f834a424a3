"Chapter 23 (test-time compute): noise hook, K noisy trajectories, selection by q_halt and by majority vote."
import math

import pytest
import torch

from trm_course.halting import rollout
from trm_course.network import TRMConfig
from trm_course.recursion import TRM
from trm_course.test_time import (exact_match, latent_noise, majority_vote, noisy_trajectories, select_by_q,
                                  summarise, noise_sweep, sweep_table)


@pytest.fixture(scope='module')
def model_batch():
    torch.manual_seed(0)
    cfg = TRMConfig(vocab_size=7, seq_len=9, hidden_size=16, num_heads=2, T=2, n=3, N_sup=3, mlp_t=True,
                    pos_encodings='none', puzzle_emb_ndim=0, puzzle_emb_len=0, forward_dtype='float32')
    model = TRM(cfg).eval()
    with torch.no_grad(): model.q_head.weight.normal_(0, 0.5)       # q_halt that depends on the state
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
