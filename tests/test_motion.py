"""Tests for videollm.motion: block matching against a naive search, on known shifts and on the event world."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videollm import motion, world

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
