"""The course TRM computes the same function as the authors' reference implementation.

Replays data/reference/*.pt (outputs recorded from SamsungSAILMontreal/TinyRecursiveModels on CPU, float32)
with trm_course.reference.check_against_reference; see nbs/12_reference.ipynb for the method.
"""
from pathlib import Path

import pytest
import torch

from trm_course.reference import check_against_reference, load_reference_file, model_from_reference, state_dict_to_reference

REF_DIR = Path(__file__).resolve().parents[1] / 'data' / 'reference'
FILES = sorted(REF_DIR.glob('*.pt'))
TOL, GRAD_TOL = 1e-5, 2e-5   # gradients: float32 noise floor (the reference's own gradients are ~1e-5 from float64)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)   # tiny models: thread start-up dominates
    yield
    torch.set_num_threads(n)


def test_files_present():
    assert [f.name for f in FILES] == ['trm_attn_rope.pt', 'trm_mlp_t.pt']


@pytest.mark.parametrize('path', FILES, ids=lambda p: p.stem)
def test_parity(path):
    r = check_against_reference(path)
    assert r['halted_mismatches'] == 0, r
    for k, v in r.items():
        if k in ('halted_mismatches', 'eval_rollout_logits'): continue
        assert v <= (GRAD_TOL if k == 'train_grads' else TOL), (k, v)


@pytest.mark.parametrize('path', FILES, ids=lambda p: p.stem)
def test_state_dict_round_trip(path):
    d = load_reference_file(path)
    back = state_dict_to_reference(model_from_reference(d['config'], d['state_dict']))
    assert sorted(back) == sorted(d['state_dict'])
    assert all(torch.equal(back[k], d['state_dict'][k]) for k in back)


def test_perturbed_weight_is_detected():
    d = load_reference_file(FILES[0])
    sd = dict(d['state_dict'])
    w = sd['inner.lm_head.weight']
    sd['inner.lm_head.weight'] = w + 0.01 * w.std() * torch.randn_like(w)
    r = check_against_reference(dict(d, state_dict=sd))
    assert r['eval_logits'] > 1e-3 and r['train_grads'] > 1e-3
