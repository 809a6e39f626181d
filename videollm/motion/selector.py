"""Unit 04 — the keyframe side of Video-LaVIT: LaVIT's dynamic visual tokenizer (token selector and token merger).

Video-LaVIT gives its keyframe to the image tokenizer of LaVIT (Jin et al., ICLR 2024, arXiv 2309.04669; code
``jy0205/LaVIT``, ``LaVIT/models/modeling_visual_tokenzier.py``). That tokenizer does not keep all ``N`` patch
features of its frozen ViT (EVA-CLIP ViT-g/14 at 224x224: ``N = 256`` of width 1408). It keeps a number that
depends on the image:

1. **selector** (upstream ``TokenPredictor``). An MLP turns every patch feature into two log-probabilities
   ``pi`` of shape ``(B, N, 2)``. Column :data:`KEEP` (0) means "keep", because upstream takes
   ``F.gumbel_softmax(pi, hard=True)[:, :, 0]`` as its keep decision. Half of the MLP's hidden channels are
   replaced by their mean over the image, so each decision also sees the whole image.
2. **mask**. In training the mask is a hard Gumbel-softmax sample ``M`` in ``{0, 1}`` of shape ``(B, N)``.
   Its forward value is exactly 0 or 1, and its gradient is that of the soft sample (straight-through). At eval
   this module keeps a patch when its keep probability is at least ``threshold`` (0.5: the argmax). That rule is
   deterministic. Upstream's released inference code samples with Gumbel noise there too, so the same image can
   get a different number of tokens on each call. We follow the deterministic rule.
3. **merger** (upstream ``TokenMerger``, 12 blocks). The kept tokens are the queries. Each block has
   causal self-attention among the kept tokens (raster order), then cross-attention from the kept tokens to the
   layer-normalised ViT features of the *dropped* patches (upstream masks the kept patches' keys), then an MLP.
   The dropped patches' content is folded into the tokens that stay. The mask enters the attention as a
   multiplicative weight on ``exp(score)``, as upstream does, so gradients reach the selector through it.

Upstream runs the merger on all ``N`` positions and throws the dropped ones away afterwards (``masked_select``).
This module gathers the kept tokens first and returns them padded, as ``(B, K_max, D)`` with a key-padding mask
(True = padding). The kept outputs are the same, because the rows of dropped queries never feed a kept row: their
keys are masked in self-attention, and cross-attention reads the frozen features, not the updated rows. One edge
case differs. Upstream's softmax adds ``eps / N`` to every weight, so a query with no allowed key (nothing dropped)
gets a uniform average over all patches. Here it gets zero, so with every patch kept the cross-attention adds
nothing.

What LaVIT does next: for generation the kept tokens go through ``Linear(1408, 1408) -> Tanh -> Linear(1408, 32)``,
are l2-normalised and quantised against a codebook of 16384 x 32 (nearest code by squared L2), with ids offset by
32002 in the LLM's vocabulary. For understanding they go continuous through ``Linear(1408, 4096)`` into LLaMA.

Lecture: `lectures/04_lavit_motion.ipynb` §6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm.validate import positive_int

#: Column of ``pi`` that means "keep this patch" (upstream: ``gumbel_softmax(pi, hard=True)[:, :, 0]``); 1 is "drop".
KEEP, DROP = 0, 1


def _check_features(x: Tensor, dim: int, where: str) -> None:
    if not isinstance(x, Tensor) or x.ndim != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{where}: patch features must be a (B, N, D) tensor; got {shape}. "
                         "Add a batch axis with x[None] for one image.")
    if x.shape[-1] != dim:
        raise ValueError(f"{where}: expects features of width D = {dim} (the dim it was built with); "
                         f"got D = {x.shape[-1]}")
    if x.shape[1] == 0:
        raise ValueError(f"{where}: an image needs at least one patch; got N = 0")


def _check_mask(mask: Tensor, x: Tensor, where: str) -> None:
    if not isinstance(mask, Tensor) or tuple(mask.shape) != tuple(x.shape[:2]):
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"{where}: mask must be (B, N) = {tuple(x.shape[:2])}, one decision per patch; got {shape}")
    if not ((mask == 0) | (mask == 1)).all():
        raise ValueError(f"{where}: mask must hold only 0 and 1 (a hard mask, TokenSelector(..., hard=True)); "
                         f"got values in [{float(mask.min()):.3g}, {float(mask.max()):.3g}]")


def kept_counts(mask: Tensor) -> list[int]:
    """The number of kept patches per image, ``K_b = sum_i M[b, i]``, as Python ints. ``mask``: ``(B, N)`` of 0/1."""
    if not isinstance(mask, Tensor) or mask.ndim != 2:
        raise ValueError(f"kept_counts: mask must be a (B, N) tensor; got {getattr(mask, 'shape', type(mask))}")
    return [int(k) for k in (mask > 0.5).sum(dim=1).tolist()]


def kept_positions(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Where the kept patches are, image by image, padded to the longest list.

    Args:
        mask: ``(B, N)`` of 0/1 (any dtype, any device).

    Returns:
        ``positions (B, K_max)`` int64, the patch indices of the kept patches in raster order (padding rows hold
        the index of some dropped patch; ignore them), and ``padding (B, K_max)`` bool, True where an image has
        fewer than ``K_max`` kept patches. ``K_max = max_b K_b`` (0 when nothing is kept anywhere).
    """
    if not isinstance(mask, Tensor) or mask.ndim != 2:
        raise ValueError(f"kept_positions: mask must be a (B, N) tensor; got {getattr(mask, 'shape', type(mask))}")
    keep = mask > 0.5
    counts = keep.sum(dim=1)
    k_max = int(counts.max()) if mask.numel() else 0
    # A stable sort of "dropped?" (0 for kept) puts the kept patches first, in their original (raster) order.
    positions = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :k_max]
    padding = torch.arange(k_max, device=mask.device)[None, :] >= counts[:, None]
    return positions, padding


