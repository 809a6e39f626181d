"""Tests for ``videollm.vit.contrastive`` (unit 01): CLIP's and SigLIP's losses, the zero-shot classifier.

Upstream agreement is checked against open_clip 3.3.0 (``open_clip.loss.ClipLoss``, ``open_clip.loss.SigLipLoss``,
``open_clip.zero_shot_classifier.build_zero_shot_classifier``). open_clip's losses take unit vectors and the scale
itself (``logit_scale.exp()``), so they get ``F.normalize``-d inputs and the same scale and bias as ours.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from videollm.vit.contrastive import (CLIP_TAU_INIT, MAX_LOGIT_SCALE, SIGLIP_BIAS_INIT, SIGLIP_LOG_SCALE_INIT,
                                      LogitScale, clip_loss, siglip_loss, zero_shot_classifier, zero_shot_predict)

open_clip_loss = pytest.importorskip("open_clip.loss")
from open_clip.zero_shot_classifier import build_zero_shot_classifier  # noqa: E402


def _pairs(b, d, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(b, d, generator=g, dtype=dtype).requires_grad_()
    text = torch.randn(b, d, generator=g, dtype=dtype).requires_grad_()
    return image, text


@pytest.mark.parametrize("scale", [1.0, 1 / CLIP_TAU_INIT, MAX_LOGIT_SCALE])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_clip_loss_matches_open_clips_clip_loss_and_its_gradients(scale, dtype):
    image, text = _pairs(16, 8, dtype, seed=int(scale))
    s = torch.tensor(scale, dtype=dtype, requires_grad=True)
    ours = clip_loss(image, text, s)
    theirs = open_clip_loss.ClipLoss()(F.normalize(image, dim=-1), F.normalize(text, dim=-1), s)
    assert ours.shape == () and ours.dtype == dtype
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, (image, text, s)),
                               torch.autograd.grad(theirs, (image, text, s)))


@pytest.mark.parametrize(("scale", "bias"), [(10.0, -10.0), (1.0, 0.0), (30.0, -3.5), (MAX_LOGIT_SCALE, -20.0)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_siglip_loss_matches_open_clips_siglip_loss_and_its_gradients(scale, bias, dtype):
    image, text = _pairs(12, 6, dtype, seed=int(scale))
    t = torch.tensor(scale, dtype=dtype, requires_grad=True)
    b = torch.tensor(bias, dtype=dtype, requires_grad=True)
    ours = siglip_loss(image, text, t, b)
    theirs = open_clip_loss.SigLipLoss()(F.normalize(image, dim=-1), F.normalize(text, dim=-1), t, b)
    assert ours.shape == () and ours.dtype == dtype
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours, (image, text, t, b)),
                               torch.autograd.grad(theirs, (image, text, t, b)))


def test_siglip_loss_written_out_cell_by_cell():
    """The paper's formula with loops: -(1/|B|) sum_i sum_j log(1 / (1 + exp(z_ij (-t x_i.y_j - b))))."""
    image, text = (e.detach() for e in _pairs(4, 3, torch.float64))
    x = image / image.norm(dim=1, keepdim=True)
    y = text / text.norm(dim=1, keepdim=True)
    t, b = 10.0, -10.0
    total = 0.0
    for i in range(4):
        for j in range(4):
            z = 1.0 if i == j else -1.0
            total += math.log(1 / (1 + math.exp(z * (-t * float(x[i] @ y[j]) - b))))
    assert siglip_loss(image, text, t, b).item() == pytest.approx(-total / 4, rel=1e-12)


