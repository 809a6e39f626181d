"""The causal 3D convolution against magvit2-pytorch's, its causality, the first frame alone, and the latent-frame
arithmetic."""

import pytest
import torch
import torch.nn as nn

from videollm.videopoet.causal import CausalConv3d, latent_frames


@pytest.mark.parametrize("kernel, stride, dilation, pad_mode", [
    (3, 1, 1, "constant"), ((3, 5, 1), 1, 1, "constant"), ((4, 3, 3), 1, 2, "constant"), ((3, 3, 3), 2, 1, "constant"),
    ((3, 3, 3), 1, 1, "replicate"), ((1, 3, 3), 1, 1, "constant")])
def test_matches_magvit2_pytorch(kernel, stride, dilation, pad_mode):
    from magvit2_pytorch.magvit2_pytorch import CausalConv3d as Upstream

    theirs = Upstream(3, 5, kernel, pad_mode=pad_mode, stride=stride, dilation=dilation)
    ours = CausalConv3d(3, 5, kernel, stride=stride, dilation=dilation, pad_mode=pad_mode)
    ours.load_state_dict(theirs.state_dict())           # the same names: conv.weight, conv.bias
    for frames in (1, 2, 9) if stride == 1 else (2, 9):     # a strided kernel of 3 needs 2 frames to read
        video = torch.randn(2, 3, frames, 6, 7, generator=torch.Generator().manual_seed(frames))
        torch.testing.assert_close(ours(video), theirs(video), rtol=1e-5, atol=1e-6)


def test_no_frame_reads_the_future_and_the_first_frame_is_an_image():
    torch.manual_seed(0)
    stack = nn.Sequential(CausalConv3d(3, 8, 3), nn.SiLU(), CausalConv3d(8, 8, 3, dilation=2), nn.SiLU(),
                          CausalConv3d(8, 4, (3, 1, 1)))
    video = torch.randn(1, 3, 9, 8, 8)
    changed = video.clone()
    changed[:, :, 5:] = torch.randn(1, 3, 4, 8, 8)      # rewrite the future from frame 5 on
    out, out_changed = stack(video), stack(changed)
    assert out.shape == (1, 4, 9, 8, 8)
    torch.testing.assert_close(out[:, :, :5], out_changed[:, :, :5], rtol=0, atol=0)
    assert not torch.allclose(out[:, :, 5:], out_changed[:, :, 5:])
    torch.testing.assert_close(stack(video[:, :, :1]), out[:, :, :1], rtol=1e-6, atol=1e-6)  # a picture alone
    symmetric = nn.Conv3d(3, 4, 3, padding=1)            # what the causal padding avoids: frame 4 reads frame 5
    assert not torch.allclose(symmetric(video)[:, :, 4], symmetric(changed)[:, :, 4])


def test_latent_frames_is_one_plus_one_per_factor():
    assert [latent_frames(t) for t in (1, 5, 9, 17, 41)] == [1, 2, 3, 5, 11]
    assert latent_frames(17, factor=2) == 9 and latent_frames(17, factor=1) == 17
    with pytest.raises(ValueError, match=r"1 \+ 4k frames .* got 16: drop 3 or pad to 17"):
        latent_frames(16)
    for bad in (0, -3, 2.0):
        with pytest.raises(ValueError, match="positive integers"):
            latent_frames(bad)


def test_bad_shapes_and_kernels_are_refused():
    with pytest.raises(ValueError, match="must be odd"):
        CausalConv3d(3, 4, (3, 2, 3))
    with pytest.raises(ValueError, match="kernel_size"):
        CausalConv3d(3, 4, (3, 3))
    with pytest.raises(ValueError, match="never reads"):
        CausalConv3d(3, 4, (1, 3, 3), stride=3)
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        CausalConv3d(3, 4)(torch.zeros(3, 5, 8, 8))
    strided = CausalConv3d(3, 4, 3, stride=2)
    assert [strided(torch.zeros(1, 3, t, 4, 4)).shape[2] for t in (2, 9, 17)] == [1, 4, 8], "T // stride frames"
    with pytest.raises(ValueError, match="at least that many frames"):
        strided(torch.zeros(1, 3, 1, 4, 4))
