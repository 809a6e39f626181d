"""Unit 01 — an image as a sequence of patch tokens.

- :func:`patchify` / :func:`unpatchify` — cut an image into non-overlapping patches and put it back.
- :func:`patch_embed_linear` — the patch embedding seen as one matrix multiply on patch vectors.
- :class:`PatchEmbed` — the same thing as a strided ``Conv2d``; state-dict compatible with
  ``timm.layers.PatchEmbed`` (keys ``proj.weight``, ``proj.bias``).

Images are ``(B, C, H, W)``, token sequences ``(B, N, D)``; patch grids are flattened row-major. Checked against
timm 1.0.31 (``tests/vit/test_vit.py``).

Lecture: `lectures/01_vit_patching.ipynb` §1–2.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from videollm.validate import positive_int
from videollm.vit.shapes import PAD_HINT, check_divisible, check_ndim, pair


def patchify(images: Tensor, patch_size: int | tuple[int, int]) -> Tensor:
    """Cut images into non-overlapping patches and flatten each patch into a vector.

    Args:
        images: ``(B, C, H, W)``, any dtype/device; ``H`` and ``W`` must be multiples of the patch size.
        patch_size: ``p`` or ``(ph, pw)``.

    Returns:
        ``(B, N, C*ph*pw)`` with ``N = (H/ph)*(W/pw)``. Patches are listed row-major over the grid (row outer,
        column inner — the order of timm's ``conv(x).flatten(2).transpose(1, 2)``), and each patch vector is
        flattened in ``(C, ph, pw)`` order, the order of ``conv.weight.reshape(D, -1)``. Hence
        ``patchify(x, p) @ conv.weight.reshape(D, -1).T + conv.bias`` equals a stride-``p`` ``Conv2d``.
    """
    check_ndim(images, 4, "(B, C, H, W)", "patchify")
    ph, pw = pair(patch_size, "patch_size")
    B, C, H, W = images.shape
    check_divisible(H, ph, "image height", "patchify", PAD_HINT)
    check_divisible(W, pw, "image width", "patchify", PAD_HINT)
    gh, gw = H // ph, W // pw
    x = images.reshape(B, C, gh, ph, gw, pw)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, ph, pw)
    return x.reshape(B, gh * gw, C * ph * pw)


def unpatchify(
    patches: Tensor,
    patch_size: int | tuple[int, int],
    grid_size: tuple[int, int],
    channels: int = 3,
) -> Tensor:
    """Exact inverse of :func:`patchify`.

    Args:
        patches: ``(B, N, C*ph*pw)`` with ``N = gh*gw``, in :func:`patchify`'s order.
        patch_size: ``p`` or ``(ph, pw)``.
        grid_size: ``(gh, gw)``, patches per column and per row.
        channels: ``C``.

    Returns:
        ``(B, C, gh*ph, gw*pw)``.
    """
    check_ndim(patches, 3, "(B, N, C*ph*pw)", "unpatchify")
    ph, pw = pair(patch_size, "patch_size")
    gh, gw = pair(grid_size, "grid_size")
    C = positive_int(channels, "channels")
    B, N, P = patches.shape
    if N != gh * gw:
        raise ValueError(
            f"unpatchify: got N={N} patches but grid_size={(gh, gw)} needs gh*gw={gh * gw}; "
            f"pass the grid the patches came from"
        )
    if P != C * ph * pw:
        raise ValueError(
            f"unpatchify: patch vectors have length {P} but channels*ph*pw = {C}*{ph}*{pw} = {C * ph * pw}; "
            f"check channels and patch_size"
        )
    x = patches.reshape(B, gh, gw, C, ph, pw)
    x = x.permute(0, 3, 1, 4, 2, 5)  # (B, C, gh, ph, gw, pw)
    return x.reshape(B, C, gh * ph, gw * pw)


def patch_embed_linear(images: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Patch embedding as a linear map: patchify, then multiply by the flattened conv kernel.

    Args:
        images: ``(B, C, H, W)``; ``H``, ``W`` multiples of ``ph``, ``pw``.
        weight: ``(D, C, ph, pw)`` — a ``Conv2d`` kernel (e.g. ``PatchEmbed.proj.weight``).
        bias: ``(D,)`` or ``None``.

    Returns:
        ``(B, N, D)``, equal (up to float rounding) to ``PatchEmbed`` with the same weights.
    """
    check_ndim(weight, 4, "(D, C, ph, pw)", "patch_embed_linear (weight)")
    D, C, ph, pw = weight.shape
    check_ndim(images, 4, "(B, C, H, W)", "patch_embed_linear")
    if images.shape[1] != C:
        raise ValueError(
            f"patch_embed_linear: images have {images.shape[1]} channels but weight expects {C} "
            f"(weight shape {tuple(weight.shape)})"
        )
    if bias is not None and tuple(bias.shape) != (D,):
        raise ValueError(f"patch_embed_linear: bias must have shape ({D},), got {tuple(bias.shape)}")
    patches = patchify(images, (ph, pw))  # (B, N, C*ph*pw)
    return F.linear(patches, weight.reshape(D, C * ph * pw), bias)


class PatchEmbed(nn.Module):
    """Image → patch tokens with a ``Conv2d(kernel=stride=patch_size)``; matches ``timm.layers.PatchEmbed``
    built with ``strict_img_size=False`` (any image size that is a multiple of the patch size is accepted).

    Args:
        img_size: nominal input size ``s`` or ``(H, W)``; sets ``grid_size`` and ``num_patches`` (``None``: unset).
        patch_size: ``p`` or ``(ph, pw)``.
        in_chans: ``C``.
        embed_dim: ``D``.
        bias: whether ``proj`` has a bias.
        dynamic_img_pad: zero-pad the right/bottom edges up to a multiple of the patch size instead of raising.
        device, dtype: for the parameters.

    Attributes:
        proj: ``nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size, bias=bias)``.
        patch_size: ``(ph, pw)``; img_size: ``(H, W)``; grid_size: ``(H//ph, W//pw)``; num_patches: ``gh*gw``.

    Shape:
        ``(B, C, H, W) -> (B, N, D)`` with ``N = ceil(H/ph)*ceil(W/pw)`` (floor division is exact unless
        ``dynamic_img_pad``), tokens in row-major grid order.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] | None = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        bias: bool = True,
        dynamic_img_pad: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.patch_size = pair(patch_size, "patch_size")
        self.in_chans = positive_int(in_chans, "in_chans")
        self.embed_dim = positive_int(embed_dim, "embed_dim")
        self.dynamic_img_pad = bool(dynamic_img_pad)
        if img_size is None:
            self.img_size = self.grid_size = self.num_patches = None
        else:
            self.img_size = pair(img_size, "img_size")
            self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
            self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(
            in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size, bias=bias,
            device=device, dtype=dtype,
        )

    def feat_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        """Token grid ``(gh, gw)`` this module produces for an input of size ``(H, W)``."""
        H, W = pair(img_size, "img_size")
        ph, pw = self.patch_size
        if self.dynamic_img_pad:
            return -(-H // ph), -(-W // pw)
        return H // ph, W // pw

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, N, D)``."""
        check_ndim(x, 4, "(B, C, H, W)", "PatchEmbed")
        B, C, H, W = x.shape
        if C != self.in_chans:
            raise ValueError(f"PatchEmbed: expected {self.in_chans} input channels, got {C} (shape {tuple(x.shape)})")
        ph, pw = self.patch_size
        if self.dynamic_img_pad:
            pad_h, pad_w = (-H) % ph, (-W) % pw
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h))  # zeros on the right and bottom, like timm
        else:
            check_divisible(H, ph, "image height", "PatchEmbed", ", or construct with dynamic_img_pad=True")
            check_divisible(W, pw, "image width", "PatchEmbed", ", or construct with dynamic_img_pad=True")
        x = self.proj(x)  # (B, D, gh, gw)
        return x.flatten(2).transpose(1, 2)  # (B, gh*gw, D), row-major

    def extra_repr(self) -> str:
        return f"img_size={self.img_size}, grid_size={self.grid_size}, dynamic_img_pad={self.dynamic_img_pad}"