def test_siglip_loss_adds_up_over_blocks_of_the_batch():
    """No softmax: the (B, B) matrix splits into blocks, each needing only its own rows and columns (SigLIP's
    chunked loss). Diagonal blocks are smaller SigLIP losses; off-diagonal blocks hold negatives only."""
    image, text = _pairs(10, 5, torch.float64)
    image, text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
    t, b = torch.tensor(10.0, dtype=torch.float64), torch.tensor(-10.0, dtype=torch.float64)
    chunks = [slice(0, 5), slice(5, 10)]  # open_clip's blocks are square: one device's images, another's texts
    per_block = open_clip_loss.SigLipLoss()._loss  # (image, text, t, b, negative_only) -> block sum / len(image)
    total = sum(per_block(image[r], text[c], t, b, negative_only=r != c) * 5 for r in chunks for c in chunks)
    torch.testing.assert_close(siglip_loss(image, text, t, b) * 10, total)
    assert siglip_loss(image[:5], text[:5], t, b) * 5 < total  # the diagonal block alone misses the other negatives


def test_the_initial_siglip_loss_is_what_the_bias_predicts():
    """With t = 10, b = -10 and unrelated embeddings (cosines near 0), each positive costs about -log sigmoid(-10)
    ~ 10 and each negative about -log sigmoid(10) ~ 4.5e-5: the loss starts near 10, whatever B is."""
    assert math.exp(SIGLIP_LOG_SCALE_INIT) == pytest.approx(10.0) and SIGLIP_BIAS_INIT == -10.0
    for b in (64, 512):
        image, text = _pairs(b, 4096, torch.float64, seed=b)
        loss = siglip_loss(image, text, math.exp(SIGLIP_LOG_SCALE_INIT), SIGLIP_BIAS_INIT).item()
        assert loss == pytest.approx(10.0 + (b - 1) * 4.54e-5, abs=0.5)


def test_both_losses_train_two_encoders_and_their_scale_and_bias():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 5, generator=g), torch.randn(8, 7, generator=g)
    for loss_name in ("clip", "siglip"):
        image_enc, text_enc = torch.nn.Linear(5, 4), torch.nn.Linear(7, 4)
        scale = LogitScale(CLIP_TAU_INIT, learnable=True)
        bias = torch.nn.Parameter(torch.tensor(SIGLIP_BIAS_INIT))
        if loss_name == "clip":
            loss = clip_loss(image_enc(x), text_enc(y), scale.scale)
        else:
            loss = siglip_loss(image_enc(x), text_enc(y), scale.scale, bias)
        loss.backward()
        params = [*image_enc.parameters(), *text_enc.parameters(), scale.log_scale] + (
            [bias] if loss_name == "siglip" else [])
        for p in params:
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, loss_name


def test_losses_stay_finite_at_the_largest_scale_with_large_norms():
    a = torch.randn(256, 32) * 1e3  # normalised first, so logits stay within +-100 (+ bias)
    assert torch.isfinite(clip_loss(a, a.clone(), MAX_LOGIT_SCALE)) and clip_loss(a, a.clone(), MAX_LOGIT_SCALE) < 1e-3
    e = torch.eye(32) * 1e3  # positives at cos = -1 (each costs -log sigmoid(-100) = 100), negatives at cos = 0
    loss = siglip_loss(e, -e, MAX_LOGIT_SCALE, 0.0)  # (32 * 100 + 32 * 31 * log 2) / 32: large, and finite
    assert loss.item() == pytest.approx(100.0 + 31 * math.log(2), rel=1e-6)


def test_bad_batches_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"same \(B, D\) shape"):
        clip_loss(torch.randn(4, 3), torch.randn(4, 5), 1.0)
    with pytest.raises(ValueError, match=r"same \(B, D\) shape"):
        siglip_loss(torch.randn(4, 3), torch.randn(5, 3), 10.0, -10.0)
    with pytest.raises(ValueError, match=r"same \(B, D\) shape"):
        siglip_loss(torch.randn(2, 4, 3), torch.randn(2, 4, 3), 10.0, -10.0)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        clip_loss(torch.randn(1, 3), torch.randn(1, 3), 1.0)
    with pytest.raises(ValueError, match="at least 1 pairs"):
        siglip_loss(torch.randn(0, 3), torch.randn(0, 3), 10.0, -10.0)
    assert torch.isfinite(siglip_loss(torch.randn(1, 3), torch.randn(1, 3), 10.0, -10.0))  # one positive, no negative


