"""Tests for videollm.vq.codebook: EMA codebook updates (sonnet's recipe), k-means, dead-code restarts."""

from __future__ import annotations

import pytest
import torch

from videollm.vq import codebook as cb

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def blobs(n_per=200, centres=((0.0, 0.0), (5.0, 5.0), (-5.0, 5.0)), spread=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.tensor(centres, dtype=torch.float64)
    return (c[:, None, :] + spread * torch.randn(len(c), n_per, 2, generator=g, dtype=torch.float64)).reshape(-1, 2), c


def test_first_ema_step_moves_used_codes_to_their_cluster_means():
    z, _ = blobs()
    init = torch.tensor([[0.5, 0.5], [4.0, 4.0], [-4.0, 4.0], [50.0, 50.0]], dtype=torch.float64)
    layer = cb.EMACodebook(4, 2, decay=0.99, codebook=init, dtype=torch.float64)
    out = layer(z)
    # The returned codes are the ones chosen (before the update).
    assert torch.allclose(out["quantized"], init[out["indices"]])
    counts = torch.bincount(out["indices"], minlength=4).to(torch.float64)
    assert torch.allclose(layer.cluster_size(), counts), "debiased EMA of one step is the step's counts"
    n, K, eps = counts.sum(), 4, 1e-5
    smoothed = (counts + eps) / (n + K * eps) * n
    for k in range(3):
        mean_sum = z[out["indices"] == k].sum(0)
        assert torch.allclose(layer.embed[k], mean_sum / smoothed[k])
    assert torch.allclose(layer.embed[3], torch.zeros(2, dtype=torch.float64)), "an unused code decays to zero"


def test_ema_converges_to_the_cluster_means_and_trains_no_parameters():
    z, centres = blobs()
    layer = cb.EMACodebook(3, 2, decay=0.9, codebook=centres + 1.0, dtype=torch.float64)
    assert list(layer.parameters()) == [], "EMA codes are buffers, not parameters"
    for _ in range(50):
        layer(z)
    means = torch.stack([z[i * 200:(i + 1) * 200].mean(0) for i in range(3)])
    assert torch.allclose(layer.embed, means, atol=1e-3)
    layer.eval()
    before = layer.embed.clone()
    layer(z + 1)
    assert torch.equal(layer.embed, before), "eval mode does not update the codes"


def test_l2_codes_stay_on_the_unit_sphere():
    z, _ = blobs(centres=((1.0, 2.0), (3.0, -1.0)))
    layer = cb.EMACodebook(2, 2, l2=True, codebook=torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64),
                           dtype=torch.float64)
    out = layer(z)
    assert torch.allclose(layer.embed.norm(dim=-1), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(out["quantized"].norm(dim=-1), torch.ones(len(z), dtype=torch.float64))


@pytest.mark.parametrize("device", DEVICES)
def test_kmeans_finds_separated_blobs(device):
    z, centres = blobs()
    found = cb.kmeans(z.to(device), 3, iters=10, generator=torch.Generator().manual_seed(0)).cpu()
    order = torch.cdist(centres, found).argmin(dim=1)
    assert sorted(order.tolist()) == [0, 1, 2]
    assert torch.allclose(found[order], centres, atol=0.1)
    with pytest.raises(ValueError, match="at least K=700"):
        cb.kmeans(z, 700)


def test_dead_codes_are_restarted_from_latents():
    z, _ = blobs()
    codes = torch.zeros(4, 2, dtype=torch.float64)
    counts = torch.tensor([10.0, 0.0, 3.0, 0.5])
    new, n = cb.restart_dead_codes(codes, counts, z, threshold=1.0, generator=torch.Generator().manual_seed(1))
    assert n == 2 and torch.equal(codes, torch.zeros(4, 2, dtype=torch.float64)), "the input is left alone"
    assert torch.equal(new[[0, 2]], codes[[0, 2]])
    for k in (1, 3):
        assert (new[k] == z).all(dim=1).any(), "a restarted code is one of the latents"
    assert cb.restart_dead_codes(codes, torch.ones(4), z)[1] == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="decay"):
        cb.EMACodebook(4, 2, decay=1.0)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        cb.EMACodebook(4, 2, codebook=torch.zeros(3, 2))
