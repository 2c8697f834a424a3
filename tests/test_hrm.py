"HRM's switches (trm_course.hrm): all off = TRM bit for bit; each switch does what it says."
import pytest
import torch

from trm_course.network import TRMConfig
from trm_course.recursion import TRM, saved_tensor_bytes
from trm_course.halting import TRMWithLoss
from trm_course.supervision import running_max_batch
from trm_course.hrm import (VariantConfig, VariantTRM, VariantWithLoss, hrm_config, net_calls, variant_builder,
                            q_continue_target)

torch.set_num_threads(1)
CFG = TRMConfig(vocab_size=12, seq_len=8, hidden_size=32, num_heads=4, T=2, n=3, N_sup=4, puzzle_emb_ndim=32,
                puzzle_emb_len=1, forward_dtype='float32')


def pair(**switches):
    torch.manual_seed(0); a = TRMWithLoss(TRM(CFG))
    torch.manual_seed(0); b = VariantWithLoss(VariantTRM(VariantConfig.from_trm(CFG, **switches)))
    return a, b


def train_steps(m, steps=5, seed=1):
    "A few ACT training steps (exploration drawn from a seeded generator); returns losses and gradients."
    g, bg = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(7)
    m.train(); carry, out = None, []
    for _ in range(steps):
        batch = running_max_batch(6, 8, generator=bg)
        carry = m.initial_carry(batch) if carry is None else carry
        carry, loss, metrics, outputs, _ = m(carry, batch, generator=g)
        m.zero_grad(); loss.backward()
        out.append((loss.detach(), carry.halted.clone(), {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None},
                    m.model.puzzle_emb.local_weights.grad.clone()))
    return out


def test_defaults_are_trm_bit_for_bit():
    a, b = pair()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    for (la, ha, ga, pa), (lb, hb, gb, pb) in zip(train_steps(a), train_steps(b)):
        assert torch.equal(la, lb) and torch.equal(ha, hb) and torch.equal(pa, pb)
        assert ga.keys() == gb.keys() and all(torch.equal(ga[k], gb[k]) for k in ga)
    a.eval(); b.eval()
    batch = running_max_batch(5, 8, generator=torch.Generator().manual_seed(3))
    ca, cb = a.initial_carry(batch), b.initial_carry(batch)
    for _ in range(4):
        ca, _, _, oa, _ = a(ca, batch); cb, _, _, ob, _ = b(cb, batch)
        assert all(torch.equal(oa[k], ob[k]) for k in oa)


def test_trainer_builder_defaults_match_plain_trainer(tmp_path):
    from trm_course.train import Trainer
    from trm_course.recipes import get_recipe
    from trm_course.sudoku import build_sudoku4_data
    root = build_sudoku4_data(tmp_path / 'data', n_train=32, n_aug=1, n_test=8, seed=0)
    cfg = get_recipe('sudoku4_cpu', data=str(root), global_batch_size=8, progress=False, out_dir=str(tmp_path / 'run'))
    ta, tb = Trainer(cfg, verbose=False), Trainer(cfg, verbose=False, build=variant_builder())
    assert isinstance(tb.model, VariantWithLoss)
    for _ in range(3):
        b = next(iter(ta.sampler.iter_epoch(0)))
        from trm_course.dataset import collate
        batch = collate(ta.train_data, b, 8)
        ma, mb = ta.train_step(batch), tb.train_step(batch)
        assert ma.read() == mb.read()
    assert all(torch.equal(p, q) for p, q in zip(ta.model.parameters(), tb.model.parameters()))


def count_calls(model):
    "Forward hooks on every ReasoningNet: a list of ('L'|'H', grad enabled) in call order."
    calls = []
    model.f_L.register_forward_hook(lambda *_: calls.append(('L', torch.is_grad_enabled())))
    if model.f_H is not model.f_L: model.f_H.register_forward_hook(lambda *_: calls.append(('H', torch.is_grad_enabled())))
    return calls


def test_separate_nets_updates_y_with_f_H():
    _, b = pair(separate_nets=True)
    m = b.model
    assert m.f_H is not m.f_L and sum(p.numel() for p in m.net_H.parameters()) == sum(p.numel() for p in m.net.parameters())
    calls = count_calls(m)
    batch = running_max_batch(3, 8, generator=torch.Generator().manual_seed(0))
    y, z = m.initial_carry(3)
    m(y, z, batch['inputs'], batch['puzzle_identifiers'])
    assert [c for c, _ in calls] == (['L'] * CFG.n + ['H']) * CFG.T
    assert [g for _, g in calls] == [False] * (CFG.n + 1) * (CFG.T - 1) + [True] * (CFG.n + 1)
    out = m(y, z, batch['inputs'], batch['puzzle_identifiers'])[2].sum()
    out.backward()
    assert m.net_H.layers[0].mlp.down_proj.weight.grad.abs().sum() > 0
    assert m.net.layers[0].mlp.down_proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('separate', [False, True])
