"""Tests for videollm.vq.scalar_quant: FSQ and LFQ."""

from __future__ import annotations

import math

import pytest
import torch

from videollm.vq import scalar_quant as sq


def test_fsq_codes_and_indices_form_a_bijection():
    levels = [8, 5, 5, 5]
    all_idx = torch.arange(math.prod(levels))
    codes = sq.fsq_codes(all_idx, levels)
    assert codes.shape == (1000, 4) and codes.min() >= -1 and codes.max() <= 1
    assert torch.equal(sq.fsq_indices(codes, levels), all_idx)
    assert len({tuple(c) for c in codes.tolist()}) == 1000


def test_fsq_quantises_to_the_levels_with_straight_through_gradients():
    g = torch.Generator().manual_seed(0)
    z = (3 * torch.randn(500, 3, generator=g)).requires_grad_()
    codes, indices = sq.fsq(z, [7, 6, 5])
    for channel, L in enumerate([7, 6, 5]):
        steps = codes[:, channel].detach() * (L // 2)  # level numbers: integers from -(L // 2)
        assert torch.allclose(steps, steps.round(), atol=1e-5)
        assert steps.min() >= -(L // 2) - 1e-5 and steps.max() <= L - 1 - L // 2 + 1e-5
        assert len(torch.unique(steps.round())) == L
    assert torch.equal(sq.fsq_codes(indices, [7, 6, 5]), codes.detach())
    codes.sum().backward()
    assert (z.grad >= 0).all() and (z.grad > 0).float().mean() > 0.9, "the tanh's gradient flows through round()"
    spread = sq.fsq(torch.randn(2000, 3, generator=g), [7, 6, 5])[1]
    assert len(torch.unique(spread)) > 150, "unit-variance latents reach most of the 210 codes"


def test_lfq_signs_indices_and_codebook():
    z = torch.tensor([[0.3, -2.0, 0.0], [1.0, 1.0, 1.0]], requires_grad=True)
    codes, indices = sq.lfq(z)
    assert codes.tolist() == [[1, -1, -1], [1, 1, 1]]
    assert indices.tolist() == [1, 7], "channel 0 is the least significant bit; 0 counts as negative"
    book = sq.lfq_codebook(3)
    assert torch.equal(book[indices], codes.detach())
    codes.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_lfq_entropy_loss_rewards_confident_and_diverse_codes():
    book = sq.lfq_codebook(4)
    diverse = book * 3.0                           # every code once, far from the boundaries
    collapsed = book[:1].repeat(16, 1) * 3.0       # every latent on the same code
    unsure = torch.zeros(16, 4) + 1e-4             # on the boundaries
    assert sq.lfq_entropy_loss(diverse) < sq.lfq_entropy_loss(collapsed)
    assert sq.lfq_entropy_loss(diverse) < sq.lfq_entropy_loss(unsure)
    assert sq.lfq_entropy_loss(diverse).item() == pytest.approx(-math.log(16), abs=1e-3)


def test_bad_levels():
    with pytest.raises(ValueError, match="levels"):
        sq.fsq(torch.zeros(2, 3), [8, 1, 5])
    with pytest.raises(ValueError, match="3 channels"):
        sq.fsq(torch.zeros(2, 3), [8, 5])
    with pytest.raises(ValueError, match="too many"):
        sq.lfq_codebook(20)


@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [7, 6, 5], [3, 4, 5, 6, 7]])  # upstream refuses level 2
def test_fsq_matches_vector_quantize_pytorch(levels):
    """lucidrains' FSQ (vector-quantize-pytorch) on the same latents: the same codes, indices and gradients."""
    from vector_quantize_pytorch import FSQ

    z = (2 * torch.randn(3, 40, len(levels), generator=torch.Generator().manual_seed(len(levels)))).requires_grad_()
    upstream = FSQ(levels=levels).eval()
    theirs, their_indices = upstream(z)
    ours, our_indices = sq.fsq(z, levels)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    assert torch.equal(our_indices, their_indices)
    assert torch.equal(sq.fsq_codes(their_indices, levels), ours.detach())
    (their_grad,) = torch.autograd.grad((theirs * torch.arange(len(levels))).sum(), z)
    (our_grad,) = torch.autograd.grad((ours * torch.arange(len(levels))).sum(), z)
    torch.testing.assert_close(our_grad, their_grad)


@pytest.mark.parametrize("dim, temperature", [(4, 0.01), (6, 0.01), (5, 0.5)])
def test_lfq_matches_vector_quantize_pytorch_with_the_bit_order_reversed(dim, temperature):
    """lucidrains' LFQ: the same codes and entropy terms; its index reads channel 0 as the *most* significant bit,
    the course's (the paper's, Open-MAGVIT2's) as the least, so the two agree after reversing the bits."""
    from vector_quantize_pytorch import LFQ

    z = torch.randn(2, 64, dim, generator=torch.Generator().manual_seed(dim)).requires_grad_()
    upstream = LFQ(dim=dim, codebook_size=2 ** dim, entropy_loss_weight=1.0, diversity_gamma=1.0).train()
    (theirs, their_indices, aux), parts = upstream(z, inv_temperature=1 / temperature, return_loss_breakdown=True)
    ours, our_indices = sq.lfq(z)
    assert torch.equal(ours, theirs)
    weights = torch.randn(dim, generator=torch.Generator().manual_seed(1))
    (their_grad,) = torch.autograd.grad((theirs * weights).sum(), z, retain_graph=True)
    (our_grad,) = torch.autograd.grad((ours * weights).sum(), z)
    torch.testing.assert_close(our_grad, their_grad)                   # straight through, both
    z = z.detach()
    reversed_bits = sum(((our_indices >> k) & 1) << (dim - 1 - k) for k in range(dim))
    assert torch.equal(reversed_bits, their_indices)
    expected = parts.per_sample_entropy - parts.batch_entropy
    torch.testing.assert_close(sq.lfq_entropy_loss(z, temperature), expected, rtol=0, atol=1e-4)
    torch.testing.assert_close(aux, expected)
