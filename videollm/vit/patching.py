"""Unit 01 — how a Vision Transformer turns pixels into tokens, for images and for video.

Reference implementations used by lecture 01, lab 01 and their hidden tests:

- :func:`patchify` / :func:`unpatchify` — cut an image into non-overlapping patches and put it back.
- :func:`patch_embed_linear` — the patch embedding seen as one matrix multiply on patch vectors.
- :class:`PatchEmbed` — the same thing as a strided ``Conv2d``; state-dict compatible with
  ``timm.layers.PatchEmbed`` (keys ``proj.weight``, ``proj.bias``).
- :class:`TubeletEmbed`, :func:`central_frame_init`, :func:`average_frame_init` — ViViT's 3-D "tubelet"
  embedding and the two ways of inflating a 2-D ViT kernel to 3-D.
- :func:`resample_pos_embed` — resize learned absolute position embeddings to a new patch grid, exactly as
  ``timm.layers.resample_abs_pos_embed`` does.
- :func:`count_tokens`, :data:`TOKEN_SCHEMES` — how many visual tokens a clip costs under each scheme.
- :func:`qwen2_vl_patches` — the Qwen2-VL processor's flattening, with patches grouped into 2×2 merge blocks.

Conventions: images are ``(B, C, H, W)``; videos are ``(B, T, C, H, W)`` (frames before channels); token
sequences are ``(B, N, D)``. Patch grids are flattened row-major (row outer, column inner), and space-time
grids time-major (time, then row, then column). Nothing here loops over patches, frames or tokens in Python,
and everything runs on the device and in the dtype of its inputs.

Checked against timm 1.0.31 and transformers 5.23 (see ``tests/vit/test_patching.py``).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm.validate import positive_int

__all__ = [
    "TOKEN_SCHEMES",
    "PatchEmbed",
    "TubeletEmbed",
    "average_frame_init",
    "central_frame_init",
    "count_tokens",
    "patch_embed_linear",
    "patchify",
    "qwen2_vl_patches",
    "resample_pos_embed",
    "unpatchify",
]

#: Token-counting schemes understood by :func:`count_tokens`.
TOKEN_SCHEMES: tuple[str, ...] = ("per_frame", "tubelet", "qwen2_vl")


# --------------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------------
def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    """``16 -> (16, 16)``; ``(14, 16) -> (14, 16)``; anything else is a ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    elif isinstance(value, (tuple, list, torch.Size)) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise ValueError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
    for v in pair:
        positive_int(v, name)
    return int(pair[0]), int(pair[1])


def _check_ndim(x: Tensor, ndim: int, layout: str, where: str) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"{where}: expected a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.ndim != ndim:
        hint = ""
        if ndim == 4 and x.ndim == 3:
            hint = "; for a single image add a batch dimension with x.unsqueeze(0)"
        elif ndim == 5 and x.ndim == 4:
            hint = "; for a single clip add a batch dimension with x.unsqueeze(0)"
        raise ValueError(f"{where}: expected a {ndim}-D tensor {layout}, got shape {tuple(x.shape)}{hint}")


