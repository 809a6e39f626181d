"""Unit 01 — ViViT's 3-D tubelet embedding.

- :class:`TubeletEmbed` — ``Conv3d`` over ``t x P x P`` blocks of a ``(B, T, C, H, W)`` video.
- :func:`central_frame_init`, :func:`average_frame_init` — the two ways of inflating a 2-D ViT kernel to 3-D.

Lecture: `lectures/01_vit_patching.ipynb` §4.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from videollm.validate import positive_int
from videollm.vit.shapes import check_divisible, check_ndim, pair


def _check_kernel2d(weight2d: Tensor, tubelet_size: int, where: str) -> int:
    check_ndim(weight2d, 4, "(D, C, ph, pw)", where)
    return positive_int(tubelet_size, "tubelet_size")


def central_frame_init(weight2d: Tensor, tubelet_size: int) -> Tensor:
    """Inflate a 2-D patch kernel to 3-D by putting it on the centre frame only (ViViT's
    ``central_frame_initializer``).

    Args:
        weight2d: ``(D, C, ph, pw)``.
        tubelet_size: ``t``.

    Returns:
        ``(D, C, t, ph, pw)``: zeros except ``[:, :, t // 2] = weight2d``. At initialisation the tubelet
        embedding of a clip therefore equals the 2-D embedding of frames ``t*k + t//2``.
    """
    t = _check_kernel2d(weight2d, tubelet_size, "central_frame_init")
    D, C, ph, pw = weight2d.shape
    out = weight2d.new_zeros(D, C, t, ph, pw)
    out[:, :, t // 2] = weight2d
    return out


def average_frame_init(weight2d: Tensor, tubelet_size: int) -> Tensor:
    """Inflate a 2-D patch kernel to 3-D by repeating it over time and dividing by ``t`` (I3D "filter
    inflation", ViViT's ``average_frame_initializer``).

    Args:
        weight2d: ``(D, C, ph, pw)``.
        tubelet_size: ``t``.

    Returns:
        ``(D, C, t, ph, pw)``; every time slice is ``weight2d / t``, so a clip of ``t`` identical frames embeds
        exactly like one frame, and in general the result is the 2-D embedding of the frames' average.
    """
    t = _check_kernel2d(weight2d, tubelet_size, "average_frame_init")
    return (weight2d / t).unsqueeze(2).repeat(1, 1, t, 1, 1)


_FRAME_INITS = {"central": central_frame_init, "average": average_frame_init}


class TubeletEmbed(nn.Module):
    """Video → space-time tokens with a ``Conv3d`` whose kernel and stride are ``(t, ph, pw)`` (ViViT's
    "tubelet embedding").

    Args:
        tubelet_size: ``t``, frames per tubelet.
        patch_size: ``p`` or ``(ph, pw)``.
        in_chans: ``C``.  embed_dim: ``D``.  bias: whether ``proj`` has a bias.
        device, dtype: for the parameters.

    Attributes:
        proj: ``nn.Conv3d(in_chans, embed_dim, kernel_size=(t, ph, pw), stride=(t, ph, pw), bias=bias)``.

    Shape:
        ``(B, T, C, H, W) -> (B, (T/t)*(H/ph)*(W/pw), D)``, tokens ordered time-major, then row-major in space.
        ``T``, ``H`` and ``W`` must be multiples of ``t``, ``ph`` and ``pw``.
    """

    def __init__(
        self,
        tubelet_size: int = 2,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.tubelet_size = positive_int(tubelet_size, "tubelet_size")
        self.patch_size = pair(patch_size, "patch_size")
        self.in_chans = positive_int(in_chans, "in_chans")
        self.embed_dim = positive_int(embed_dim, "embed_dim")
        kernel = (self.tubelet_size, *self.patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel, bias=bias,
                              device=device, dtype=dtype)

    def grid_size(self, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
        """Token grid ``(T/t, H/ph, W/pw)`` for a clip of that size (floor division)."""
        return num_frames // self.tubelet_size, height // self.patch_size[0], width // self.patch_size[1]

    def forward(self, video: Tensor) -> Tensor:
        """``(B, T, C, H, W) -> (B, N, D)``."""
        check_ndim(video, 5, "(B, T, C, H, W)", "TubeletEmbed")
        B, T, C, H, W = video.shape
        if C != self.in_chans:
            raise ValueError(
                f"TubeletEmbed: expected {self.in_chans} channels in dim 2 of (B, T, C, H, W), got shape "
                f"{tuple(video.shape)}; if your clip is (B, C, T, H, W), permute it with x.transpose(1, 2)"
            )
        t = self.tubelet_size
        if T % t:
            raise ValueError(
                f"TubeletEmbed: number of frames T={T} is not divisible by tubelet_size={t}; sample a multiple "
                f"of {t} frames (e.g. {max(t, T // t * t)} or {-(-T // t) * t}), or pad by repeating the last frame"
            )
        check_divisible(H, self.patch_size[0], "frame height", "TubeletEmbed", "")
        check_divisible(W, self.patch_size[1], "frame width", "TubeletEmbed", "")
        x = self.proj(video.transpose(1, 2))  # (B, C, T, H, W) -> (B, D, T/t, H/ph, W/pw)
        return x.flatten(2).transpose(1, 2)

    @classmethod
    def from_patch_embed(cls, patch_embed: nn.Module, tubelet_size: int = 2, init: str = "central") -> "TubeletEmbed":
        """Build a tubelet embedding from a 2-D patch embedding (ours or timm's: anything with a ``proj``
        ``Conv2d``), inflating its kernel with ``init`` ("central" or "average") and copying its bias.
        The new module lives on the same device and in the same dtype as ``patch_embed``.
        """
        if init not in _FRAME_INITS:
            raise ValueError(f"from_patch_embed: unknown init {init!r}; choose one of {tuple(_FRAME_INITS)}")
        proj = getattr(patch_embed, "proj", None)
        if not isinstance(proj, nn.Conv2d):
            raise ValueError("from_patch_embed: expected a module with a `proj` nn.Conv2d (e.g. PatchEmbed)")
        w = proj.weight
        D, C, ph, pw = w.shape
        out = cls(tubelet_size, (ph, pw), C, D, bias=proj.bias is not None, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            out.proj.weight.copy_(_FRAME_INITS[init](w.detach(), tubelet_size))
            if proj.bias is not None:
                out.proj.bias.copy_(proj.bias)
        return out

    def extra_repr(self) -> str:
        return f"tubelet_size={self.tubelet_size}, patch_size={self.patch_size}"
