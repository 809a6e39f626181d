"""Tests for ``videollm.vit`` (unit 01): patches, tubelets, pos_embed, tokens.

Upstream agreement is checked against:
- timm 1.0.31: ``timm.layers.PatchEmbed``, ``timm.layers.resample_abs_pos_embed``, ``vit_tiny_patch16_224``;
- transformers 5.23.0: ``Qwen2VLImageProcessor``, ``Qwen2VLVideoProcessor`` (patch flattening) and the
  Qwen2-VL vision ``PatchEmbed`` (``modeling_qwen2_vl``).
Everything runs offline (``pretrained=False``, processors built from class defaults).
"""

from __future__ import annotations

import math

import pytest
import torch

from videollm.vit.patches import PatchEmbed, patch_embed_linear, patchify, unpatchify
from videollm.vit.pos_embed import resample_pos_embed
from videollm.vit.tokens import TOKEN_SCHEMES, count_tokens, qwen2_vl_patches
from videollm.vit.tubelets import TubeletEmbed, average_frame_init, central_frame_init

timm = pytest.importorskip("timm")
from timm.layers import PatchEmbed as TimmPatchEmbed  # noqa: E402
from timm.layers import resample_abs_pos_embed  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# Conv kernels on GPUs may use TF32; keep the reference comparison in full float32.
torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rand(*shape, seed=0, device="cpu", dtype=torch.float32):
    return torch.randn(*shape, generator=_gen(seed)).to(device=device, dtype=dtype)