def split_tokens(tokens: Tensor, padding: Tensor) -> list[Tensor]:
    """Unpad ``(B, K_max, D)`` tokens into LaVIT's per-image list ``[(K_b, D), ...]`` (upstream ``torch.split``)."""
    if tokens.ndim != 3 or tuple(padding.shape) != tuple(tokens.shape[:2]):
        raise ValueError(f"split_tokens: tokens (B, K_max, D) and padding (B, K_max) must match; got "
                         f"{tuple(tokens.shape)} and {tuple(padding.shape)}")
    counts = (~padding).sum(dim=1).tolist()
    return list(torch.split(tokens[~padding], counts))


class TokenSelector(nn.Module):
    """Keep/drop decisions for the patches of an image: ``(B, N, D)`` features -> ``(B, N)`` mask.

    ``LayerNorm -> Linear(D, H) -> GELU`` (``normalize_input=False`` skips the LayerNorm). The second half of the
    ``H`` channels is averaged over the ``N`` patches (image context), and the first half stays per patch. Then
    ``Linear(H, H/2) -> GELU -> Linear(H/2, 2) -> LogSoftmax`` gives ``pi``. This is upstream's ``TokenPredictor``
    with one hidden layer fewer.
    """

    def __init__(self, dim: int, hidden: int | None = None, normalize_input: bool = True, device=None):
        super().__init__()
        self.dim = positive_int(dim, "dim", "the width D of the patch features")
        hidden = positive_int(hidden or dim, "hidden", "width of the selector's MLP")
        if hidden % 2:
            raise ValueError(f"hidden must be even (half local, half image-mean channels); got {hidden}")
        # Upstream layer-normalises its ViT features. Raw pixel patches should not be normalised: LayerNorm over the
        # values of one flat-coloured patch maps every colour to the same vector.
        norm = nn.LayerNorm(dim, device=device) if normalize_input else nn.Identity()
        self.embed = nn.Sequential(norm, nn.Linear(dim, hidden, device=device), nn.GELU())
        self.head = nn.Sequential(nn.Linear(hidden, hidden // 2, device=device), nn.GELU(),
                                  nn.Linear(hidden // 2, 2, device=device), nn.LogSoftmax(dim=-1))

    def log_probs(self, x: Tensor) -> Tensor:
        """``pi``: ``(B, N, 2)`` log-probabilities of (keep, drop) for every patch of ``x`` ``(B, N, D)``."""
        _check_features(x, self.dim, "TokenSelector")
        h = self.embed(x)
        local, context = h.chunk(2, dim=-1)
        context = context.mean(dim=1, keepdim=True).expand_as(context)  # the same image summary for every patch
        return self.head(torch.cat([local, context], dim=-1))

    def forward(self, x: Tensor, tau: float = 1.0, hard: bool = True, threshold: float = 0.5) -> Tensor:
        """The keep mask ``M`` of shape ``(B, N)``, in ``x``'s dtype.

        Training mode: a Gumbel-softmax sample at temperature ``tau``. With ``hard=True`` it is exactly 0/1 in the
        forward pass, and gradients are those of the soft keep probability (straight-through). With ``hard=False``
        the soft sample is returned. Eval mode: no noise. ``hard=True`` gives ``1[p_keep >= threshold]``, and
        ``hard=False`` gives ``p_keep``.
        """
        if not tau > 0:
            raise ValueError(f"tau (the Gumbel-softmax temperature) must be > 0; got {tau!r}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be a keep probability in (0, 1); got {threshold!r}")
        pi = self.log_probs(x)
        if not self.training:
            p_keep = pi[..., KEEP].exp()
            return (p_keep >= threshold).to(x.dtype) if hard else p_keep
        y = F.gumbel_softmax(pi, tau=tau, hard=False)             # (B, N, 2) soft one-hot, rows sum to 1
        soft = y[..., KEEP]
        if not hard:
            return soft
        sample = (y[..., KEEP] >= y[..., DROP]).to(soft.dtype)     # the argmax (a tie keeps)
        # Straight-through: soft - soft.detach() is exactly 0 forward, so M is exactly 0/1, and d M / d soft = 1.
        return sample + (soft - soft.detach())


def _weighted_softmax(scores: Tensor, weight: Tensor) -> Tensor:
    """``softmax`` over the last axis with every ``exp(score)`` multiplied by ``weight`` (upstream's
    ``softmax_with_policy``). A weight of 0 removes the key, and a row without any key gives all zeros. The weight
    may carry straight-through gradients."""
    allowed = weight > 0
    top = scores.masked_fill(~allowed, float("-inf")).amax(dim=-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))  # rows with no key at all
    e = (scores - top).exp() * weight
    return e / e.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(e.dtype).tiny)


class _Attention(nn.Module):
    """Multi-head attention whose keys carry a weight in ``[0, 1]``: ``(B, Lq, D), (B, Lk, D), (B, Lq, Lk)`` ->
    ``(B, Lq, D)``. A query without any key gets exactly zero."""

    def __init__(self, dim: int, heads: int, device=None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, device=device)
        self.k = nn.Linear(dim, dim, device=device)
        self.v = nn.Linear(dim, dim, device=device)
        self.out = nn.Linear(dim, dim, device=device)

    def forward(self, queries: Tensor, keys: Tensor, weight: Tensor) -> Tensor:
        B, Lq, D = queries.shape
        Lk, h = keys.shape[1], self.heads
        q = self.q(queries).reshape(B, Lq, h, D // h).transpose(1, 2)     # (B, h, Lq, d)
        k = self.k(keys).reshape(B, Lk, h, D // h).transpose(1, 2)
        v = self.v(keys).reshape(B, Lk, h, D // h).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) * (D // h) ** -0.5               # (B, h, Lq, Lk)
        attn = _weighted_softmax(scores, weight[:, None])
        has_key = (weight > 0).any(dim=-1, keepdim=True).to(queries.dtype)   # (B, Lq, 1)
        return self.out((attn @ v).transpose(1, 2).reshape(B, Lq, D)) * has_key   # no key: no update, not a bias


class MergerBlock(nn.Module):
    """Pre-norm block: causal self-attention among kept tokens, cross-attention to dropped patches, MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0, device=None):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim, device=device)
        self.self_attn = _Attention(dim, heads, device=device)
        self.norm_cross = nn.LayerNorm(dim, device=device)
        self.cross_attn = _Attention(dim, heads, device=device)
        self.norm_mlp = nn.LayerNorm(dim, device=device)
        hidden = max(1, int(dim * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden, device=device), nn.GELU(),
                                 nn.Linear(hidden, dim, device=device))

    def forward(self, tokens: Tensor, self_weight: Tensor, patches: Tensor, cross_weight: Tensor) -> Tensor:
        t = self.norm_self(tokens)
        tokens = tokens + self.self_attn(t, t, self_weight)
        tokens = tokens + self.cross_attn(self.norm_cross(tokens), patches, cross_weight)
        return tokens + self.mlp(self.norm_mlp(tokens))


class TokenMerger(nn.Module):
    """Fold the dropped patches into the kept ones: ``(B, N, D)`` features + ``(B, N)`` mask -> ``(B, K_max, D)``.

    Returns ``(tokens, padding)``. ``tokens[b, :K_b]`` are image ``b``'s kept tokens in raster order, and the rows
    after them are zeros. ``padding`` ``(B, K_max)`` bool is True on those rows, the ``key_padding_mask`` convention
    of :class:`torch.nn.MultiheadAttention`. See :func:`split_tokens` for the per-image list.
    """

    def __init__(self, dim: int, heads: int = 4, depth: int = 2, mlp_ratio: float = 2.0, device=None):
        super().__init__()
        self.dim = positive_int(dim, "dim", "the width D of the patch features")
        heads = positive_int(heads, "heads")
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        depth = positive_int(depth, "depth", "number of merger blocks")
        self.norm_patches = nn.LayerNorm(dim, device=device)   # upstream's ln_vision on the raw ViT features
        self.blocks = nn.ModuleList(MergerBlock(dim, heads, mlp_ratio, device=device) for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim, device=device)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        _check_features(x, self.dim, "TokenMerger")
        _check_mask(mask, x, "TokenMerger")
        B, N, D = x.shape
        mask = mask.to(x.dtype)
        positions, padding = kept_positions(mask)                           # (B, K), (B, K)
        K = positions.shape[1]
        if K == 0:                                                          # nothing kept in any image
            return x.new_zeros(B, 0, D), padding
        tokens = x.gather(1, positions[..., None].expand(B, K, D))           # queries: the kept patches
        # Self-attention: key j counts if it is a real kept token (weight M_j, with its straight-through gradient)
        # and comes no later than the query in raster order (causal, as upstream).
        key_keep = mask.gather(1, positions) * (~padding).to(x.dtype)        # (B, K)
        causal = torch.ones(K, K, dtype=torch.bool, device=x.device).tril()
        self_weight = key_keep[:, None, :] * causal                          # (B, K, K)
        # Cross-attention: every query reads the dropped patches only (weight 1 - M_j).
        cross_weight = (1.0 - mask)[:, None, :].expand(B, K, N)              # (B, K, N)
        patches = self.norm_patches(x)
        for block in self.blocks:
            tokens = block(tokens, self_weight, patches, cross_weight)
        tokens = self.norm_out(tokens).masked_fill(padding[..., None], 0.0)
        return tokens, padding
