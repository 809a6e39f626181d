"""Tests for videollm.motion.estimate: block matching against a naive search, on known shifts and on the event world."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videollm.motion import estimate as motion
from videollm.world import scenes as world

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def naive_block_matching(prev, curr, block, search):
    """The textbook triple loop: for every block, every displacement, sum of absolute differences."""
    H, W = curr.shape[:2]
    out = np.zeros((H // block, W // block, 2), dtype=np.float32)
    for by in range(H // block):
        for bx in range(W // block):
            y0, x0 = by * block, bx * block
            target = curr[y0:y0 + block, x0:x0 + block].astype(np.int64)
            best = None
            for dy in range(-search, search + 1):
                for dx in range(-search, search + 1):
                    py, px = y0 - dy, x0 - dx
                    if py < 0 or px < 0 or py + block > H or px + block > W:
                        continue
                    cost = np.abs(target - prev[py:py + block, px:px + block]).sum()
                    key = (cost, abs(dx) + abs(dy))
                    if best is None or key < best[0]:
                        best = (key, (dx, dy))
            out[by, bx] = best[1]
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_equal_to_a_naive_search_on_random_frames(device):
    rng = np.random.default_rng(0)
    for block, search in ((4, 2), (8, 3)):
        frames = rng.integers(0, 4, size=(3, 16, 24, 3)).astype(np.uint8)  # few values: many ties
        got = motion.block_matching(frames, block, search, device=device).cpu().numpy()
        for t in (1, 2):
            want = naive_block_matching(frames[t - 1], frames[t], block, search)
            # Equal cost, equal magnitude: either vector is a right answer; compare costs where vectors differ.
            assert np.array_equal(got[t - 1], want) or _same_costs(frames[t - 1], frames[t], got[t - 1], want, block)


def _same_costs(prev, curr, a, b, block):
    for by, bx in zip(*np.nonzero((a != b).any(-1))):
        costs = []
        for m in (a[by, bx], b[by, bx]):
            y0, x0 = by * block, bx * block
            py, px = y0 - int(m[1]), x0 - int(m[0])
            costs.append((np.abs(curr[y0:y0 + block, x0:x0 + block].astype(int) - prev[py:py + block, px:px + block]).sum(),
                          abs(m).sum()))
        if costs[0] != costs[1]:
            return False
    return True


def test_a_shifted_texture_is_recovered_exactly():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(80, 112), dtype=np.uint8)
    frames = np.stack([image[8:72, 8:104], image[5:69, 11:107]])  # content moves by dx=-3, dy=+3
    field = motion.block_matching(frames, 16, 4)
    assert field.shape == (1, 4, 6, 2)
    # Blocks whose source lies inside the previous frame (not the top row, not the right column) find it exactly.
    assert torch.all(field[0, 1:, :5] == torch.tensor([-3.0, 3.0]))


def test_a_flat_frame_has_zero_motion():
    frames = np.full((2, 32, 32), 7, dtype=np.uint8)
    assert torch.count_nonzero(motion.block_matching(frames, 16, 8)) == 0


def test_world_motion_is_found_where_objects_move():
    b = world.SceneBuilder(6, 4.0, 64, 96, "photo:coffee", np.random.default_rng(0))
    b.add_object("square", "red", 24, (40, 30), (3, -2), texture="checks")
    scene = b.build()
    out = world.render(scene)
    field = motion.block_matching(out.frames, 16, 6)
    truth = motion.block_ground_truth(out.motion[1:], 16)
    assert truth.shape == field.shape
    assert motion.endpoint_error(field, truth) < 0.5, "a textured background and a textured object: nearly exact"


def test_block_ground_truth_and_endpoint_error():
    m = np.zeros((1, 4, 4, 2), dtype=np.float32)
    m[0, :2, :2] = [1, 2]
    m[0, 2:, 2:] = np.nan
    gt = motion.block_ground_truth(m, 2)
    assert gt.shape == (1, 2, 2, 2) and gt[0, 0, 0].tolist() == [1, 2] and torch.isnan(gt[0, 1, 1]).all()
    pred = torch.zeros(1, 2, 2, 2)
    assert motion.endpoint_error(pred, gt) == pytest.approx(np.sqrt(5) / 3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="multiple of the block size"):
        motion.block_matching(np.zeros((2, 20, 32)), 16)
    with pytest.raises(ValueError, match="at least 2 frames"):
        motion.block_matching(np.zeros((1, 32, 32)), 16)
    with pytest.raises(ValueError, match="same shape"):
        motion.endpoint_error(torch.zeros(2, 2), torch.zeros(3, 2))


def test_codec_vectors_inside_a_moving_square_are_its_true_motion(tmp_path):
    from videollm import io

    b = world.SceneBuilder(12, 4.0, 96, 128, "photo:coffee", np.random.default_rng(0))
    k = b.add_object("square", "red", 48, (50, 48), (2, 1), texture="checks")
    out = world.render(b.build())
    path = io.write_video(tmp_path / "square.mp4", out.frames, 4.0, codec="mpeg4")
    field, key = motion.codec_motion_field(path)
    assert field.shape == (12, 6, 8, 2) and key[0] and not key[1:].any(), "one keyframe, then P-frames"
    assert np.isnan(field[0]).all(), "an I-frame has no vectors"
    truth = motion.block_ground_truth(out.motion, 16).numpy()
    blocks = out.segmentation.reshape(12, 6, 16, 8, 16).transpose(0, 1, 3, 2, 4).reshape(12, 6, 8, 256)
    inside = (blocks == k).all(-1) & ~key[:, None, None]
    background = (blocks == -1).all(-1) & ~key[:, None, None]
    assert inside.sum() > 30 and np.array_equal(field[inside], truth[inside]), "sign and placement of the vectors"
    assert (field[background] == 0).all(-1).mean() > 0.95
    zero_filled, _ = motion.codec_motion_field(path, fill=0.0)
    assert not np.isnan(zero_filled).any()


# -- Video-LaVIT's conversion of codec vectors (videollm.motion.lavit) -------------------------------------------

from videollm.motion import lavit as lm  # noqa: E402


def test_vector_records_have_pyavs_layout(tmp_path):
    from videollm import io

    b = world.SceneBuilder(3, 4.0, 32, 48, "photo:coffee", np.random.default_rng(0))
    b.add_object("square", "red", 16, (20, 16), (2, 0), texture="checks")
    path = io.write_video(tmp_path / "tiny.mp4", world.render(b.build()).frames, 4.0, codec="mpeg4")
    vectors, key, size = lm.read_motion_vectors(path)
    assert size == (32, 48) and key.tolist() == [True, False, False] and len(vectors[0]) == 0
    assert vectors[1].dtype == lm.MOTION_VECTOR_DTYPE, "make_vectors must build what PyAV exports"
    rebuilt = lm.make_vectors(vectors[1]["dst_x"], vectors[1]["dst_y"],
                              vectors[1]["dst_x"] - vectors[1]["src_x"], vectors[1]["dst_y"] - vectors[1]["src_y"],
                              motion_scale=vectors[1]["motion_scale"], size=vectors[1]["w"])
    whole = vectors[1]["motion_x"] % vectors[1]["motion_scale"] == 0  # src is rounded for sub-pixel vectors
    assert np.array_equal(rebuilt[whole]["motion_x"], vectors[1][whole]["motion_x"])


def test_sign_follows_the_reference_direction():
    # The block centred at (24, 8) came from (21, 10) in the previous frame: it moved by (+3, -2).
    past = np.zeros(1, lm.MOTION_VECTOR_DTYPE)
    past[["source", "dst_x", "dst_y", "src_x", "src_y", "motion_scale"]] = (-1, 24, 8, 21, 10, 1)
    past["motion_x"], past["motion_y"] = 21 - 24, 10 - 8  # FFmpeg: (src - dst) * scale
    field = lm.vectors_to_field([past], 16, 32)
    assert field.shape == (1, 1, 2, 2) and field[0, 0, 1].tolist() == [3.0, -2.0] and field[0, 0, 0].tolist() == [0, 0]
    # The same motion predicted from a future frame: the block will be at src = dst + (3, -2).
    future = lm.make_vectors(24, 8, 3, -2, source=1)
    assert future["src_x"][0] == 27 and future["motion_x"][0] == 3
    assert torch.equal(lm.vectors_to_field([future], 16, 32), field)


def test_motion_scale_divides_the_vector():
    fields = [lm.vectors_to_field([lm.make_vectors(8, 8, 1.25, -0.5, motion_scale=4)], 16, 16)]
    fields.append(lm.vectors_to_field([lm.make_vectors(8, 8, 1.5, -0.5, motion_scale=2)], 16, 16))
    assert fields[0][0, 0, 0].tolist() == [1.25, -0.5] and fields[1][0, 0, 0].tolist() == [1.5, -0.5]
    with pytest.raises(ValueError, match="multiples of 1 / motion_scale"):
        lm.make_vectors(8, 8, 1.25, 0, motion_scale=2)


def test_placement_by_the_clipped_block_centre():
    # 40x50 frame: a 3 x 4 grid whose last row and column are partial; centres past the border are clipped in.
    v = lm.make_vectors([40, 5, 57, 60, -3], [20, 5, 45, 3, 30], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0])
    field = lm.vectors_to_field([v], 40, 50, fill=float("nan"))
    assert field.shape == (1, 3, 4, 2)
    want = {(1, 2): 1, (0, 0): 2, (2, 3): 3, (0, 3): 4, (1, 0): 5}
    for (r, c), dx in want.items():
        assert field[0, r, c, 0] == dx, (r, c)
    assert torch.isnan(field[0, :, :, 0]).sum() == 12 - len(want), "every other cell has no vector"


def test_pooling_the_four_sub_blocks_of_a_macroblock():
    # MPEG-4's four-vector mode: four 8x8 sub-blocks (centres 4 and 12) inside macroblock (0, 0).
    v = lm.make_vectors([4, 12, 4, 12], [4, 4, 12, 12], [1, -2, 3, 0], [-1, -4, 2, 0], size=8)
    maxed = lm.vectors_to_field([v], 16, 16)
    meaned = lm.vectors_to_field([v], 16, 16, reduce="mean")
    assert maxed[0, 0, 0].tolist() == [3, 2], "Video-LaVIT's max pool takes each component's maximum"
    assert meaned[0, 0, 0].tolist() == [0.5, -0.75]


def test_cells_and_frames_without_vectors():
    v = lm.make_vectors(8, 8, 2, 1)
    w = lm.make_vectors(8, 8, 4, -3)
    empty = np.zeros(0, lm.MOTION_VECTOR_DTYPE)
    # I P I P: frame 2 is a keyframe between two P-frames -> their mean; frame 0 has only one neighbour.
    field = lm.vectors_to_field([empty, v, None, w], 16, 32)
    assert field[0].abs().sum() == 0 and field[2, 0, 0].tolist() == [3.0, -1.0] and field[:, 0, 1].abs().sum() == 0
    assert field[1, 0, 0].tolist() == [2, 1] and field[3, 0, 0].tolist() == [4, -3]
    assert lm.vectors_to_field([empty, v, None, w], 16, 32, fill_keyframes=False)[2].abs().sum() == 0
    # Two keyframes in a row: neither has two P-frame neighbours.
    assert lm.vectors_to_field([v, None, None, w], 16, 16)[1:3].abs().sum() == 0
    assert torch.isnan(lm.vectors_to_field([None, None], 16, 16, fill=float("nan"))).all()


def test_lavit_motion_input():
    field = torch.zeros(24, 8, 10, 2)
    field[..., 0], field[..., 1] = 1.6, -3.2  # pixels, for a 128 x 160 clip
    x = lm.lavit_motion_input(field, 128, 160)
    assert x.shape == (2, 24, 20, 36)
    # dx / W / (std / 10): a uniform field stays uniform under bicubic resizing.
    assert torch.allclose(x[0], torch.full((24, 20, 36), 1.6 / 160 / (lm.LAVIT_STD[0] / 10)))
    assert torch.allclose(x[1], torch.full((24, 20, 36), -3.2 / 128 / (lm.LAVIT_STD[1] / 10)))
    with pytest.raises(ValueError, match="NaN"):
        lm.lavit_motion_input(torch.full((2, 8, 10, 2), float("nan")), 128, 160)


def test_conversion_errors():
    with pytest.raises(ValueError, match="reduce"):
        lm.vectors_to_field([lm.make_vectors(8, 8, 1, 1)], 16, 16, reduce="median")
    with pytest.raises(ValueError, match="missing"):
        lm.vectors_to_field([np.zeros(2, dtype=[("dst_x", int), ("dst_y", int)])], 16, 16)
    with pytest.raises(ValueError, match="no frames"):
        lm.vectors_to_field([], 16, 16)
    with pytest.raises(FileNotFoundError):
        lm.read_motion_vectors("no_such_clip.mp4")


def test_codec_vectors_and_block_matching_agree_with_ground_truth_on_the_mpeg4_clip():
    """Blocks whose pixels mostly share one true motion are found exactly by both; on moving blocks (small solid
    shapes: the aperture problem) both beat "no motion" by a margin."""
    from videollm.world import data
    from videollm import io

    gt = data.ground_truth("motion_mpeg4")
    frames, _ = io.load_video(data.clip_path("motion_mpeg4"))
    T = 12  # one GOP: keyframe 0, P-frames 1..11
    vectors, key, (H, W) = lm.read_motion_vectors(gt["video"])
    assert key[0] and not key[1:T].any()
    codec = lm.vectors_to_field(vectors[:T], H, W, fill=float("nan"), fill_keyframes=False)[1:]
    matched = motion.block_matching(frames[:T], 16, 4)
    truth = motion.block_ground_truth(gt["motion"][1:T], 16)
    pixels = torch.as_tensor(gt["motion"][1:T]).reshape(T - 1, H // 16, 16, W // 16, 16, 2).movedim(2, 3)
    share = (pixels.reshape(T - 1, H // 16, W // 16, 256, 2) == truth[..., None, :]).all(-1).float().mean(-1)
    clear = share >= 0.75
    assert clear.sum() > 600
    exact_codec, exact_bm = (codec == truth).all(-1), (matched == truth).all(-1)
    assert exact_codec[clear].float().mean() > 0.95 and exact_bm[clear].float().mean() > 0.95
    both = exact_codec & exact_bm
    assert torch.equal(codec[both], matched[both]), "the same sign convention end to end"
    moving = (truth.norm(dim=-1) > 0) & ~torch.isnan(codec).any(-1)
    assert moving.sum() > 20
    still = (truth[moving]).norm(dim=-1).mean()
    for estimate in (codec, matched):
        assert (estimate[moving] - truth[moving]).norm(dim=-1).mean() < 0.9 * still


def test_evaluate_clip_and_its_command(capsys):
    r = motion.evaluate_clip("motion_mpeg4", num_frames=5)
    assert set(r["epe"]) == {"block matching", "codec vectors", "no motion"} and 300 < r["blocks"] <= 4 * 80
    assert r["moving"] > 0 and r["epe_moving"]["block matching"] < r["epe_moving"]["no motion"]
    assert r["seconds"]["codec vectors"] < r["seconds"]["block matching"]
    assert motion.main(["evaluate", "motion_mpeg4", "--frames", "3"]) == 0
    assert "codec vectors" in capsys.readouterr().out