# ---------------------------------------------------------------------------------------------------------------
# patchify / unpatchify / linear view
# ---------------------------------------------------------------------------------------------------------------
PATCH_CASES = [  # (B, C, H, W, patch_size)
    (2, 3, 32, 48, 16),
    (1, 1, 12, 20, 4),
    (3, 4, 28, 42, (7, 14)),  # non-square patches
    (2, 3, 30, 18, (6, 3)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("B,C,H,W,p", PATCH_CASES)
def test_patchify_equals_conv_patch_embedding(device, B, C, H, W, p):
    ph, pw = (p, p) if isinstance(p, int) else p
    x = _rand(B, C, H, W, seed=1, device=device)
    conv = torch.nn.Conv2d(C, 8, (ph, pw), stride=(ph, pw), device=device)
    patches = patchify(x, p)
    assert patches.shape == (B, (H // ph) * (W // pw), C * ph * pw)
    assert patches.device == x.device
    ref = conv(x).flatten(2).transpose(1, 2)  # timm's NCHW -> NLC
    got = patches @ conv.weight.reshape(8, -1).T + conv.bias
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    # patch_embed_linear is the same computation
    torch.testing.assert_close(patch_embed_linear(x, conv.weight, conv.bias), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(patch_embed_linear(x, conv.weight, None), ref - conv.bias, atol=1e-5, rtol=1e-5)


def test_patchify_order_row_major_and_channel_first():
    # A 2x3 grid of 2x2 patches whose pixels encode (channel, row, col): check order by hand.
    C, H, W, p = 2, 4, 6, 2
    x = torch.arange(C * H * W, dtype=torch.float32).reshape(1, C, H, W)
    patches = patchify(x, p)
    assert patches.shape == (1, 6, C * p * p)
    # patch k = (row k//3, col k%3); its vector is x[0, :, rows, cols].flatten() in (C, ph, pw) order
    for k in range(6):
        r, c = divmod(k, 3)
        torch.testing.assert_close(patches[0, k], x[0, :, 2 * r:2 * r + 2, 2 * c:2 * c + 2].reshape(-1))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("B,C,H,W,p", PATCH_CASES)
def test_unpatchify_round_trip(device, B, C, H, W, p):
    ph, pw = (p, p) if isinstance(p, int) else p
    x = _rand(B, C, H, W, seed=2, device=device)
    patches = patchify(x, p)
    back = unpatchify(patches, p, (H // ph, W // pw), channels=C)
    assert torch.equal(back, x)
    assert torch.equal(patchify(back, p), patches)


def test_patchify_preserves_dtype_and_integer_inputs():
    x = torch.randint(0, 255, (1, 3, 8, 8), dtype=torch.uint8)
    assert patchify(x, 4).dtype == torch.uint8
    xb = _rand(1, 3, 8, 8, dtype=torch.bfloat16)
    assert patchify(xb, 4).dtype == torch.bfloat16


def test_patchify_errors():
    with pytest.raises(ValueError, match=r"4-D.*unsqueeze\(0\)"):
        patchify(torch.zeros(3, 32, 32), 16)
    with pytest.raises(ValueError, match=r"height 225 is not divisible by the patch size 16.*224 or 240.*dynamic_img_pad"):
        patchify(torch.zeros(1, 3, 225, 224), 16)
    with pytest.raises(ValueError, match=r"width 30 is not divisible"):
        patchify(torch.zeros(1, 3, 32, 30), 16)
    with pytest.raises(ValueError, match=r"patch_size must be"):
        patchify(torch.zeros(1, 3, 32, 32), 0)
    with pytest.raises(ValueError, match=r"grid_size=\(2, 3\) needs gh\*gw=6"):
        unpatchify(torch.zeros(1, 5, 12), 2, (2, 3), channels=3)
    with pytest.raises(ValueError, match=r"length 12 but channels\*ph\*pw"):
        unpatchify(torch.zeros(1, 6, 12), 2, (2, 3), channels=1)
    with pytest.raises(ValueError, match=r"3 channels but weight expects 1"):
        patch_embed_linear(torch.zeros(1, 3, 8, 8), torch.zeros(4, 1, 4, 4))


# ---------------------------------------------------------------------------------------------------------------
# PatchEmbed vs timm.layers.PatchEmbed (timm 1.0.31)
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "img_size,patch_size,in_chans,D,bias,dynamic,input_hw",
    [
        (224, 16, 3, 32, True, False, (224, 224)),
        (224, 16, 3, 32, True, False, (160, 240)),  # non-square image, non-square grid (10x15)
        ((96, 64), (8, 16), 2, 24, False, False, (96, 64)),  # non-square patches, no bias
        (64, 16, 3, 16, True, True, (37, 53)),  # odd sizes: dynamic padding
        (64, (14, 10), 1, 16, True, True, (29, 31)),
        (64, 8, 3, 16, True, True, (64, 48)),  # dynamic padding, nothing to pad
    ],
)
def test_patch_embed_matches_timm(device, img_size, patch_size, in_chans, D, bias, dynamic, input_hw):
    torch.manual_seed(0)
    ref = TimmPatchEmbed(img_size, patch_size, in_chans, D, bias=bias, strict_img_size=False,
                         dynamic_img_pad=dynamic).to(device)
    ours = PatchEmbed(img_size, patch_size, in_chans, D, bias=bias, dynamic_img_pad=dynamic, device=device)
    assert set(ours.state_dict()) == set(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    assert ours.grid_size == ref.grid_size and ours.num_patches == ref.num_patches
    assert ours.proj.weight.device.type == torch.device(device).type
    x = _rand(3, in_chans, *input_hw, seed=3, device=device)
    with torch.no_grad():
        got, want = ours(x), ref(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert ours.feat_size(input_hw) == tuple(ref.dynamic_feat_size(input_hw))
    # and back: timm loads our weights
    ref.load_state_dict(ours.state_dict())


def test_patch_embed_dtype_and_device_kwargs():
    pe = PatchEmbed(32, 8, 3, 16, dtype=torch.float64)
    assert pe.proj.weight.dtype == torch.float64
    out = pe(torch.randn(2, 3, 32, 40, dtype=torch.float64))
    assert out.shape == (2, 4 * 5, 16) and out.dtype == torch.float64


def test_patch_embed_errors():
    pe = PatchEmbed(224, 16, 3, 8)
    with pytest.raises(ValueError, match=r"height 230 is not divisible by the patch size 16.*dynamic_img_pad=True"):
        pe(torch.zeros(1, 3, 230, 224))
    with pytest.raises(ValueError, match=r"expected 3 input channels, got 1"):
        pe(torch.zeros(1, 1, 224, 224))
    with pytest.raises(ValueError, match=r"4-D"):
        pe(torch.zeros(2, 4, 3, 224, 224))


def test_vit_tiny_patch_embed_and_pos_embed_resample():
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    pe = PatchEmbed(224, 16, 3, model.embed_dim)
    pe.load_state_dict(model.patch_embed.state_dict())
    x = _rand(2, 3, 224, 224, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(pe(x), model.patch_embed(x), atol=1e-5, rtol=1e-5)
    assert pe.grid_size == model.patch_embed.grid_size == (14, 14)

    posemb = model.pos_embed.detach()  # (1, 1 + 196, 192)
    assert posemb.shape == (1, 197, model.embed_dim)
    want = resample_abs_pos_embed(posemb, new_size=[16, 20], old_size=[14, 14], num_prefix_tokens=1)
    got = resample_pos_embed(posemb, (16, 20), old_size=(14, 14), num_prefix_tokens=1)
    assert got.shape == (1, 1 + 16 * 20, model.embed_dim)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    torch.testing.assert_close(resample_pos_embed(posemb, (16, 20)), want, atol=1e-6, rtol=0)  # old_size=None
    torch.testing.assert_close(got[:, :1], posemb[:, :1], atol=0, rtol=0)  # class slot untouched


# ---------------------------------------------------------------------------------------------------------------
# resample_pos_embed vs timm.layers.resample_abs_pos_embed (timm 1.0.31)
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_prefix", [0, 1, 5])
@pytest.mark.parametrize(
    "old_size,new_size,pass_old",
    [
        ((7, 7), (10, 10), False),
        ((7, 7), (5, 9), False),
        ((6, 9), (8, 4), True),  # non-square old and new
        ((6, 9), (9, 6), True),  # same token count, different grid: resampled
        ((8, 8), (4, 16), False),  # same token count, non-square new: timm resamples
        ((4, 16), (8, 8), True),  # same token count, old_size given and different: resampled
        ((5, 5), (3, 3), True),  # shrink
    ],
)
@pytest.mark.parametrize("interpolation,antialias", [("bicubic", True), ("bilinear", False)])
def test_resample_pos_embed_matches_timm(device, num_prefix, old_size, new_size, pass_old, interpolation, antialias):
    D = 12
    posemb = _rand(1, num_prefix + old_size[0] * old_size[1], D, seed=5, device=device)
    kw = dict(num_prefix_tokens=num_prefix, interpolation=interpolation, antialias=antialias)
    old = old_size if pass_old else None
    want = resample_abs_pos_embed(posemb, new_size=list(new_size), old_size=list(old) if old else None, **kw)
    got = resample_pos_embed(posemb, new_size, old_size=old, **kw)
    assert got.shape == (1, num_prefix + new_size[0] * new_size[1], D) == want.shape
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    torch.testing.assert_close(got[:, :num_prefix], posemb[:, :num_prefix], atol=0, rtol=0)
    if old_size[0] * old_size[1] == new_size[0] * new_size[1]:
        assert not torch.equal(got, posemb)  # these equal-count cases are genuinely resampled


@pytest.mark.parametrize("num_prefix", [0, 1])
def test_resample_pos_embed_early_returns_like_timm(num_prefix):
    posemb = _rand(1, num_prefix + 49, 8, seed=6)
    # equal token count, square new grid, old_size=None -> unchanged (the very same tensor)
    assert resample_pos_embed(posemb, (7, 7), num_prefix_tokens=num_prefix) is posemb
    assert resample_abs_pos_embed(posemb, [7, 7], num_prefix_tokens=num_prefix) is posemb
    # old_size equal to a non-square new size -> unchanged too
    pe2 = _rand(1, num_prefix + 24, 8, seed=7)
    assert resample_pos_embed(pe2, (4, 6), old_size=(4, 6), num_prefix_tokens=num_prefix) is pe2
    assert resample_abs_pos_embed(pe2, [4, 6], old_size=[4, 6], num_prefix_tokens=num_prefix) is pe2


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_resample_pos_embed_dtype_round_trip(dtype):
    posemb = _rand(1, 1 + 36, 8, seed=8, dtype=dtype)
    got = resample_pos_embed(posemb, (4, 9), num_prefix_tokens=1)
    want = resample_abs_pos_embed(posemb, [4, 9], num_prefix_tokens=1)
    assert got.dtype == dtype
    torch.testing.assert_close(got, want, atol=0, rtol=0)


def test_resample_pos_embed_errors():
    with pytest.raises(ValueError, match=r"not a square grid; pass old_size"):
        resample_pos_embed(torch.zeros(1, 1 + 24, 8), (6, 6))
    with pytest.raises(ValueError, match=r"old_size=\(4, 5\) has 20 positions.*= 24"):
        resample_pos_embed(torch.zeros(1, 1 + 24, 8), (6, 6), old_size=(4, 5))
    with pytest.raises(ValueError, match=r"batch dimension of 1"):
        resample_pos_embed(torch.zeros(2, 50, 8), (6, 6))
    with pytest.raises(ValueError, match=r"antialias=False"):
        resample_pos_embed(torch.zeros(1, 50, 8), (6, 6), interpolation="nearest")


# ---------------------------------------------------------------------------------------------------------------
# Tubelets (ViViT)
# ---------------------------------------------------------------------------------------------------------------
def test_frame_inits_by_hand():
    w = _rand(4, 3, 2, 2, seed=9)
    c = central_frame_init(w, 3)
    assert c.shape == (4, 3, 3, 2, 2)
    assert torch.equal(c[:, :, 1], w) and not c[:, :, 0].any() and not c[:, :, 2].any()
    c2 = central_frame_init(w, 2)
    assert torch.equal(c2[:, :, 1], w) and not c2[:, :, 0].any()  # t//2 = 1 for t = 2
    a = average_frame_init(w, 4)
    assert a.shape == (4, 3, 4, 2, 2)
    torch.testing.assert_close(a.sum(2), w)
    torch.testing.assert_close(a[:, :, 3], w / 4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("t,T,H,W,p", [(2, 8, 32, 48, 16), (3, 6, 24, 16, 8), (1, 3, 16, 16, (8, 4))])
def test_tubelet_embed_shape_and_order(device, t, T, H, W, p):
    ph, pw = (p, p) if isinstance(p, int) else p
    emb = TubeletEmbed(t, p, 3, 10, device=device)
    video = _rand(2, T, 3, H, W, seed=10, device=device)
    with torch.no_grad():
        out = emb(video)
    gt, gh, gw = T // t, H // ph, W // pw
    assert out.shape == (2, gt * gh * gw, 10)
    assert emb.grid_size(T, H, W) == (gt, gh, gw)
    # token (k, i, j) at index k*gh*gw + i*gw + j is the dot product with tubelet (k, i, j)
    tube = video.reshape(2, gt, t, 3, gh, ph, gw, pw).permute(0, 1, 4, 6, 3, 2, 5, 7)  # (B,gt,gh,gw,C,t,ph,pw)
    ref = tube.reshape(2, gt * gh * gw, -1) @ emb.proj.weight.reshape(10, -1).T + emb.proj.bias
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    if ph == pw:
        assert count_tokens(T, H, W, "tubelet", patch_size=ph, tubelet_size=t) == out.shape[1]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("t", [2, 3])
@pytest.mark.parametrize("source", ["ours", "timm"])
def test_tubelet_central_init_embeds_the_centre_frames(device, t, source):
    D, p, T, H, W = 16, 8, 3 * t, 24, 40
    torch.manual_seed(1)
    if source == "ours":
        pe = PatchEmbed(None, p, 3, D, device=device)
    else:
        pe = TimmPatchEmbed(None, p, 3, D, strict_img_size=False).to(device)
    tub = TubeletEmbed.from_patch_embed(pe, t, init="central")
    assert tub.proj.weight.shape == (D, 3, t, p, p) and tub.proj.weight.device == pe.proj.weight.device
    torch.testing.assert_close(tub.proj.bias, pe.proj.bias, atol=0, rtol=0)
    video = _rand(2, T, 3, H, W, seed=11, device=device)
    with torch.no_grad():
        got = tub(video)  # (B, (T/t)*gh*gw, D)
        centre = video[:, t // 2::t]  # frames t*k + t//2, (B, T/t, C, H, W)
        want = pe(centre.flatten(0, 1)).reshape(2, -1, D)  # time-major, then row-major
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_tubelet_average_init_embeds_the_mean_frame():
    t, D = 4, 8
    pe = PatchEmbed(None, 4, 3, D)
    tub = TubeletEmbed.from_patch_embed(pe, t, init="average")
    video = _rand(1, 8, 3, 8, 12, seed=12)
    with torch.no_grad():
        got = tub(video)
        mean_frames = video.reshape(1, 2, t, 3, 8, 12).mean(2)  # (B, T/t, C, H, W)
        want = pe(mean_frames.flatten(0, 1)).reshape(1, -1, D)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_tubelet_errors():
    tub = TubeletEmbed(2, 16, 3, 8)
    with pytest.raises(ValueError, match=r"T=5 is not divisible by tubelet_size=2.*repeating the last frame"):
        tub(torch.zeros(1, 5, 3, 32, 32))
    with pytest.raises(ValueError, match=r"5-D.*unsqueeze\(0\)"):
        tub(torch.zeros(4, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\).*transpose\(1, 2\)"):
        tub(torch.zeros(1, 3, 4, 32, 32))  # channels-first clip with C != 3 in dim 2
    with pytest.raises(ValueError, match=r"frame width 40 is not divisible"):
        tub(torch.zeros(1, 4, 3, 32, 40))
    with pytest.raises(ValueError, match=r"unknown init 'middle'.*central.*average"):
        TubeletEmbed.from_patch_embed(PatchEmbed(None, 16, 3, 8), 2, init="middle")


# ---------------------------------------------------------------------------------------------------------------
# count_tokens: hand-worked numbers
# ---------------------------------------------------------------------------------------------------------------
def test_count_tokens_hand_worked():
    assert TOKEN_SCHEMES == ("per_frame", "tubelet", "qwen2_vl")
    assert count_tokens(1, 224, 224, "per_frame") == 196  # 14 x 14
    assert count_tokens(8, 224, 224, "per_frame") == 8 * 196
    assert count_tokens(1, 230, 239, "per_frame") == 14 * 14  # floor, like a VALID conv
    assert count_tokens(1, 224, 224, "per_frame", patch_size=14) == 256
    assert count_tokens(32, 224, 224, "tubelet") == 3136  # ViViT-B/16x2 on K400: 16 x 14 x 14
    assert count_tokens(33, 224, 224, "tubelet") == 3136  # leftover frame dropped
    assert count_tokens(16, 224, 224, "tubelet", tubelet_size=4) == 784
    assert count_tokens(1, 448, 448, "qwen2_vl") == 256  # 32 x 32 patches / 4
    assert count_tokens(2, 448, 448, "qwen2_vl") == 256  # two frames share one temporal patch
    assert count_tokens(3, 448, 448, "qwen2_vl") == 512  # T=3 padded to 4 -> grid_t = 2
    assert count_tokens(4, 448, 448, "qwen2_vl") == 512
    assert count_tokens(1, 28, 56, "qwen2_vl") == 2  # 2 x 4 patches / 4
    assert count_tokens(4, 336, 588, "qwen2_vl") == 2 * 24 * 42 // 4


def test_count_tokens_errors():
    with pytest.raises(ValueError, match=r"unknown scheme 'frames'.*per_frame.*tubelet.*qwen2_vl"):
        count_tokens(1, 224, 224, "frames")
    with pytest.raises(ValueError, match=r"height=448 and width=450 must both be multiples of.*28.*smart_resize"):
        count_tokens(1, 448, 450, "qwen2_vl")
    with pytest.raises(ValueError, match=r"num_frames must be a positive int"):
        count_tokens(0, 224, 224, "per_frame")
    count_tokens(1, 224, 224, "qwen2_vl")  # 224 = 8 x 28 is fine: 16 x 16 / 4 = 64 tokens
    assert count_tokens(1, 224, 224, "qwen2_vl") == 64


# ---------------------------------------------------------------------------------------------------------------
# Qwen2-VL flattening vs transformers 5.23.0 processors and vision PatchEmbed
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qwen_processors():
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torchvision")
    # Built from class defaults: no hub access. Resize/rescale/normalise off so we compare raw flattening.
    return transformers.Qwen2VLImageProcessor(), transformers.Qwen2VLVideoProcessor()


_RAW = dict(do_resize=False, do_rescale=False, do_normalize=False, return_tensors="pt")


@pytest.mark.parametrize("H,W", [(56, 84), (28, 112)])
def test_qwen2_vl_patches_match_image_processor(qwen_processors, H, W):
    image_proc, _ = qwen_processors
    image = torch.rand(3, H, W, generator=_gen(13))
    out = image_proc(images=[image], **_RAW)
    patches, grid_thw = qwen2_vl_patches(image.unsqueeze(0))  # an image is T = 1, duplicated to T = 2
    assert patches.shape == (H // 14 * (W // 14), 3 * 2 * 14 * 14)
    assert grid_thw.dtype == torch.long and grid_thw.tolist() == out["image_grid_thw"][0].tolist()
    torch.testing.assert_close(patches, out["pixel_values"], atol=0, rtol=0)


@pytest.mark.parametrize("T", [2, 3, 4])
def test_qwen2_vl_patches_match_video_processor(qwen_processors, T):
    _, video_proc = qwen_processors
    video = torch.rand(T, 3, 56, 84, generator=_gen(14))
    out = video_proc(videos=[video], do_sample_frames=False, cap_pixels_per_frame=False, **_RAW)
    patches, grid_thw = qwen2_vl_patches(video)
    assert grid_thw.tolist() == out["video_grid_thw"][0].tolist() == [math.ceil(T / 2), 4, 6]
    torch.testing.assert_close(patches, out["pixel_values_videos"], atol=0, rtol=0)
    assert patches.shape[0] // 4 == count_tokens(T, 56, 84, "qwen2_vl")


@pytest.mark.parametrize("device", DEVICES)
def test_qwen2_vl_patches_feed_qwen_patch_embed_in_merge_order(device):
    """Qwen2-VL's vision PatchEmbed on our patches == our TubeletEmbed on the clip, up to the 2x2 merge order."""
    qwen = pytest.importorskip("transformers.models.qwen2_vl.modeling_qwen2_vl")
    D, T, H, W = 8, 3, 56, 84
    torch.manual_seed(2)
    qpe = qwen.PatchEmbed(patch_size=14, temporal_patch_size=2, in_channels=3, embed_dim=D).to(device)
    tub = TubeletEmbed(2, 14, 3, D, bias=False, device=device)
    tub.load_state_dict(qpe.state_dict())
    video = _rand(T, 3, H, W, seed=15, device=device)
    patches, (gt, gh, gw) = qwen2_vl_patches(video)
    assert patches.device == video.device
    with torch.no_grad():
        q = qpe(patches)  # (gt*gh*gw, D) in merge-block order
        padded = torch.cat([video, video[-1:]], 0)  # the processor's repeat-last-frame padding
        ours = tub(padded.unsqueeze(0))[0]  # (gt*gh*gw, D), time-major then row-major
    # row-major grid -> merge-block order: (gt, gh/2, 2, gw/2, 2) -> (gt, gh/2, gw/2, 2, 2)
    ours = ours.reshape(int(gt), int(gh) // 2, 2, int(gw) // 2, 2, D).permute(0, 1, 3, 2, 4, 5).reshape(-1, D)
    torch.testing.assert_close(q, ours, atol=1e-5, rtol=1e-5)


def test_qwen2_vl_patches_errors():
    with pytest.raises(ValueError, match=r"60x84 is not a multiple of patch_size\*merge_size = 28.*smart_resize"):
        qwen2_vl_patches(torch.zeros(1, 3, 60, 84))
    with pytest.raises(ValueError, match=r"4-D tensor \(T, C, H, W\)"):
        qwen2_vl_patches(torch.zeros(3, 56, 56))
