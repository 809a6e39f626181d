"""Symmetric InfoNCE and ImageBind's temperatures, checked against open_clip's ClipLoss."""

import math

import pytest
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from videollm.anyany.infonce import (AUDIO_TAU, MAX_LOGIT_SCALE, TEXT_TAU_INIT, LogitScale, similarity_logits,
                                     symmetric_infonce)


@pytest.mark.parametrize("scale", [1.0, 1 / 0.07, 20.0, 100.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_open_clips_clip_loss_and_its_gradients(scale, dtype):
    g = torch.Generator().manual_seed(int(scale))
    a = torch.randn(16, 8, generator=g, dtype=dtype).requires_grad_()
    b = torch.randn(16, 8, generator=g, dtype=dtype).requires_grad_()
    ours = symmetric_infonce(a, b, scale)
    theirs = ClipLoss()(F.normalize(a, dim=-1), F.normalize(b, dim=-1), scale)  # ClipLoss expects unit vectors
    assert ours.dtype == dtype and ours.shape == ()
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, (a, b)), torch.autograd.grad(theirs, (a, b)))


def test_is_the_mean_of_both_directions_written_out():
    a, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    sim = 20 * an @ bn.T
    by_hand = 0.0
    for i in range(5):
        by_hand += -math.log(math.exp(sim[i, i]) / sum(math.exp(sim[i, j]) for j in range(5)))  # a -> b
        by_hand += -math.log(math.exp(sim[i, i]) / sum(math.exp(sim[j, i]) for j in range(5)))  # b -> a
    assert symmetric_infonce(a, b, 20.0).item() == pytest.approx(by_hand / 10, rel=1e-12)


def test_stays_finite_at_the_largest_scale_with_large_norms():
    a = torch.randn(256, 32) * 1e3  # large norms: normalised first, so the logits stay within +-100
    loss = symmetric_infonce(a, a.clone(), MAX_LOGIT_SCALE)
    assert torch.isfinite(loss) and loss.item() < 1e-3  # perfectly paired: near zero, not NaN


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="same"):
        symmetric_infonce(torch.randn(4, 3), torch.randn(4, 5), 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        symmetric_infonce(torch.randn(1, 3), torch.randn(1, 3), 1.0)
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        similarity_logits(torch.randn(4), torch.randn(4, 3), 1.0)


def test_logit_scale_fixed_and_learnable_as_imagebind():
    audio, text = LogitScale(AUDIO_TAU, learnable=False), LogitScale(TEXT_TAU_INIT, learnable=True)
    assert audio.scale.item() == pytest.approx(20.0) and text.scale.item() == pytest.approx(1 / 0.07)
    assert list(audio.parameters()) == [] and "log_scale" in audio.state_dict()  # saved, never trained
    assert [p.shape for p in text.parameters()] == [torch.Size([])]
    x = torch.ones(3)
    torch.testing.assert_close(audio(x), torch.full((3,), 20.0))
    clipped = LogitScale(0.001, learnable=True)  # exp(log 1000) clipped at 100: no gradient through the clip
    assert clipped.scale.item() == MAX_LOGIT_SCALE
    clipped.scale.backward()
    assert clipped.log_scale.grad.item() == 0
    assert "learnable=False" in repr(audio)
    with pytest.raises(ValueError, match="positive temperature"):
        LogitScale(0.0, learnable=False)
