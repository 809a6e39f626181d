"""Unit 07 — NExT-GPT's signal tokens: how an LLM asks for a picture, a sound or a video.

NExT-GPT adds new tokens to the LLM's vocabulary, four for an image (``[IMG0]..[IMG3]``), eight for audio
(``[AUD0]..[AUD7]``) and 24 for a video (``[VID0]..[VID23]``). When the LLM writes them, their hidden states (the
last layer's, at their positions) go to an output projector, and from there to a decoder. (The paper's §4.2 writes
``i = 0..4``; its §6.2 and its code use 4, 8 and 24.)

A response names one output with one placeholder, ``[IMG]``, ``[AUD]`` or ``[VID]``. :func:`expand_signals` turns
each into its full run of signal tokens before tokenisation; :func:`signal_positions` finds the run again in the
token ids, to read the hidden states there. While generating, :class:`SignalRuns` keeps the tokens in whole runs.

Lecture: `lectures/07_next_gpt.ipynb` §5.
"""

from __future__ import annotations

import re

import torch

#: Signal tokens per output modality (NExT-GPT: 4 image, 8 audio, 24 video) and their names' stems.
SIGNAL_COUNTS = {"image": 4, "audio": 8, "video": 24}
STEMS = {"image": "IMG", "audio": "AUD", "video": "VID"}


def signal_tokens(modality: str) -> list[str]:
    """``["[IMG0]", "[IMG1]", "[IMG2]", "[IMG3]"]`` for ``"image"``; likewise ``"audio"`` (8) and ``"video"`` (24)."""
    if modality not in SIGNAL_COUNTS:
        raise ValueError(f"unknown output modality {modality!r}; choose one of {tuple(SIGNAL_COUNTS)}")
    return [f"[{STEMS[modality]}{i}]" for i in range(SIGNAL_COUNTS[modality])]


ALL_SIGNAL_TOKENS = [t for m in SIGNAL_COUNTS for t in signal_tokens(m)]
_PLACEHOLDER = re.compile(r"\[(IMG|AUD|VID)\]")


def expand_signals(text: str) -> str:
    """Replace each placeholder ``[IMG]``/``[AUD]``/``[VID]`` of ``text`` by its run of signal tokens, in order:
    ``"here [IMG]"`` -> ``"here [IMG0][IMG1][IMG2][IMG3]"``. Text without placeholders comes back unchanged."""
    modality = {stem: m for m, stem in STEMS.items()}
    return _PLACEHOLDER.sub(lambda match: "".join(signal_tokens(modality[match.group(1)])), text)


def add_signal_tokens(tokenizer, model=None) -> dict[str, list[int]]:
    """Add every signal token to ``tokenizer`` as a special token (never split), grow ``model``'s embeddings to the
    new vocabulary (if given), and return each modality's token ids in order."""
    tokenizer.add_special_tokens({"additional_special_tokens": ALL_SIGNAL_TOKENS})
    if model is not None:
        model.resize_token_embeddings(len(tokenizer))
    return {m: tokenizer.convert_tokens_to_ids(signal_tokens(m)) for m in SIGNAL_COUNTS}


def signal_positions(input_ids: torch.Tensor, ids: list[int]) -> torch.Tensor:
    """``(B, n)`` positions of the run ``ids`` (``n`` signal tokens of one modality, in order) in each row of
    ``input_ids`` ``(B, L)``. Every row must hold the run exactly once, consecutively and in order."""
    ids_t = torch.tensor(ids, device=input_ids.device)
    n = len(ids)
    if input_ids.ndim != 2 or input_ids.shape[1] < n:
        raise ValueError(f"input_ids must be (B, L) with L >= {n}; got {tuple(input_ids.shape)}")
    windows = input_ids.unfold(1, n, 1)  # (B, L - n + 1, n)
    starts = (windows == ids_t).all(-1)  # (B, L - n + 1)
    count = starts.sum(1)
    if (count != 1).any() or (torch.isin(input_ids, ids_t).sum(1) != n).any():
        bad = int(torch.nonzero((count != 1) | (torch.isin(input_ids, ids_t).sum(1) != n))[0])
        raise ValueError(f"row {bad} does not hold the {n} signal tokens exactly once, in order "
                         "(did generation stop inside the run?)")
    return starts.float().argmax(1)[:, None] + torch.arange(n, device=input_ids.device)


class SignalRuns:
    """A ``transformers`` logits processor that keeps signal tokens in whole runs, as GILL and NExT-GPT generate:
    once ``[IMG0]`` is written, ``[IMG1]..[IMG3]`` follow; a run can only start at its first token."""

    def __init__(self, signal_ids: dict[str, list[int]]):
        self.next = {a: b for ids in signal_ids.values() for a, b in zip(ids, ids[1:])}
        self.inner = torch.tensor([i for ids in signal_ids.values() for i in ids[1:]], dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        scores[:, self.inner.to(scores.device)] = float("-inf")  # no run starts in its middle
        if input_ids.shape[1] == 0:  # the first step of a generation from embeddings: nothing written yet
            return scores
        for row, last in enumerate(input_ids[:, -1].tolist()):
            if last in self.next:  # inside a run: its next token, nothing else
                forced = self.next[last]
                scores[row] = float("-inf")
                scores[row, forced] = 0.0
        return scores


__all__ = ["ALL_SIGNAL_TOKENS", "SIGNAL_COUNTS", "SignalRuns", "add_signal_tokens", "expand_signals",
           "signal_positions", "signal_tokens"]
