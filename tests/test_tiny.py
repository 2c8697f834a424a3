"""The one-page TRM (trm_course.tiny, chapter 19) computes what the authors' code computed.

Replays data/reference/*.pt (the authors' recorded evaluation and training steps for fixed weights) with the one-page
model and asserts the precision the full course model is held to in tests/test_reference_parity.py."""
import json

import pytest
import torch

from trm_course.core import package_file
from trm_course.tiny import (TinyConfig, TinyTRM, act_step, from_reference, initial_carry, our_name, replay_reference,
                             stablemax_loss)
from trm_course.core import IGNORE_LABEL as IGNORE

FILES = sorted(package_file('reference').glob('*.pt'))
TOL, GRAD_TOL = 1e-5, 2e-5


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_files_present():
    assert [f.name for f in FILES] == ['trm_attn_rope.pt', 'trm_mlp_t.pt']


@pytest.mark.parametrize('path', FILES, ids=lambda p: p.stem)
def test_one_page_matches_the_reference(path):
    err = replay_reference(path)
    assert err['halted_mismatches'] == 0, err
    for k, v in err.items():
        if k != 'halted_mismatches': assert v <= (GRAD_TOL if k == 'train_grads' else TOL), (k, v)


def test_a_perturbed_weight_is_detected(tmp_path):
    d = torch.load(FILES[0], weights_only=True)
    sd = dict(d['state_dict'])
    w = sd['inner.lm_head.weight']
    sd['inner.lm_head.weight'] = w + 0.01 * w.std() * torch.randn_like(w, generator=torch.Generator().manual_seed(0))
    torch.save(dict(d, state_dict=sd), tmp_path / 'bad.pt')
    err = replay_reference(tmp_path / 'bad.pt')
    assert err['eval_logits'] > 1e-3 and err['train_grads'] > 1e-3


def test_every_reference_weight_has_a_place():
    for f in FILES:
        d = torch.load(f, weights_only=True)
        m = from_reference(d['config'], d['state_dict'])
        assert sorted(our_name(k) for k in d['state_dict']) == sorted(m.state_dict())


def test_bad_input_raises_one_clear_error():
    with pytest.raises(ValueError, match='num_heads'): TinyConfig(11, 16, hidden_size=64, num_heads=5)
    with pytest.raises(ValueError, match='id_dim'): TinyConfig(11, 16, hidden_size=64, id_dim=0)
    with pytest.raises(ValueError, match='inner'): our_name('model.lm_head.weight')
    d = torch.load(FILES[0], weights_only=True)
    with pytest.raises(ValueError, match='pos_encodings'):
        from_reference(json.loads(d['config']) | {'pos_encodings': 'learned'})


def test_stablemax_loss_ignores_unlabelled_positions():
    logits = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([[1, IGNORE, 4], [IGNORE, IGNORE, 0]])
    loss = stablemax_loss(logits, labels)
    assert loss.dtype == torch.float64 and (loss[labels == IGNORE] == 0).all() and (loss[labels != IGNORE] > 0).all()


def test_evaluation_halts_every_row_at_N_sup():
    torch.manual_seed(0)
    m = TinyTRM(TinyConfig(12, 8, hidden_size=32, num_heads=4, T=2, n=2, N_sup=3, id_dim=32, prefix=1)).eval()
    x = torch.randint(2, 12, (5, 8))
    batch = dict(inputs=x, labels=x.cummax(-1).values, puzzle_identifiers=torch.zeros(5, dtype=torch.long))
    carry = initial_carry(m, batch)
    with torch.no_grad():
        for s in range(1, 4):
            carry, loss, logits, q = act_step(m, carry, batch)
            assert (carry['steps'] == s).all() and bool(carry['halted'].all()) == (s == 3)
    assert logits.shape == (5, 8, 12) and q.shape == (5,) and torch.isfinite(loss)
