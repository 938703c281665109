import itertools

import pytest
import torch
import torch.nn.functional as F

from asen.losses import alignment_loss, in_batch_triplet_loss, triplet_loss


def test_triplet_hand_worked():
    a = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[1.0, 1.0]])  # cos 0.7071
    n = torch.tensor([[0.0, 1.0]])  # cos 0
    assert triplet_loss(a, p, n, 0.2).item() == pytest.approx(0.0)
    assert triplet_loss(a, n, p, 0.2).item() == pytest.approx(0.2 + 2 ** -0.5)
    # scale does not matter (cosine)
    assert triplet_loss(3 * a, n, 5 * p, 0.2).item() == pytest.approx(0.2 + 2 ** -0.5)
    # a batch: the mean of the per-triplet hinges (0 and 0.2 + 1/sqrt 2 -> half of the latter)
    both = triplet_loss(torch.cat([a, a]), torch.cat([p, n]), torch.cat([n, p]), 0.2)
    assert both.item() == pytest.approx((0.2 + 2 ** -0.5) / 2)


def test_in_batch_matches_loop():
    torch.manual_seed(0)
    emb = torch.randn(10, 5)
    attrs = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    vals = torch.tensor([0, 0, 1, 1, 2, 0, 0, 1, 1, 0])
    loss, n_valid = in_batch_triplet_loss(emb, attrs, vals, 0.3)
    z = F.normalize(emb, dim=1)
    terms = []
    for i, j, k in itertools.product(range(10), repeat=3):
        if i != j and attrs[i] == attrs[j] == attrs[k] and vals[i] == vals[j] and vals[k] != vals[i]:
            terms.append(max(0.0, 0.3 - float(z[i] @ z[j]) + float(z[i] @ z[k])))
    assert n_valid == len(terms)
    active = [t for t in terms if t > 0]
    assert loss.item() == pytest.approx(sum(active) / len(active), rel=1e-5)


def test_in_batch_gradient_matches_loop():
    torch.manual_seed(1)
    emb = torch.randn(9, 4, requires_grad=True)
    attrs = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1])
    vals = torch.tensor([0, 0, 1, 2, 0, 1, 1, 0, 2])
    loss, _ = in_batch_triplet_loss(emb, attrs, vals, 0.4)
    (grad,) = torch.autograd.grad(loss, emb)
    ref_emb = emb.detach().clone().requires_grad_(True)
    z = F.normalize(ref_emb, dim=1)
    terms = [torch.relu(0.4 - z[i] @ z[j] + z[i] @ z[k]) for i, j, k in itertools.product(range(9), repeat=3)
             if i != j and attrs[i] == attrs[j] == attrs[k] and vals[i] == vals[j] and vals[k] != vals[i]]
    active = [t for t in terms if t.item() > 0]
    (ref_grad,) = torch.autograd.grad(torch.stack(active).mean(), ref_emb)
    assert torch.allclose(grad, ref_grad, atol=1e-6)


def test_in_batch_without_valid_triplets_is_zero():
    emb = torch.randn(4, 3, requires_grad=True)
    loss, n = in_batch_triplet_loss(emb, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1]), 0.2)
    assert n == 0 and loss.item() == 0.0
    loss.backward()
    assert torch.equal(emb.grad, torch.zeros_like(emb))


def test_in_batch_no_active_triplet_is_zero_with_grad():
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], requires_grad=True)
    loss, n = in_batch_triplet_loss(emb, torch.zeros(3, dtype=torch.long), torch.tensor([0, 0, 1]), 0.2)
    assert n == 2 and loss.item() == 0.0
    loss.backward()


def test_alignment():
    g = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert alignment_loss(g, g).item() == pytest.approx(0.0)
    assert alignment_loss(g, -g).item() == pytest.approx(2.0)
    assert alignment_loss(g, torch.tensor([[0.0, 1.0], [0.0, 1.0]])).item() == pytest.approx(0.5)
