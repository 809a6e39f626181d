"""Unit 07 — NExT-GPT's projectors: into the LLM from the bound embeddings, and out of it to the decoders.

- :class:`InputProjector`: the original code's ``Linear(1024, 4096)`` from one pooled ImageBind embedding to one LLM
  token (one projector for every input modality: ImageBind put them in one space).
- :class:`GroupingProjector`: the new code's option, GroupViT-style. Learned group tokens attend to the encoder's
  patch tokens; each patch is assigned to one group by a hard Gumbel-softmax (straight-through: the forward pass uses
  the one-hot choice, the backward pass the soft one), and each group token becomes an LLM token. One stage here;
  NExT-GPT stacks two (64, then 8 groups).
- :class:`OutputProjector`: ``TextFcLayer(mode="transformer")``. The LLM's last hidden states at the signal tokens,
  plus those tokens' input embeddings, go through ``fc``, then ``torch.nn.Transformer`` whose decoder reads learned
  queries (one per conditioning token the decoder wants), then a linear map to the conditioning width. NExT-GPT's is
  512 wide with 4 heads and 4 + 4 layers, dropout 0.1 in the paper (0 in the code).
- :func:`l2_alignment_loss`: the paper calls it MSE; the code takes the Euclidean distance per output token
  (``((u - v) ** 2).sum(-1) ** 0.5``), not its square, and averages it.

Lecture: `lectures/07_next_gpt.ipynb` §5.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class InputProjector(nn.Module):
    """``(B, d_in)`` pooled embeddings -> ``(B, tokens, d_llm)``: one linear map. NExT-GPT's original code makes one
    LLM token per input (``tokens=1``); the course's small LLM reads a few more (a soft prompt of ``tokens``)."""

    def __init__(self, d_in: int, d_llm: int, tokens: int = 1):
        super().__init__()
        self.linear = nn.Linear(d_in, tokens * d_llm)
        self.tokens, self.d_llm = tokens, d_llm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), self.tokens, self.d_llm)


class GroupingProjector(nn.Module):
    """``(B, N, d_in)`` patch tokens -> ``(B, groups, d_llm)`` group tokens (module docstring)."""

    def __init__(self, d_in: int, d_llm: int, groups: int = 8, width: int = 64, heads: int = 4, tau: float = 1.0):
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.groups = nn.Parameter(torch.randn(groups, width) * 0.02)
        self.attend = nn.MultiheadAttention(width, heads, batch_first=True)  # groups read the patches first
        self.key, self.query = nn.Linear(width, width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.GELU(),
                                 nn.Linear(2 * width, width))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, d_llm))
        self.tau = tau

    def assignment(self, x: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """``(B, N, G)`` one-hot assignment of each patch to a group: hard Gumbel-softmax over groups while
        training (straight-through), the argmax in eval."""
        logits = self.query(x) @ self.key(groups).transpose(1, 2) / x.shape[-1] ** 0.5  # (B, N, G)
        if self.training:
            return F.gumbel_softmax(logits, tau=self.tau, hard=True, dim=-1)
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(x.dtype)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        x = self.inp(patches)  # (B, N, width)
        g = self.groups.expand(len(x), -1, -1)
        g = g + self.attend(g, x, x, need_weights=False)[0]
        a = self.assignment(x, g)  # (B, N, G)
        # Each group's new value: the mean of its patches (GroupViT normalises by the count + 1).
        pooled = a.transpose(1, 2) @ x / (a.sum(1)[..., None] + 1)  # (B, G, width)
        g = g + pooled
        return self.out(g + self.mlp(g))


class OutputProjector(nn.Module):
    """Signal tokens' states ``(B, n, d_llm)`` (+ their embeddings) -> conditioning ``(B, out_tokens, out_dim)``."""

    def __init__(self, d_llm: int, out_tokens: int, out_dim: int, width: int = 64, heads: int = 4, layers: int = 2,
                 dropout: float = 0.1):
        super().__init__()
        self.fc = nn.Linear(d_llm, width)
        kw = dict(d_model=width, nhead=heads, dim_feedforward=4 * width, dropout=dropout, batch_first=True,
                  norm_first=True)
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**kw), layers, norm=nn.LayerNorm(width),
                                        enable_nested_tensor=False)  # nested tensors do not apply to norm_first
        self.transformer = nn.Transformer(**kw, custom_encoder=encoder, num_decoder_layers=layers)
        self.queries = nn.Parameter(torch.randn(out_tokens, width) * 0.02)
        self.head = nn.Linear(width, out_dim)

    def forward(self, hidden: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        x = self.fc(hidden + embeddings)  # (B, n, width): NExT-GPT adds the tokens' input embeddings
        out = self.transformer(x, self.queries.expand(len(x), -1, -1))  # (B, out_tokens, width)
        return self.head(out)


def l2_alignment_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over batch and tokens of the Euclidean distance ``||pred - target||_2`` along the last axis (NExT-GPT's
    ``l2_loss``: a distance, not a squared error). ``pred`` and ``target`` are ``(B, T, D)``."""
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same (B, T, D) shape; got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    # vector_norm, not .pow(2).sum().sqrt(): its gradient at a distance of 0 is 0, where sqrt's would be NaN.
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


__all__ = ["GroupingProjector", "InputProjector", "OutputProjector", "l2_alignment_loss"]
