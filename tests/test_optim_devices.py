"""AdamATan2, the sparse sign-SGD and the EMA on every available device (CPU always, CUDA/MPS when present)."""
import math

import pytest
import torch
from torch import nn

from trm_course.ema import EMA
from trm_course.network import PuzzleEmbedding
from trm_course.optim import AdamATan2, SparseSignSGD, sparse_sign_sgd_

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else []) + \
          (['mps'] if getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available() else [])


def by_hand(p0, grads, lr, b1, b2, wd):
    p, m, v = list(p0), [0.0] * len(p0), [0.0] * len(p0)
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g):
            p[i] *= 1 - lr * wd
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            p[i] -= lr / (1 - b1 ** t) * math.atan2(m[i], math.sqrt(v[i] / (1 - b2 ** t)))
    return p


@pytest.mark.parametrize('device', DEVICES)
def test_adam_atan2_matches_float64_hand_computation(device):
    gen = torch.Generator().manual_seed(1)
    p0 = torch.randn(64, generator=gen, dtype=torch.float64)
    grads = [torch.randn(64, generator=gen, dtype=torch.float64) * 10.0 ** torch.randint(-6, 2, (64,), generator=gen)
             for _ in range(8)]
    hand = torch.tensor(by_hand(p0.tolist(), [g.tolist() for g in grads], 0.03, 0.9, 0.95, 0.1), dtype=torch.float64)
    w = nn.Parameter(p0.clone().float().to(device))
    opt = AdamATan2([w], lr=0.03, betas=(0.9, 0.95), weight_decay=0.1)
    for g in grads:
        w.grad = g.float().to(device); opt.step()
    err = (w.detach().cpu().double() - hand).abs().max() / hand.abs().max()
    assert err <= 1e-6, err


@pytest.mark.parametrize('device', DEVICES)
def test_sparse_sign_sgd_same_on_device(device):
    gen = torch.Generator().manual_seed(2)
    table = torch.randn(100, 16, generator=gen)
    ids = torch.randint(0, 100, (300,), generator=gen)   # many duplicates
    grads = torch.randn(300, 16, generator=gen)
    ref = sparse_sign_sgd_(table.clone(), grads, ids, 0.01, 0.1)
    got = sparse_sign_sgd_(table.clone().to(device), grads.to(device), ids.to(device), 0.01, 0.1)
    assert torch.allclose(got.cpu(), ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize('device', DEVICES)
def test_sparse_optimizer_follows_model_to_device(device):
    "The optimizer is built before model.to(device), which replaces buffer tensors: it must update the moved table."
    emb = PuzzleEmbedding(20, 4)
    opt = SparseSignSGD(emb, lr=0.1, weight_decay=0.0)
    emb.to(device).train()
    ids = torch.tensor([1, 5, 5], device=device)
    emb(ids).sum().backward()
    opt.step(); opt.zero_grad()
    w = emb.weight.cpu()
    assert torch.allclose(w[[1, 5]], torch.full((2, 4), -0.1)) and w[[0, 2, 3, 4]].abs().sum() == 0
    assert emb.local_weights.grad is None


@pytest.mark.parametrize('device', DEVICES)
def test_ema_on_device(device):
    torch.manual_seed(0)
    m = nn.Linear(5, 3).to(device)
    ema = EMA(m, rate=0.5)
    assert all(s.device.type == torch.device(device).type for s in ema.shadow.values())
    w0 = m.weight.detach().clone()
    with torch.no_grad(): m.weight.add_(1.0)
    ema.update()
    assert torch.allclose(ema.shadow['weight'], w0 + 0.5)
    with ema.swapped(m): assert torch.allclose(m.weight, w0 + 0.5)
    assert torch.allclose(m.weight, w0 + 1.0)
