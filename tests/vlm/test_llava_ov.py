"""Tests for videollm.vlm.llava_ov against transformers 5.23.0's LLaVA-OneVision code and the paper's token budgets.

Upstream checked: ``transformers.image_processing_utils.select_best_resolution`` / ``get_patch_output_size``,
``models.llava_onevision.modeling_llava_onevision`` (``get_anyres_image_grid_shape``, ``image_size_to_num_patches``,
``unpad_image``, ``LlavaOnevisionModel.pack_image_features`` and ``apply_pooling`` on a tiny random model), the
``LlavaOnevisionImageProcessor``'s crop count and the ``LlavaOnevisionProcessor``'s token counts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import LlavaOnevisionConfig, LlavaOnevisionProcessor, PreTrainedTokenizerFast
from transformers.image_processing_utils import select_best_resolution as hf_select_best_resolution
from transformers.models.llava_onevision import modeling_llava_onevision as hf
from transformers.models.llava_onevision.image_processing_llava_onevision import LlavaOnevisionImageProcessor
from transformers.models.llava_onevision.video_processing_llava_onevision import LlavaOnevisionVideoProcessor

from videollm.vlm import llava_ov as ov


def random_sizes(n, seed=0, low=16, high=4000):
    """``n`` random (height, width) pairs: log-uniform sides, so both tiny and huge images and wild aspects."""
    rng = np.random.default_rng(seed)
    sides = np.exp(rng.uniform(math.log(low), math.log(high), size=(n, 2))).astype(int)
    return [(int(h), int(w)) for h, w in sides]


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    config = LlavaOnevisionConfig(
        vision_config=dict(
            model_type="siglip_vision_model", hidden_size=8, intermediate_size=16, num_hidden_layers=1,
            num_attention_heads=2, image_size=384, patch_size=14,
        ),
        text_config=dict(
            model_type="qwen2", vocab_size=32, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=1,
        ),
    )
    return hf.LlavaOnevisionModel(config).eval()


@pytest.fixture(scope="module")
def processor():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "<image>": 1, "<video>": 2}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[UNK]",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )
    return LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(), tokenizer=fast, video_processor=LlavaOnevisionVideoProcessor(),
        num_image_tokens=729, vision_feature_select_strategy="full",
    )


# ------------------------------------------------------------------------------------- grid selection
def test_pinpoints_are_transformers_default_36():
    default = [tuple(p) for p in LlavaOnevisionConfig().image_grid_pinpoints]
    assert ov.GRID_PINPOINTS == default
    assert len(ov.GRID_PINPOINTS) == 36 and ov.GRID_PINPOINTS[0] == (384, 384) and ov.GRID_PINPOINTS[-1] == (2304, 2304)


def test_select_best_resolution_agrees_with_transformers():
    rng = np.random.default_rng(1)
    for i, size in enumerate(random_sizes(600, seed=1)):
        pins = ov.GRID_PINPOINTS
        if i % 3 == 0:  # also on random candidate lists, where ties between candidates are common
            keep = rng.choice(36, size=int(rng.integers(1, 12)), replace=False)
            pins = [ov.GRID_PINPOINTS[k] for k in keep]
        assert ov.select_best_resolution(size, pins) == tuple(hf_select_best_resolution(size, pins)), (size, pins)


def test_select_best_resolution_hand_worked():
    # 1080x1920 fits 1152x1920 without losing a pixel; 1152x2304 keeps as many but wastes more canvas.
    assert ov.select_best_resolution((1080, 1920)) == (1152, 1920)
    # A 384x384 image is kept whole by every candidate: the tie-break on waste picks the smallest canvas.
    assert ov.select_best_resolution((384, 384)) == (384, 384)
    # Upscaling adds no effective pixels: a tiny image gets the smallest canvas too.
    assert ov.select_best_resolution((10, 20)) == (384, 384)
    # (height, width) order: a tall image gets a tall grid.
    assert ov.select_best_resolution((1920, 1080)) == (1920, 1152)


def test_grid_shape_and_crop_count_agree_with_transformers():
    for size in random_sizes(200, seed=2):
        assert ov.grid_shape(size) == tuple(hf.get_anyres_image_grid_shape(size, ov.GRID_PINPOINTS, 384))
        rows, cols = ov.grid_shape(size)
        assert 1 + rows * cols == hf.image_size_to_num_patches(size, ov.GRID_PINPOINTS, 384)


# ------------------------------------------------------------------------------------------- pixels
def test_resized_size_agrees_with_transformers():
    from transformers.image_processing_utils import get_patch_output_size
    from transformers.image_utils import ChannelDimension

    for size in random_sizes(200, seed=3):
        target = ov.select_best_resolution(size)
        dummy = np.zeros((3, *size), dtype=np.uint8)
        want = get_patch_output_size(dummy, target, ChannelDimension.FIRST)
        assert ov.resized_size(size, target) == tuple(want), size


def test_resize_and_pad_centres_on_black():
    image = torch.rand(3, 100, 200) + 0.5  # strictly positive, so the padding shows as exact zeros
    out = ov.resize_and_pad(image, (384, 384))
    assert out.shape == (3, 384, 384)
    rows = (out > 0).all(0).all(1)
    assert rows.sum() == 192 and rows[96:288].all()  # 100x200 -> 192x384, 96 black rows above and below
    img8 = (torch.rand(50, 30, 3) * 255).to(torch.uint8).clamp(min=1)
    out8 = ov.resize_and_pad(img8, (384, 768))
    assert out8.dtype == torch.uint8 and out8.shape == (384, 768, 3)
    cols = (out8 > 0).any(-1).any(0)
    assert cols.sum() == 231 and cols[268:499].all()  # 30 * 384/50 = 230.4 -> ceil 231 columns, centred
    with pytest.raises(ValueError, match="C, H, W"):
        ov.resize_and_pad(torch.rand(2, 3, 4, 5), (384, 384))


def test_divide_to_crops_is_row_major():
    image = torch.arange(3 * 6 * 9, dtype=torch.float32).reshape(3, 6, 9)
    crops = ov.divide_to_crops(image, crop=3)
    assert crops.shape == (6, 3, 3, 3)
    for r in range(2):
        for c in range(3):
            assert torch.equal(crops[r * 3 + c], image[:, 3 * r : 3 * r + 3, 3 * c : 3 * c + 3])
    with pytest.raises(ValueError, match="multiple of crop"):
        ov.divide_to_crops(torch.zeros(3, 10, 12), crop=3)


def test_anyres_crops_agree_with_the_image_processor():
    """Same crops, same order, same pixels up to the processor's uint8 rounding (1-2 grey levels)."""
    proc = LlavaOnevisionImageProcessor()
    mean = torch.tensor(proc.image_mean)[:, None, None]
    std = torch.tensor(proc.image_std)[:, None, None]
    g = torch.Generator().manual_seed(8)
    for size in [(480, 640), (300, 1200), (1000, 700), (100, 300)]:
        # a smooth random picture, so resampling differences stay small
        coarse = torch.rand(1, 3, size[0] // 10 + 1, size[1] // 10 + 1, generator=g)
        image = (F.interpolate(coarse, size=size, mode="bilinear")[0] * 255).round().to(torch.uint8)
        want = proc(images=[image], return_tensors="pt")["pixel_values"][0]
        crops = ov.anyres_crops(image.float() / 255)
        assert crops.shape == want.shape, size
        diff = ((crops - mean) / std - want).abs() * std * 255  # in grey levels
        assert diff.max() <= 2.5 and diff.mean() < 0.5, (size, diff.max(), diff.mean())  # rounding alone: ~0.25
    hwc = torch.randint(0, 256, (100, 300, 3), dtype=torch.uint8)
    crops8 = ov.anyres_crops(hwc)
    assert crops8.dtype == torch.uint8 and crops8.shape == (1 + 1, 3, 384, 384)  # 100x300 fits whole in 384x384


# ----------------------------------------------------------------------------------------- features
def test_unpad_features_agrees_with_transformers():
    rng = np.random.default_rng(4)
    for size in random_sizes(400, seed=4):
        rows, cols = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        feat = torch.randn(2, rows * 27, cols * 27)
        got, want = ov.unpad_features(feat, size), hf.unpad_image(feat, size)
        assert got.shape == want.shape and torch.equal(got, want), (size, rows, cols)


def test_unpad_features_hand_worked():
    feat = torch.zeros(1, 54, 54)  # 2x2 grid for a 480x640 image: picture 54 x 40.5 -> 40 rows, 7 cut each side
    assert ov.unpad_features(feat, (480, 640)).shape == (1, 40, 54)
    assert ov.unpad_features(feat, (640, 480)).shape == (1, 54, 40)  # tall: columns are cut


def test_anyres_max_downsample_caps_the_tokens():
    feat = torch.randn(4, 162, 162)  # 6x6 grid: 26244 tokens, ratio 2 -> 81x81
    out = ov.anyres_max_downsample(feat)
    assert out.shape == (4, 81, 81)
    assert torch.allclose(out, torch.nn.functional.interpolate(feat[None], size=[81, 81], mode="bilinear")[0])
    small = torch.randn(4, 81, 81)  # exactly 9 crops: ratio 1, left alone
    assert ov.anyres_max_downsample(small) is small
    near = torch.randn(4, 27 * 3, 27 * 3 + 8)  # ratio just above 1 but below 1.1: left alone
    assert ov.anyres_max_downsample(near) is near


def test_add_newlines_layout():
    feat = torch.arange(2 * 2 * 3, dtype=torch.float32).reshape(2, 2, 3)
    nl = torch.tensor([-1.0, -2.0])
    out = ov.add_newlines(feat, nl)
    assert out.shape == (2 * 4, 2)
    assert torch.equal(out[3], nl) and torch.equal(out[7], nl)
    assert torch.equal(out[:3], feat[:, 0].T) and torch.equal(out[4:7], feat[:, 1].T)
    with pytest.raises(ValueError, match="newline"):
        ov.add_newlines(feat, torch.zeros(3))


def test_pack_image_features_agrees_with_transformers(tiny_model):
    C = 8
    newline = tiny_model.image_newline.detach()
    for size in random_sizes(60, seed=5, low=30, high=3000) + [(384, 384), (2304, 2304), (1080, 1920)]:
        best = ov.select_best_resolution(size)
        n = (best[0] // 384) * (best[1] // 384)
        feats = torch.randn(1 + n, 729, C)
        (want,), lens = tiny_model.pack_image_features([feats], torch.tensor([size]), image_newline=newline)
        got = ov.pack_image_features(feats, size, best, newline)
        assert got.shape == want.shape, size
        assert torch.allclose(got, want, atol=1e-6), size
        assert got.shape[0] == ov.num_image_tokens(size), size
    single = torch.randn(1, 729, C)  # a multi-image entry: one crop, one newline
    (want,), _ = tiny_model.pack_image_features([single], torch.tensor([(500, 500)]), image_newline=newline)
    assert torch.equal(ov.pack_image_features(single, (500, 500), (384, 384), newline), want)


def test_pool_video_frames_agrees_with_transformers(tiny_model):
    feats = torch.randn(5, 729, 8)
    got = ov.pool_video_frames(feats)
    assert got.shape == (5, 196, 8)
    assert torch.allclose(got, tiny_model.apply_pooling(feats), atol=1e-6)
    assert ov.pool_video_frames(feats, mode="average").shape == (5, 169, 8)  # 2x2 average pooling floors 27 -> 13
    const = torch.full((2, 729, 3), 0.25)
    assert torch.allclose(ov.pool_video_frames(const), torch.full((2, 196, 3), 0.25))
    with pytest.raises(ValueError, match="square"):
        ov.pool_video_frames(torch.randn(2, 700, 3))


# ------------------------------------------------------------------------------------------- counting
def test_num_image_tokens_agrees_with_the_processor(processor):
    sizes = random_sizes(500, seed=6)
    want = processor._get_num_multimodal_tokens(image_sizes=sizes)["num_image_tokens"]
    assert [ov.num_image_tokens(s) for s in sizes] == list(want)


def test_num_video_tokens_agrees_with_the_processor(processor):
    frames = [1, 2, 8, 16, 32, 33]
    want = processor._get_num_multimodal_tokens(video_sizes=[(f, 384, 384) for f in frames])["num_video_tokens"]
    assert [ov.num_video_tokens(f) for f in frames] == list(want)
    assert ov.num_video_tokens(32, newline="no_token") == 32 * 196
    assert ov.num_video_tokens(32, newline="frame") == 32 * 197
    assert ov.num_video_tokens(32, newline="grid") == 32 * 14 * 15  # LLaVA-NeXT's mm_newline_position="grid"


def test_token_budgets_from_the_paper():
    s = ov.token_strategy()
    assert s["tokens_per_crop"] == 729 == 27 * 27
    assert s["single_image"]["tokens"] == (1 + 9) * 729 == 7290
    assert s["multi_image"]["tokens"] == 12 * 729 == 8748
    assert s["video"]["tokens"] == 32 * 196 == 6272
    # "Max 9" is a soft cap: a grid map is left alone up to 1.1x the 9-crop side (1.21 x 6561 tokens), and
    # every row adds a newline (at most 6 * 27 rows). Beyond that it is shrunk back to about 9 crops' worth.
    counts = {size: ov.num_image_tokens(size) for size in random_sizes(300, seed=7)}
    assert max(counts.values()) <= 729 + int(1.1**2 * 9 * 729) + 6 * 27
    assert max(counts.values()) > 7290  # the soft cap is visible on random sizes
    assert ov.num_image_tokens((2304, 2304)) == 729 + 81 * 82  # 162x162 map, ratio 2 -> 81x81 plus 81 newlines


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="height"):
        ov.select_best_resolution((0, 100))
    with pytest.raises(ValueError, match="empty"):
        ov.select_best_resolution((100, 100), [])
    with pytest.raises(ValueError, match="crops"):
        ov.pack_image_features(torch.randn(3, 729, 4), (500, 500), (384, 768 * 2), None)
    with pytest.raises(ValueError, match="newline"):
        ov.num_video_tokens(4, newline="row")
    with pytest.raises(TypeError):
        ov.unpad_features(np.zeros((1, 27, 27)), (10, 10))


def test_docstring_examples():
    import doctest

    result = doctest.testmod(ov)
    assert result.attempted > 5 and result.failed == 0


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_features_stay_on_their_device(device):
    feats = torch.randn(1 + 6, 729, 4, device=device)
    newline = torch.randn(4, device=device)
    packed = ov.pack_image_features(feats, (700, 1100), ov.select_best_resolution((700, 1100)), newline)
    assert packed.device.type == device and packed.shape[0] == ov.num_image_tokens((700, 1100))
    assert torch.allclose(packed.cpu(), ov.pack_image_features(feats.cpu(), (700, 1100), (768, 1152), newline.cpu()))
    assert ov.pool_video_frames(feats).device.type == device
    assert ov.anyres_crops(torch.rand(3, 200, 500, device=device)).device.type == device
