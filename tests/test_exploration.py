"""The ACT exploration rule, written once (`halting.exploration_min_steps`) and used by both the course model's
`act_step` (chapter 11) and HRM's `act_step_continue` (chapter 09a): with probability p a row gets a minimum halting
step drawn uniformly in [2, N_sup], afresh at every call, from the generator the caller passes."""
import pytest
import torch

from trm_course.network import TRMConfig
from trm_course.recursion import TRM
from trm_course.halting import act_step, exploration_min_steps, initial_act_carry
from trm_course.hrm import VariantConfig, VariantTRM, act_step_continue
from trm_course.supervision import running_max_batch

N_SUP = 5
CFG = TRMConfig(vocab_size=11, seq_len=4, hidden_size=16, num_heads=2, T=1, n=1, N_sup=N_SUP, puzzle_emb_len=1,
                forward_dtype='float32')


def test_the_draw_is_the_papers_rule():
    "P(explore) = p; an exploring row's minimum is uniform on 2..N_sup; a row that does not explore gets 0."
    B, p = 40_000, 0.3
    steps = torch.ones(B, dtype=torch.int32)
    m = exploration_min_steps(steps, N_SUP, p, torch.Generator().manual_seed(0))
    assert m.shape == steps.shape and m.dtype == steps.dtype
    assert set(m.unique().tolist()) == {0, 2, 3, 4, 5}              # never 1, never above N_sup
    se = (p * (1 - p) / B) ** 0.5
    assert abs((m > 0).float().mean().item() - p) < 5 * se
    share = torch.bincount(m[m > 0], minlength=N_SUP + 1)[2:].float() / (m > 0).sum()
    assert (share - 1 / (N_SUP - 1)).abs().max() < 0.02                # 4 equal shares of 0.25 (SE ~0.004)
    assert (exploration_min_steps(steps, N_SUP, 0.0, torch.Generator().manual_seed(0)) == 0).all()
    assert (exploration_min_steps(steps, N_SUP, 1.0, torch.Generator().manual_seed(0)) >= 2).all()


def test_the_draw_comes_from_the_callers_generator():
    steps = torch.ones(1000, dtype=torch.int32)
    a = exploration_min_steps(steps, N_SUP, 0.5, torch.Generator().manual_seed(7))
    b = exploration_min_steps(steps, N_SUP, 0.5, torch.Generator().manual_seed(7))
    c = exploration_min_steps(steps, N_SUP, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def _forced_halt(model):
    "q_halt = +5 and q_continue = -5 for every row: both halting rules want to stop; only exploration holds a row."
    with torch.no_grad():
        model.q_head.weight.zero_(); model.q_head.bias.copy_(torch.tensor([5.0, -5.0]))
    return model


def _run(step_fn, model, batches, p, seed):
    gen = torch.Generator().manual_seed(seed)
    carry, seen = initial_act_carry(model, batches[0]), []
    with torch.no_grad():
        for b in batches:
            carry, _ = step_fn(model, carry, b, True, p, gen)
            seen.append((carry.steps.clone(), carry.halted.clone()))
    return seen


@pytest.mark.parametrize('p', [0.1, 0.5, 1.0])
def test_course_and_hrm_explore_identically_over_refills(p):
    """TRM's act_step and HRM's act_step_continue, with one seed each, over 12 calls (rows refill whenever they halt):
    the same steps and halts; and each halt is what the rule predicts from a twin generator with the same seed."""
    torch.manual_seed(0)
    trm = _forced_halt(TRM(CFG)).train()
    torch.manual_seed(0)
    hrm = _forced_halt(VariantTRM(VariantConfig.from_trm(CFG, act_continue=True))).train()
    batches = [running_max_batch(64, 4, generator=torch.Generator().manual_seed(i)) for i in range(12)]
    a, b = _run(act_step, trm, batches, p, seed=3), _run(act_step_continue, hrm, batches, p, seed=3)
    twin = torch.Generator().manual_seed(3)
    for (sa, ha), (sb, hb) in zip(a, b):
        assert torch.equal(sa, sb) and torch.equal(ha, hb)
        m = exploration_min_steps(sa, N_SUP, p, twin)                   # the draw each call made, replayed
        assert torch.equal(ha, (sa >= N_SUP) | (sa >= m))
    refilled = sum(int(h.sum()) for _, h in a[:-1])
    assert refilled > 64, 'rows halted and were refilled several times'
    if p == 1.0: assert not any(((s == 1) & h).any() for s, h in a), 'p = 1: no row halts at its first step'


def test_halting_step_distribution_over_refills():
    "At p = 0.5, a row at step s (q_halt > 0) halts with probability 1 - p (N_sup - s) / (N_sup - 1), call after call."
    p = 0.5
    model = _forced_halt(TRM(CFG)).train()
    batch = running_max_batch(1000, 4, generator=torch.Generator().manual_seed(0))
    seen = _run(act_step, model, [batch] * 40, p, seed=11)
    for s in range(1, N_SUP + 1):
        n = sum(int((st == s).sum()) for st, _ in seen)
        halted = sum(int(((st == s) & h).sum()) for st, h in seen)
        want = 1 - p * (N_SUP - s) / (N_SUP - 1)
        se = max((want * (1 - want) / n) ** 0.5, 1e-9)
        assert n > 50 and abs(halted / n - want) < 5 * se + 1e-9, (s, n, halted / n, want)   # step N_sup: always halts