def _check_divisible(size: int, patch: int, what: str, where: str, fix: str) -> None:
    if size % patch:
        lower, upper = (size // patch) * patch, -(-size // patch) * patch
        near = f"{upper}" if lower == 0 else f"{lower} or {upper}"
        raise ValueError(
            f"{where}: {what} {size} is not divisible by the patch size {patch}; "
            f"resize, crop or pad it to a multiple of {patch} (e.g. {near}){fix}"
        )


_PAD_HINT = ", or use PatchEmbed(..., dynamic_img_pad=True) to zero-pad the right/bottom edges"


# --------------------------------------------------------------------------------------------------------------
# patchify / unpatchify / linear patch embedding
# --------------------------------------------------------------------------------------------------------------
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
    _check_ndim(images, 4, "(B, C, H, W)", "patchify")
    ph, pw = _pair(patch_size, "patch_size")
    B, C, H, W = images.shape
    _check_divisible(H, ph, "image height", "patchify", _PAD_HINT)
    _check_divisible(W, pw, "image width", "patchify", _PAD_HINT)
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
    _check_ndim(patches, 3, "(B, N, C*ph*pw)", "unpatchify")
    ph, pw = _pair(patch_size, "patch_size")
    gh, gw = _pair(grid_size, "grid_size")
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
    _check_ndim(weight, 4, "(D, C, ph, pw)", "patch_embed_linear (weight)")
    D, C, ph, pw = weight.shape
    _check_ndim(images, 4, "(B, C, H, W)", "patch_embed_linear")
    if images.shape[1] != C:
        raise ValueError(
            f"patch_embed_linear: images have {images.shape[1]} channels but weight expects {C} "
            f"(weight shape {tuple(weight.shape)})"
        )
    if bias is not None and tuple(bias.shape) != (D,):
        raise ValueError(f"patch_embed_linear: bias must have shape ({D},), got {tuple(bias.shape)}")
    patches = patchify(images, (ph, pw))  # (B, N, C*ph*pw)
    return F.linear(patches, weight.reshape(D, C * ph * pw), bias)


# --------------------------------------------------------------------------------------------------------------
# 2-D patch embedding (timm-compatible)
# --------------------------------------------------------------------------------------------------------------
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
        self.patch_size = _pair(patch_size, "patch_size")
        self.in_chans = positive_int(in_chans, "in_chans")
        self.embed_dim = positive_int(embed_dim, "embed_dim")
        self.dynamic_img_pad = bool(dynamic_img_pad)
        if img_size is None:
            self.img_size = self.grid_size = self.num_patches = None
        else:
            self.img_size = _pair(img_size, "img_size")
            self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
            self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(
            in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size, bias=bias,
            device=device, dtype=dtype,
        )

    def feat_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        """Token grid ``(gh, gw)`` this module produces for an input of size ``(H, W)``."""
        H, W = _pair(img_size, "img_size")
        ph, pw = self.patch_size
        if self.dynamic_img_pad:
            return -(-H // ph), -(-W // pw)
        return H // ph, W // pw

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, N, D)``."""
        _check_ndim(x, 4, "(B, C, H, W)", "PatchEmbed")
        B, C, H, W = x.shape
        if C != self.in_chans:
            raise ValueError(f"PatchEmbed: expected {self.in_chans} input channels, got {C} (shape {tuple(x.shape)})")
        ph, pw = self.patch_size
        if self.dynamic_img_pad:
            pad_h, pad_w = (-H) % ph, (-W) % pw
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h))  # zeros on the right and bottom, like timm
        else:
            _check_divisible(H, ph, "image height", "PatchEmbed", ", or construct with dynamic_img_pad=True")
            _check_divisible(W, pw, "image width", "PatchEmbed", ", or construct with dynamic_img_pad=True")
        x = self.proj(x)  # (B, D, gh, gw)
        return x.flatten(2).transpose(1, 2)  # (B, gh*gw, D), row-major

    def extra_repr(self) -> str:
        return f"img_size={self.img_size}, grid_size={self.grid_size}, dynamic_img_pad={self.dynamic_img_pad}"


# --------------------------------------------------------------------------------------------------------------
# 3-D tubelet embedding (ViViT)
# --------------------------------------------------------------------------------------------------------------
def _check_kernel2d(weight2d: Tensor, tubelet_size: int, where: str) -> int:
    _check_ndim(weight2d, 4, "(D, C, ph, pw)", where)
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
        self.patch_size = _pair(patch_size, "patch_size")
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
        _check_ndim(video, 5, "(B, T, C, H, W)", "TubeletEmbed")
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
        _check_divisible(H, self.patch_size[0], "frame height", "TubeletEmbed", "")
        _check_divisible(W, self.patch_size[1], "frame width", "TubeletEmbed", "")
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


# --------------------------------------------------------------------------------------------------------------
# position-embedding resampling (timm-exact)
# --------------------------------------------------------------------------------------------------------------
def resample_pos_embed(
    posemb: Tensor,
    new_size: tuple[int, int],
    old_size: tuple[int, int] | None = None,
    num_prefix_tokens: int = 1,
    interpolation: str = "bicubic",
    antialias: bool = True,
) -> Tensor:
    """Resize learned absolute position embeddings to a new patch grid, as ``timm.layers.resample_abs_pos_embed``
    (timm 1.0.31) does.

    The ``num_prefix_tokens`` leading tokens (class / register tokens) are kept as they are; the remaining
    ``old_h*old_w`` vectors are viewed as a ``(D, old_h, old_w)`` image, resized with ``F.interpolate`` in
    float32, and flattened back row-major. The result is cast back to ``posemb``'s dtype.

    Args:
        posemb: ``(1, P + old_h*old_w, D)``.
        new_size: ``(h, w)``.
        old_size: ``(old_h, old_w)``; ``None`` assumes a square old grid.
        num_prefix_tokens: ``P`` (1 for a class token, 0 for ``no_embed_class`` models, 1 + registers, ...).
        interpolation: ``F.interpolate`` mode ("bicubic", "bilinear", ...).
        antialias: passed to ``F.interpolate`` (only "bilinear"/"bicubic" support it).

    Returns:
        ``(1, P + h*w, D)``. Like timm, ``posemb`` itself is returned unchanged when the token count already
        matches and either ``old_size == new_size`` or (``old_size`` is ``None`` and ``new_size`` is square).
        A non-square ``new_size`` with ``old_size=None`` is always resampled, even at equal token count.
    """
    _check_ndim(posemb, 3, "(1, P + N, D)", "resample_pos_embed")
    if posemb.shape[0] != 1:
        raise ValueError(
            f"resample_pos_embed: expected a batch dimension of 1 (a parameter of shape (1, P+N, D)), got shape "
            f"{tuple(posemb.shape)}"
        )
    new_h, new_w = _pair(new_size, "new_size")
    if isinstance(num_prefix_tokens, bool) or not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
        raise ValueError(f"num_prefix_tokens must be a non-negative int, got {num_prefix_tokens!r}")
    num_pos = posemb.shape[1]
    num_grid = num_pos - num_prefix_tokens

    if num_pos == new_h * new_w + num_prefix_tokens:  # timm's early returns
        if old_size is not None and tuple(old_size) == (new_h, new_w):
            return posemb
        if old_size is None and new_h == new_w:
            return posemb

    if old_size is None:
        side = math.isqrt(max(num_grid, 0))
        if num_grid <= 0 or side * side != num_grid:
            raise ValueError(
                f"resample_pos_embed: {num_pos} tokens minus {num_prefix_tokens} prefix tokens = {num_grid} is not "
                f"a square grid; pass old_size=(old_h, old_w) (e.g. model.patch_embed.grid_size) or fix "
                f"num_prefix_tokens"
            )
        old_h = old_w = side
    else:
        old_h, old_w = _pair(old_size, "old_size")
        if old_h * old_w != num_grid:
            raise ValueError(
                f"resample_pos_embed: old_size={(old_h, old_w)} has {old_h * old_w} positions but posemb has "
                f"{num_pos} tokens - {num_prefix_tokens} prefix = {num_grid}; check old_size and num_prefix_tokens"
            )
    if antialias and interpolation not in ("bilinear", "bicubic"):
        raise ValueError(
            f"resample_pos_embed: antialias=True works only with 'bilinear' or 'bicubic', got "
            f"interpolation={interpolation!r}; pass antialias=False"
        )

    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    D = posemb.shape[-1]
    grid = grid.float().reshape(1, old_h, old_w, D).permute(0, 3, 1, 2)  # (1, D, old_h, old_w)
    grid = F.interpolate(grid, size=(new_h, new_w), mode=interpolation, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_h * new_w, D).to(posemb.dtype)
    if num_prefix_tokens:
        grid = torch.cat([prefix, grid], dim=1)
    return grid


# --------------------------------------------------------------------------------------------------------------
# token counting
# --------------------------------------------------------------------------------------------------------------
def count_tokens(
    num_frames: int,
    height: int,
    width: int,
    scheme: str,
    patch_size: int | None = None,
    tubelet_size: int = 2,
    merge_size: int = 2,
) -> int:
    """Number of visual tokens a clip of ``num_frames`` frames of ``height × width`` pixels costs.

    Schemes (see :data:`TOKEN_SCHEMES`):

    - ``"per_frame"``: a 2-D ViT on every frame, ``T * (H//p) * (W//p)``, ``p`` defaults to 16.
    - ``"tubelet"``: ViViT tubelets, ``(T//t) * (H//p) * (W//p)``, ``p`` defaults to 16, ``t = tubelet_size``.
      32 frames of 224×224 with 16×16×2 tubelets → 16·14·14 = 3136.
    - ``"qwen2_vl"``: Qwen2-VL. Frames are padded up to a multiple of ``tubelet_size`` (the
      ``temporal_patch_size``, 2) by repeating the last one, ``p`` defaults to 14, and ``H``, ``W`` must be
      multiples of ``p * merge_size`` (28). Tokens reaching the LLM after the 2×2 merger:
      ``ceil(T/t) * (H/p) * (W/p) / merge_size**2``. A 448×448 image → 256; 2 frames of 448×448 → 256.

    For "per_frame" and "tubelet" leftover pixels/frames are dropped (floor division, like a VALID
    convolution), matching timm and ViViT; pad first if you need them counted.

    Returns:
        ``int``.
    """
    T = positive_int(num_frames, "num_frames")
    H = positive_int(height, "height")
    W = positive_int(width, "width")
    t = positive_int(tubelet_size, "tubelet_size")
    if scheme not in TOKEN_SCHEMES:
        raise ValueError(f"count_tokens: unknown scheme {scheme!r}; choose one of {TOKEN_SCHEMES}")
    if scheme == "per_frame":
        p = positive_int(16 if patch_size is None else patch_size, "patch_size")
        return T * (H // p) * (W // p)
    if scheme == "tubelet":
        p = positive_int(16 if patch_size is None else patch_size, "patch_size")
        return (T // t) * (H // p) * (W // p)
    p = positive_int(14 if patch_size is None else patch_size, "patch_size")
    m = positive_int(merge_size, "merge_size")
    factor = p * m
    if H % factor or W % factor:
        raise ValueError(
            f"count_tokens('qwen2_vl'): height={H} and width={W} must both be multiples of "
            f"patch_size*merge_size = {factor}; resize the frames with Qwen's smart_resize first "
            f"(e.g. transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize(h, w, factor={factor}))"
        )
    grid_t = -(-T // t)
    return grid_t * (H // p) * (W // p) // (m * m)


# --------------------------------------------------------------------------------------------------------------
# Qwen2-VL processor flattening
# --------------------------------------------------------------------------------------------------------------
def qwen2_vl_patches(
    frames: Tensor,
    patch_size: int = 14,
    temporal_patch_size: int = 2,
    merge_size: int = 2,
) -> tuple[Tensor, Tensor]:
    """Flatten frames into Qwen2-VL's patch vectors, in the processor's merge-block order.

    Args:
        frames: ``(T, C, H, W)`` (an image is ``T = 1``), already resized so that ``H`` and ``W`` are multiples of
            ``patch_size * merge_size`` (and normalised, if you want the model's exact input).
        patch_size: ``p`` (14).  temporal_patch_size: ``tp`` (2).  merge_size: ``m`` (2).

    Returns:
        ``patches``: ``(N, C*tp*p*p)`` with ``N = gt*gh*gw``; each vector is flattened in ``(C, tp, p, p)`` order,
        the layout ``Conv3d(kernel=stride=(tp, p, p))`` expects. ``T`` is first padded to a multiple of ``tp`` by
        repeating the last frame. Patches are ordered time first, then by ``m×m`` merge block (row-major over
        blocks), then row-major inside a block — so every ``m*m`` consecutive patches form one merge block, as the
        ``PatchMerger`` requires.
        ``grid_thw``: ``(3,)`` int64 ``[gt, gh, gw]`` on ``frames``' device (``gh = H/p``, ``gw = W/p``).
    """
    _check_ndim(frames, 4, "(T, C, H, W)", "qwen2_vl_patches")
    p = positive_int(patch_size, "patch_size")
    tp = positive_int(temporal_patch_size, "temporal_patch_size")
    m = positive_int(merge_size, "merge_size")
    T, C, H, W = frames.shape
    if T == 0:
        raise ValueError("qwen2_vl_patches: got 0 frames; pass at least one frame (T, C, H, W)")
    factor = p * m
    if H % factor or W % factor:
        raise ValueError(
            f"qwen2_vl_patches: frame size {H}x{W} is not a multiple of patch_size*merge_size = {factor} in both "
            f"dimensions; resize with Qwen's smart_resize(h, w, factor={factor}) first"
        )
    pad = (-T) % tp
    if pad:
        frames = torch.cat([frames, frames[-1:].expand(pad, C, H, W)], dim=0)
    gt, gh, gw = (T + pad) // tp, H // p, W // p
    x = frames.reshape(gt, tp, C, gh // m, m, p, gw // m, m, p)
    # -> (gt, block_row, block_col, row_in_block, col_in_block, C, tp, p, p)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    patches = x.reshape(gt * gh * gw, C * tp * p * p)
    grid_thw = torch.tensor([gt, gh, gw], dtype=torch.long, device=frames.device)
    return patches, grid_thw
