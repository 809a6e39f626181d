"""Tests for videollm.vq.quantize (the quantiser core): exact against brute force, gradients, losses in the paper's form."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from videollm.vq import quantize as vq

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def brute_force(z, codebook):
    """The textbook lookup with the (N, K, D) tensor the module avoids."""
    flat = z.reshape(-1, z.shape[-1])
    d = ((flat[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)
    return d.argmin(-1).reshape(z.shape[:-1]), d.min(-1).values.reshape(z.shape[:-1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("chunk", [1, 7, 8192])
def test_nearest_codes_equal_brute_force(device, chunk):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 5, 7, 16, generator=g, dtype=torch.float64).to(device)
    codebook = torch.randn(64, 16, generator=g, dtype=torch.float64).to(device)
    indices, distances = vq.nearest_codes(z, codebook, chunk=chunk)
    want_i, want_d = brute_force(z, codebook)
    assert indices.shape == (3, 5, 7) and indices.dtype == torch.long and indices.device.type == device
    assert torch.equal(indices, want_i)
    assert torch.allclose(distances, want_d)


def test_l2_lookup_is_the_largest_cosine_similarity():
    g = torch.Generator().manual_seed(1)
    z, codebook = torch.randn(200, 8, generator=g), torch.randn(32, 8, generator=g) * torch.rand(32, 1, generator=g) * 10
    indices, _ = vq.nearest_codes(z, codebook, l2=True)
    cosine = F.normalize(z, dim=-1) @ F.normalize(codebook, dim=-1).T
    assert torch.equal(indices, cosine.argmax(-1))
    plain, _ = vq.nearest_codes(z, codebook)
    assert not torch.equal(indices, plain), "scaling the codes must change the plain lookup but not the l2 one"


def test_quantize_passes_gradients_straight_through_and_splits_the_losses():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(10, 4, generator=g, requires_grad=True)
    codebook = torch.randn(6, 4, generator=g, requires_grad=True)
    out = vq.quantize(z, codebook)
    assert torch.allclose(out["quantized"], codebook.detach()[out["indices"]]), "forward value is the chosen code"
    out["quantized"].sum().backward(retain_graph=True)
    assert torch.equal(z.grad, torch.ones_like(z)), "the straight-through estimator copies the gradient to z"
    assert codebook.grad is None, "the quantised output gives the codebook no gradient"
    z.grad = None
    out["codebook_loss"].backward(retain_graph=True)
    assert z.grad is None and codebook.grad is not None, "the codebook loss trains only the codebook"
    codebook.grad = None
    out["commitment_loss"].backward()
    assert codebook.grad is None and z.grad is not None, "the commitment loss trains only the encoder"
    q = codebook.detach()[out["indices"]]
    expected = ((q - z.detach()) ** 2).mean() * (1 + vq.BETA)  # both terms have the same value forward
    assert torch.allclose(out["loss"], expected)


def test_usage_and_perplexity():
    assert vq.perplexity(torch.tensor([3, 3, 3, 3]), 8) == pytest.approx(1.0)
    assert vq.perplexity(torch.arange(8).repeat(5), 8) == pytest.approx(8.0, rel=1e-6)
    usage = vq.code_usage(torch.tensor([[0, 1], [1, 1]]), 4)
    assert usage.tolist() == [0.25, 0.75, 0.0, 0.0]


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="D=3"):
        vq.nearest_codes(torch.zeros(2, 3), torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"\(K, D\)"):
        vq.nearest_codes(torch.zeros(2, 3), torch.zeros(4, 3, 1))
    with pytest.raises(ValueError, match="chunk"):
        vq.nearest_codes(torch.zeros(2, 3), torch.zeros(4, 3), chunk=0)
