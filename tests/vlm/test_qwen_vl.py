"""Tests for videollm.vlm.qwen_vl against transformers 5.23.0's Qwen2-VL / Qwen2.5-VL code and worked examples.

Upstream checked: ``models.qwen2_vl.image_processing_qwen2_vl.smart_resize`` (where its edge rules agree with
qwen-vl-utils 0.0.10), the ``Qwen2VLImageProcessor`` / ``Qwen2VLVideoProcessor`` grids and frame counts, and
``Qwen2VLModel.get_rope_index`` / ``Qwen2_5_VLModel.get_rope_index`` on tiny random models — on random layouts where
``transformers_agrees`` holds (the original rule), and everywhere with ``rule="transformers"``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import Qwen2_5_VLConfig, Qwen2VLConfig
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf_smart_resize
from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from videollm import sampling
from videollm.vlm import qwen_vl as q

IMAGE, VIDEO, START, END = 60, 61, 62, 63
TEXT = dict(
    vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
    num_key_value_heads=1, bos_token_id=0, eos_token_id=1,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
)
IDS = dict(image_token_id=IMAGE, video_token_id=VIDEO, vision_start_token_id=START, vision_end_token_id=END)


@pytest.fixture(scope="module")
def qwen2():
    torch.manual_seed(0)
    vision = dict(depth=1, embed_dim=16, hidden_size=16, num_heads=2, mlp_ratio=2, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2)
    return Qwen2VLModel(Qwen2VLConfig(text_config=TEXT, vision_config=vision, **IDS)).eval()


@pytest.fixture(scope="module")
def qwen25():
    torch.manual_seed(0)
    vision = dict(depth=1, hidden_size=16, out_hidden_size=16, intermediate_size=32, num_heads=2, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2, tokens_per_second=2, window_size=56,
                  fullatt_block_indexes=[0])
    return Qwen2_5_VLModel(Qwen2_5_VLConfig(text_config=TEXT, vision_config=vision, **IDS)).eval()


# ----------------------------------------------------------------------------------------- smart_resize
def test_smart_resize_hand_worked():
    assert q.smart_resize(1080, 1920) == (1092, 1932)  # 38.6 -> 39 and 68.6 -> 69 multiples of 28
    assert q.smart_resize(20, 20) == (56, 56)  # below min_pixels = 4*28*28: scaled up, rounded up
    assert q.smart_resize(42, 420) == (56, 420)  # 42/28 = 1.5 rounds to even: 2*28
    assert q.smart_resize(70, 420) == (56, 420)  # 70/28 = 2.5 rounds to even: 2*28, not 3*28
    assert q.smart_resize(720, 1280, max_pixels=q.VIDEO_MAX_PIXELS) == (560, 1008)  # floor branch
    assert q.smart_resize(8, 1000, min_pixels=0) == (28, 1008)  # qwen-vl-utils keeps a side of at least 28
    h, w = q.smart_resize(10000, 10000)
    assert h * w <= q.MAX_PIXELS and h % 28 == 0 and w % 28 == 0
    with pytest.raises(ValueError, match="aspect ratio"):
        q.smart_resize(10, 2500)


def test_smart_resize_agrees_with_transformers_where_the_edge_rules_agree():
    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(1500):
        h, w = np.exp(rng.uniform(math.log(15), math.log(6000), size=2)).astype(int)
        if max(h, w) / min(h, w) > 200:
            continue
        lo = int(rng.choice([56 * 56, 128 * 28 * 28, 4 * 28 * 28, 1000]))
        hi = int(rng.choice([28 * 28 * 1280, 768 * 28 * 28, 14 * 14 * 4 * 1280, 256 * 28 * 28, q.MAX_PIXELS]))
        got = q.smart_resize(int(h), int(w), min_pixels=lo, max_pixels=hi)
        if min(got) < 28:  # extreme aspect under a small budget: transformers floors the side at 28 instead
            continue
        assert got == tuple(hf_smart_resize(int(h), int(w), factor=28, min_pixels=lo, max_pixels=hi)), (h, w, lo, hi)
        compared += 1
    assert compared > 1000


def test_image_processor_grid_thw_agrees():
    proc = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=64 * 28 * 28)
    rng = np.random.default_rng(1)
    for _ in range(12):
        h, w = (int(v) for v in rng.integers(20, 400, size=2))
        out = proc(images=[torch.randint(0, 256, (3, h, w), dtype=torch.uint8)], return_tensors="pt")
        rh, rw = q.smart_resize(h, w, min_pixels=56 * 56, max_pixels=64 * 28 * 28)
        assert out["image_grid_thw"].tolist() == [[1, rh // 14, rw // 14]], (h, w)
        assert out["pixel_values"].shape == ((rh // 14) * (rw // 14), 3 * 2 * 14 * 14)


def test_video_processor_grid_thw_agrees():
    proc = Qwen2VLVideoProcessor(min_pixels=56 * 56, max_pixels=64 * 28 * 28)
    for frames, h, w in [(4, 90, 120), (5, 60, 200), (2, 300, 100)]:
        video = torch.randint(0, 256, (frames, 3, h, w), dtype=torch.uint8)
        out = proc(videos=[video], return_tensors="pt")
        rh, rw = q.smart_resize(h, w, min_pixels=56 * 56, max_pixels=64 * 28 * 28)
        assert out["video_grid_thw"].tolist() == [[math.ceil(frames / 2), rh // 14, rw // 14]]


# ------------------------------------------------------------------------------------------ video budgets
def test_video_budgets_hand_worked():
    v = q.video_tokens(10 * 30, 720, 1280, fps=30.0)  # 1280x720 at 30 fps, 10 s
    assert (v["nframes"], v["height"], v["width"]) == (20, 560, 1008)
    assert v["grid_thw"] == (10, 40, 72) and v["tokens_per_grid"] == 720 and v["tokens"] == 7200
    assert v["second_per_grid"] == pytest.approx(1.0)
    v = q.video_tokens(60 * 30, 720, 1280, fps=30.0)
    assert v["nframes"] == 120 and v["tokens"] == 43200
    v = q.video_tokens(600 * 30, 720, 1280, fps=30.0)  # capped at 768 frames; they share the total budget
    assert v["nframes"] == 768 and v["max_pixels"] == 235200 == 90316800 * 2 // 768
    assert (v["height"], v["width"], v["tokens_per_grid"], v["tokens"]) == (336, 644, 276, 105984)
    assert v["sample_fps"] == pytest.approx(1.28)
    assert q.video_frame_pixels(20) == q.VIDEO_MAX_PIXELS
    assert q.video_frame_pixels(100000) == int(q.VIDEO_MIN_PIXELS * 1.05)  # never below ~min_pixels
    assert q.video_frame_pixels(20, max_pixels=1000) == 1000  # a user cap only lowers it


def test_constants():
    assert q.IMAGE_FACTOR == 28 and q.MIN_PIXELS == 3136 and q.MAX_PIXELS == 12845056
    assert q.VIDEO_MIN_PIXELS == 100352 and q.VIDEO_MAX_PIXELS == 602112 and q.VIDEO_TOTAL_PIXELS == 90316800
    assert q.FRAME_FACTOR == 2 and q.FPS == 2.0 and q.smart_nframes is sampling.smart_nframes  # re-exported


# ------------------------------------------------------------------------------------------------ M-RoPE
def test_mrope_docstring_example():
    # transformers' get_rope_index docstring: 3 temporal x 2 x 2 LLM patches (grid 3x4x4), then text.
    ids = q.mrope_position_ids([("video", (3, 4, 4)), ("text", 5)])
    assert ids.shape == (3, 17) and ids.dtype == torch.int64
    assert ids[0, :12].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert ids[1, :12].tolist() == [0, 0, 1, 1] * 3
    assert ids[2, :12].tolist() == [0, 1, 0, 1] * 3
    assert (ids[:, 12:] == torch.arange(3, 8)).all()  # next text at max(2, 1, 1) + 1 = 3 on all axes


def test_mrope_text_only_and_image():
    assert torch.equal(q.mrope_position_ids([("text", 6)]), torch.arange(6).expand(3, 6))
    ids = q.mrope_position_ids([("text", 2), ("image", (1, 4, 6)), ("text", 2)])
    assert ids[:, 2:8].tolist() == [[2] * 6, [2, 2, 2, 3, 3, 3], [2, 3, 4, 2, 3, 4]]
    assert ids[:, 8:].tolist() == [[5, 6]] * 3  # image spans widths 2..4: text resumes at 5


def test_qwen25_absolute_time():
    # Released Qwen2.5-VL: tokens_per_second = 2; second per temporal patch = 2 / sample fps.
    for fps, step in [(2.0, 2), (1.0, 4), (0.5, 8)]:
        ids = q.mrope_position_ids([("video", (4, 2, 2))], second_per_grid_ts=[2 / fps], tokens_per_second=2)
        assert ids[0].tolist() == [0, step, 2 * step, 3 * step]  # t id = 2 x seconds, whatever the frame rate
    # fractional intervals truncate: 2 * 0.8 = 1.6 per patch -> 0, 1, 3, 4
    ids = q.mrope_position_ids([("video", (4, 2, 2))], second_per_grid_ts=[0.8], tokens_per_second=2)
    assert ids[0].tolist() == [0, 1, 3, 4]
    # images stay at time id 0 + offset
    ids = q.mrope_position_ids([("text", 3), ("image", (1, 2, 2))], tokens_per_second=2)
    assert ids[0, 3].item() == 3


def random_layout(rng, max_blocks=3, agree=True, tokens_per_second=None):
    """Random text/vision layout (vision start/end markers included in the text) and its per-video seconds."""
    segments, seconds = [("text", int(rng.integers(0, 4)) + 1)], []
    for _ in range(int(rng.integers(1, max_blocks + 1))):
        kind = "video" if rng.random() < 0.6 else "image"
        while True:
            t = int(rng.integers(1, 7)) if kind == "video" else 1
            h, w = 2 * int(rng.integers(1, 6)), 2 * int(rng.integers(1, 6))
            s = float(rng.choice([2.0, 1.0, 0.5, 2 / 3, 2 / 1.5, 0.8])) if kind == "video" else None
            ok = q.transformers_agrees(t, h, w, second_per_grid=s, tokens_per_second=tokens_per_second
                                       if kind == "video" else None)
            if ok or not agree:
                break
        segments[-1] = ("text", segments[-1][1])  # the text before ends with <|vision_start|>
        segments += [(kind, (t, h, w)), ("text", int(rng.integers(2, 6)))]  # <|vision_end|>, text, <|vision_start|>
        if kind == "video":
            seconds.append(s)
    return segments, seconds


def layout_to_ids(segments, rng):
    """Token ids and mm_token_type_ids of a layout: text tokens random, the last of each text run a vision start."""
    ids, types = [], []
    for i, (kind, size) in enumerate(segments):
        if kind == "text":
            run = [int(v) for v in rng.integers(0, 50, size=size)]
            if i + 1 < len(segments):
                run[-1] = START
            if i > 0:
                run[0] = END
            ids += run
            types += [0] * size
        else:
            n = size[0] * size[1] * size[2] // 4
            ids += [IMAGE if kind == "image" else VIDEO] * n
            types += [1 if kind == "image" else 2] * n
    return ids, types


def batch(layouts, rng):
    """Left-padded batch: input_ids, mm_token_type_ids, attention_mask, image grids, video grids (batch order)."""
    rows = [layout_to_ids(seg, rng) for seg, _ in layouts]
    L = max(len(r[0]) for r in rows) + int(rng.integers(0, 3))
    ids = torch.zeros(len(rows), L, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for b, (i, t) in enumerate(rows):
        ids[b, L - len(i):], types[b, L - len(i):], mask[b, L - len(i):] = torch.tensor(i), torch.tensor(t), 1
    images = [s for seg, _ in layouts for k, s in seg if k == "image"]
    videos = [s for seg, _ in layouts for k, s in seg if k == "video"]
    grid = lambda g: torch.tensor(g, dtype=torch.long) if g else None  # noqa: E731
    return ids, types, mask, grid(images), grid(videos)


def _ours(ids, mask, images, videos, **kw):
    return q.rope_index(ids, images, videos, mask, image_token_id=IMAGE, video_token_id=VIDEO,
                        vision_start_token_id=START, **kw)


def test_rope_index_agrees_with_qwen2_vl_where_the_rules_agree(qwen2):
    rng = np.random.default_rng(3)
    for _ in range(150):
        layouts = [random_layout(rng) for _ in range(int(rng.integers(1, 4)))]
        ids, types, mask, images, videos = batch(layouts, rng)
        want, want_d = qwen2.get_rope_index(ids, types, image_grid_thw=images, video_grid_thw=videos,
                                            attention_mask=mask)
        got, got_d = _ours(ids, mask, images, videos)
        real = mask.bool()
        assert torch.equal(got[:, real], want[:, real]) and torch.equal(got_d, want_d.reshape(-1, 1))
        # and rope_index is mrope_position_ids on each sample's layout
        assert torch.equal(got[:, 0, real[0]], q.mrope_position_ids(layouts[0][0]))


def test_rope_index_transformers_rule_agrees_everywhere(qwen2):
    rng = np.random.default_rng(4)
    disagreements = 0
    for _ in range(150):
        layouts = [random_layout(rng, agree=False) for _ in range(int(rng.integers(1, 3)))]
        ids, types, mask, images, videos = batch(layouts, rng)
        want, want_d = qwen2.get_rope_index(ids, types, image_grid_thw=images, video_grid_thw=videos,
                                            attention_mask=mask)
        got, got_d = _ours(ids, mask, images, videos, rule="transformers")
        real = mask.bool()
        assert torch.equal(got[:, real], want[:, real]) and torch.equal(got_d, want_d.reshape(-1, 1))
        original, _ = _ours(ids, mask, images, videos)
        agrees = all(q.transformers_agrees(*s) for seg, _ in layouts for k, s in seg if k != "text")
        assert torch.equal(original[:, real], want[:, real]) == agrees  # transformers_agrees predicts it exactly
        disagreements += not agrees
    assert disagreements > 30


def test_rope_index_agrees_with_qwen2_5_vl_absolute_time(qwen25):
    rng = np.random.default_rng(5)
    for rule in ("original", "transformers"):
        for _ in range(100):
            layouts = [random_layout(rng, agree=rule == "original", tokens_per_second=2)
                       for _ in range(int(rng.integers(1, 3)))]
            ids, types, mask, images, videos = batch(layouts, rng)
            seconds = [s for _, sec in layouts for s in sec]
            spg = torch.tensor(seconds) if seconds else None
            want, want_d = qwen25.get_rope_index(ids, types, image_grid_thw=images, video_grid_thw=videos,
                                                 second_per_grid_ts=spg, attention_mask=mask)
            got, got_d = _ours(ids, mask, images, videos, second_per_grid_ts=spg, tokens_per_second=2, rule=rule)
            real = mask.bool()
            assert torch.equal(got[:, real], want[:, real]) and torch.equal(got_d, want_d.reshape(-1, 1))


def test_disagreement_with_transformers_5_23_grid_4x4x4(qwen2):
    # Two text tokens and <|vision_start|>, a 4x4x4 video (4 x 2 x 2 = 16 tokens), <|vision_end|> and 2 more.
    layout = [("text", 3), ("video", (4, 4, 4)), ("text", 3)]
    assert not q.transformers_agrees(4, 4, 4)
    ours = q.mrope_position_ids(layout)
    assert ours[0, 3:19].tolist() == [3] * 4 + [4] * 4 + [5] * 4 + [6] * 4  # time ids 3..6
    assert ours[:, 19:].tolist() == [[7, 8, 9]] * 3  # original rule: max id 6, + 1
    ids, types = layout_to_ids(layout, np.random.default_rng(0))
    want, _ = qwen2.get_rope_index(torch.tensor([ids]), torch.tensor([types]),
                                   video_grid_thw=torch.tensor([[4, 4, 4]]))
    assert want[:, 0, 19:].tolist() == [[5, 6, 7]] * 3  # 5.23: start 3 + max(h, w) / 2 = 5
    assert torch.equal(q.mrope_position_ids(layout, rule="transformers"), want[:, 0])
    # the text ids of transformers 5.23 overlap the video's time ids 5 and 6
    assert set(want[0, 0, 19:].tolist()) & set(want[0, 0, 3:19].tolist()) == {5, 6}


def test_rope_index_left_padding_and_deltas():
    layout = [("text", 3), ("image", (1, 4, 4)), ("text", 4)]
    ids, _ = layout_to_ids(layout, np.random.default_rng(1))
    pad = 5
    input_ids = torch.tensor([[0] * pad + ids, ids + [0] * pad])
    mask = torch.tensor([[0] * pad + [1] * len(ids), [1] * len(ids) + [0] * pad])
    grid = torch.tensor([[1, 4, 4], [1, 4, 4]])
    pos, deltas = _ours(input_ids, mask, grid, None)
    expected = q.mrope_position_ids(layout)
    assert torch.equal(pos[:, 0, pad:], expected) and torch.equal(pos[:, 1, :-pad], expected)
    assert (pos[:, 0, :pad] == 1).all() and (pos[:, 1, -pad:] == 1).all()
    # 11 tokens, largest id 8: decoding continues at cache position + (8 + 1 - 11)
    assert deltas.tolist() == [[int(expected.max()) + 1 - len(ids)]] * 2 == [[-2]] * 2


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="divisible"):
        q.mrope_position_ids([("video", (2, 3, 4))])
    with pytest.raises(ValueError, match="segments"):
        q.mrope_position_ids([("audio", 3)])
    with pytest.raises(ValueError, match="rule"):
        q.mrope_position_ids([("text", 3)], rule="v5")
    with pytest.raises(ValueError, match="more video blocks"):
        q.rope_index(torch.tensor([[START, VIDEO, END]]), image_token_id=IMAGE, video_token_id=VIDEO,
                     vision_start_token_id=START)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(q)
    assert result.attempted > 10 and result.failed == 0


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_rope_index_on_device(device):
    layout = [("text", 3), ("video", (2, 4, 6)), ("text", 4)]
    ids, _ = layout_to_ids(layout, np.random.default_rng(2))
    pos, deltas = _ours(torch.tensor([ids], device=device), None, None, torch.tensor([[2, 4, 6]], device=device))
    assert pos.device.type == device and deltas.device.type == device
    assert torch.equal(pos[:, 0].cpu(), q.mrope_position_ids(layout))
    assert q.mrope_position_ids(layout, device=device).device.type == device