class _BagOfBytes(torch.nn.Module):
    """A deterministic toy text model with open_clip's interface: ``encode_text(ids, normalize)``."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.table = torch.randn(256, 6, generator=g)

    @staticmethod
    def tokenize(texts):
        width = max(map(len, texts))
        return torch.tensor([list(t.encode()) + [0] * (width - len(t)) for t in texts])

    def encode_text(self, ids, normalize=False):
        out = self.table[ids].sum(1) + ids.shape[1] * 0.01  # (N, 6)
        return F.normalize(out, dim=-1) if normalize else out


def test_zero_shot_classifier_matches_open_clips():
    model = _BagOfBytes()
    labels = ["a red circle", "a blue square", "an orange diamond"]
    templates = ["a video of {}", "there is {}"]
    ours = zero_shot_classifier(lambda texts: model.encode_text(model.tokenize(texts)), labels, templates)
    theirs = build_zero_shot_classifier(model, model.tokenize, labels, templates, num_classes_per_batch=None)
    assert ours.shape == (3, 6)
    torch.testing.assert_close(ours, theirs.T)  # open_clip returns (D, K)
    torch.testing.assert_close(ours.norm(dim=1), torch.ones(3))


def test_zero_shot_classifier_with_one_template_is_the_normalised_prompt():
    model = _BagOfBytes()
    prompts = ["a video of a red circle", "a video of a blue square"]
    ours = zero_shot_classifier(lambda texts: model.encode_text(model.tokenize(texts)), ["a red circle",
                                                                                         "a blue square"],
                                ["a video of {}"])
    torch.testing.assert_close(ours, F.normalize(model.encode_text(model.tokenize(prompts)), dim=-1))


def test_zero_shot_predict_picks_the_closest_label_whatever_the_image_norm():
    classifier = torch.eye(3)
    images = torch.tensor([[0.1, 5.0, 0.0], [-1.0, 0.0, 0.2], [9.0, 1.0, 0.0], [0.0, 0.0, 1e-3]])
    pred = zero_shot_predict(images, classifier)
    assert pred.dtype == torch.int64 and pred.tolist() == [1, 2, 0, 2]
    assert zero_shot_predict(images * 1e4, classifier).tolist() == pred.tolist()


def test_zero_shot_errors_say_what_to_pass():
    encode = _BagOfBytes()
    text_encoder = lambda texts: encode.encode_text(encode.tokenize(texts))  # noqa: E731
    with pytest.raises(ValueError, match="labels must be a non-empty list"):
        zero_shot_classifier(text_encoder, [], ["{}"])
    with pytest.raises(ValueError, match="labels must be a non-empty list"):
        zero_shot_classifier(text_encoder, "a red circle", ["{}"])
    with pytest.raises(ValueError, match=r"one '\{\}' each"):
        zero_shot_classifier(text_encoder, ["a red circle"], ["a video of"])
    with pytest.raises(ValueError, match=r"\(2, D\) tensor"):
        zero_shot_classifier(lambda texts: torch.zeros(1, 4), ["a", "b"], ["{}"])
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        zero_shot_predict(torch.randn(4, 3), torch.randn(2, 5))


def test_unit_07s_infonce_is_this_code():
    """One implementation: unit 07 re-exports this module's pieces and calls its loss."""
    from videollm.anyany import infonce

    assert infonce.LogitScale is LogitScale and infonce.TEXT_TAU_INIT == CLIP_TAU_INIT
    image, text = _pairs(6, 4)
    assert torch.equal(infonce.symmetric_infonce(image, text, 20.0), clip_loss(image, text, 20.0))