def test_one_step_grad_reaches_only_the_last_two_calls(separate):
    torch.manual_seed(0)
    m = VariantTRM(VariantConfig.from_trm(CFG, one_step_grad=True, separate_nets=separate))
    calls = count_calls(m)
    batch = running_max_batch(3, 8, generator=torch.Generator().manual_seed(0))
    y, z = m.initial_carry(3)
    m(y, z, batch['inputs'], batch['puzzle_identifiers'])
    names = ['L'] * CFG.n + ['H'] if separate else ['L'] * (CFG.n + 1)
    assert [c for c, _ in calls] == names * CFG.T
    assert [g for _, g in calls] == [False] * ((CFG.n + 1) * CFG.T - 2) + [True, True]
    # autograd keeps the activations of 2 calls instead of n+1
    full = VariantTRM(VariantConfig.from_trm(CFG, separate_nets=separate)); full.load_state_dict(m.state_dict())
    _, b1 = saved_tensor_bytes(m, y, z, batch['inputs'], batch['puzzle_identifiers'])
    _, b4 = saved_tensor_bytes(full, y, z, batch['inputs'], batch['puzzle_identifiers'])
    assert 1.5 < b4 / b1 < (CFG.n + 1) / 2 * 1.2, (b1, b4)


def test_one_step_grad_forward_equals_full_forward():
    "The 1-step gradient changes only the backward pass: the same weights give the same outputs."
    torch.manual_seed(0); a = VariantTRM(VariantConfig.from_trm(CFG, one_step_grad=True))
    b = TRM(CFG); b.load_state_dict(a.state_dict())
    batch = running_max_batch(3, 8, generator=torch.Generator().manual_seed(0))
    y, z = a.initial_carry(3)
    oa, ob = a(y, z, batch['inputs'], batch['puzzle_identifiers']), b(y, z, batch['inputs'], batch['puzzle_identifiers'])
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(oa, ob))


def test_act_continue_extra_forward_target_and_loss():
    a, b = pair(act_continue=True)
    m = b.model
    # at initialisation q_halt = q_continue = -5 everywhere, so the target sigmoid(max(...)) equals the prediction and
    # the continue loss has zero gradient; move q_halt (both models) so that the target differs
    for x in (a, b):
        with torch.no_grad(): x.model.q_head.bias[0] = -1.0
    calls = count_calls(m)
    batch = running_max_batch(6, 8, generator=torch.Generator().manual_seed(0))
    b.train(); carry = b.initial_carry(batch)
    carry, loss, metrics, out, _ = b(carry, batch, generator=torch.Generator().manual_seed(0))
    assert len(calls) == net_calls(m.cfg, training=True)['forward'] == 2 * CFG.T * (CFG.n + 1)
    assert sum(g for _, g in calls) == CFG.n + 1           # the extra pass carries no gradient
    t = out['target_q_continue']
    assert t.shape == (6,) and ((t > 0) & (t < 1)).all()
    assert 'q_continue_loss' in metrics
    b.zero_grad(); loss.backward()
    assert m.q_head.weight.grad[1].abs().sum() > 0        # the continue output is trained (TRM never trains it)
    a.train(); ca = a.initial_carry(batch)
    _, la, *_ = a(ca, batch, generator=torch.Generator().manual_seed(0))
    assert abs(float(loss - la) - 0.5 * float(metrics['q_continue_loss'])) < 1e-5 * float(loss)
    calls.clear(); b.eval(); carry = b.initial_carry(batch)
    _, _, metrics, out, _ = b(carry, batch)
    assert len(calls) == net_calls(m.cfg, training=False)['forward'] and 'target_q_continue' not in out


def test_act_continue_halts_by_comparing_the_two_q_values():
    _, b = pair(act_continue=True)
    b.exploration_prob = 0.0
    batch = running_max_batch(4, 8, generator=torch.Generator().manual_seed(0))
    b.train()
    with torch.no_grad(): b.model.q_head.bias.copy_(torch.tensor([-3.0, -4.0]))   # q_halt < 0 but > q_continue: halt
    carry, *_ = b(b.initial_carry(batch), batch)
    assert carry.halted.all() and (carry.steps == 1).all()
    with torch.no_grad(): b.model.q_head.bias.copy_(torch.tensor([-4.0, -3.0]))   # q_halt < q_continue: go on
    carry, *_ = b(b.initial_carry(batch), batch)
    assert not carry.halted.any()


def test_q_continue_target():
    h, c = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([1.0, -5.0, 3.0])
    t = q_continue_target(h, c, torch.tensor([False, False, True]))
    assert torch.allclose(t, torch.sigmoid(torch.tensor([1.0, 2.0, -1.0])))


def test_hrm_preset_and_net_calls():
    h = hrm_config(CFG)
    assert (h.separate_nets, h.one_step_grad, h.act_continue, h.layers, h.T, h.n, h.mlp_t) == (True, True, True, 4, 2, 2, False)
    assert net_calls(h) == {'forward': 12, 'layers': 48, 'grad_layers': 8, 'depth': 24}
    assert net_calls(TRMConfig(vocab_size=11, seq_len=81, T=3, n=6))['depth'] == 42
    torch.manual_seed(0); m = VariantWithLoss(VariantTRM(h))
    batch = running_max_batch(2, 8, generator=torch.Generator().manual_seed(0))
    carry, loss, *_ = m(m.initial_carry(batch), batch)
    loss.backward()
    assert torch.isfinite(loss)


def test_bad_switches_are_refused():
    with pytest.raises(ValueError, match='unknown field'): VariantConfig.from_trm(CFG, one_step=True)
    with pytest.raises(ValueError, match='one_step_grad'): VariantConfig.from_trm(CFG, one_step_grad=1)
    with pytest.raises(ValueError, match='unknown field'): variant_builder(sepárate_nets=True)
