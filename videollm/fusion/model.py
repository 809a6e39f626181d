"""Unit 03 — early fusion: visual inputs fed to a language model as part of its input sequence.

One small decoder-only language model (transformers' ``Qwen2ForCausalLM`` with a tiny config, random init) is fed
a clip in two ways:

- **non-tokenised early fusion** (LLaVA, Qwen2-VL): continuous frame features (the unit 01 patch embedding of
  each frame) pass through a :class:`Projector` (Linear-GELU-Linear, LLaVA's ``mlp2x_gelu``) into the LM's input
  embedding space and are written into ``inputs_embeds`` at the placeholder positions of the prompt.
  The prompt holds one ``<|video_pad|>`` between ``<|vision_start|>`` and ``<|vision_end|>``;
  :func:`expand_placeholders` repeats it ``T * tokens_per_frame`` times (as Qwen2-VL's processor does) and
  :func:`scatter_visual` puts the projected features there, frame-major (frame 0's patches first, each frame's
  patches row-major).
- **tokenised early fusion** (Chameleon, VideoPoet, LaVIT): the unit 02 VQ-VAE codes of each frame become new
  token ids past the text vocabulary (:func:`vq_token_ids`; the embedding table is resized), and
  :func:`insert_visual_tokens` splices them into the text ids where the placeholder was.

Both share the rest: :func:`make_batch` pads sequences, builds the attention mask (ones over text *and* visual
tokens) and the labels (``-100`` on the prompt, the visual tokens and the padding, so only the answer is learned).
Training, evaluation, the cached checkpoints and the command line live in :mod:`videollm.fusion.train`::

    $ python -m videollm.fusion.train build      # train (or load) both models
    $ python -m videollm.fusion.train evaluate   # accuracy vs random and tokens per clip, per task

Conventions: clips are ``(B, T, C, H, W)`` float in [0, 1]; frame features ``(B, T, P, D)``; token sequences
``(B, L)`` int64; embeddings ``(B, L, D)``. Nothing loops over tokens or patches in Python.

Lecture: `lectures/03_early_fusion.ipynb` §2–6.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videollm.validate import positive_int
from videollm.vit.patches import PatchEmbed

__all__ = [
    "IGNORE_INDEX",
    "PLACEHOLDER",
    "STYLES",
    "VISION_END",
    "VISION_START",
    "EarlyFusionLM",
    "FrameEncoder",
    "Projector",
    "answer_text",
    "expand_placeholders",
    "flatten_frames",
    "insert_visual_tokens",
    "make_batch",
    "prompt_text",
    "scatter_visual",
    "tiny_lm",
    "vq_token_ids",
]

#: The two fusion styles: continuous features projected into ``inputs_embeds``, or VQ codes as token ids.
STYLES: tuple[str, ...] = ("non_tokenised", "tokenised")
#: Label value the loss ignores (transformers' and PyTorch's convention).
IGNORE_INDEX = -100
#: Qwen2-VL's video placeholder layout: ``<|vision_start|>`` + ``<|video_pad|>`` x N + ``<|vision_end|>``.
VISION_START, PLACEHOLDER, VISION_END = "<|vision_start|>", "<|video_pad|>", "<|vision_end|>"


# --------------------------------------------------------------------------------------------------------------
# the prompt
# --------------------------------------------------------------------------------------------------------------
def prompt_text(question: str, options: Sequence[str] | None = None) -> str:
    """The chat prompt of one question: the video (one placeholder) first, then the question (and its options).

    ``<|im_start|>user\\n<|vision_start|><|video_pad|><|vision_end|>\\n{question}[\\nOptions: a, b, c]<|im_end|>\\n
    <|im_start|>assistant\\n`` — the assistant's answer (:func:`answer_text`) follows.
    """
    if not isinstance(question, str) or not question:
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    listed = ""
    if options is not None:
        if isinstance(options, str) or len(options) < 2:
            raise ValueError(f"options must be a list of at least 2 strings, got {options!r}")
        listed = "\nOptions: " + ", ".join(str(o) for o in options)
    return (f"<|im_start|>user\n{VISION_START}{PLACEHOLDER}{VISION_END}\n{question}{listed}<|im_end|>\n"
            f"<|im_start|>assistant\n")


def answer_text(option: str) -> str:
    """The assistant's reply for one option: the option's text, then ``<|im_end|>``."""
    return f"{option}<|im_end|>"


# --------------------------------------------------------------------------------------------------------------
# placeholder layout and interleaving
# --------------------------------------------------------------------------------------------------------------
def _check_ids(ids: Tensor, where: str) -> None:
    if not isinstance(ids, Tensor) or ids.ndim != 1 or ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{where}: expected a 1-D int64 tensor of token ids (L,), got "
                        f"{getattr(ids, 'shape', type(ids).__name__)} {getattr(ids, 'dtype', '')}")


def expand_placeholders(input_ids: Tensor, placeholder_id: int, num_tokens: int) -> Tensor:
    """Repeat every placeholder id ``num_tokens`` times (the processor step of LLaVA / Qwen2-VL).

    Args:
        input_ids: ``(L,)`` int64 text ids with ``k >= 1`` placeholders.
        placeholder_id: the placeholder's id (``<|video_pad|>``).
        num_tokens: visual tokens per placeholder (``T * tokens_per_frame`` for one clip).

    Returns:
        ``(L - k + k * num_tokens,)`` int64, the other ids unchanged and in order.
    """
    _check_ids(input_ids, "expand_placeholders")
    positive_int(num_tokens, "num_tokens")
    is_pad = input_ids == placeholder_id
    if not bool(is_pad.any()):
        raise ValueError(f"no placeholder id {placeholder_id} in the prompt; put {PLACEHOLDER} where the video goes")
    repeats = torch.where(is_pad, num_tokens, 1)
    return input_ids.repeat_interleave(repeats)


def vq_token_ids(codes: Tensor, text_vocab_size: int, num_codes: int | None = None) -> Tensor:
    """VQ codes of one clip as token ids of the extended vocabulary: ``text_vocab_size + code``.

    Args:
        codes: ``(T, h, w)`` (or ``(T, h*w)``) int64 code indices in ``[0, num_codes)``.
        text_vocab_size: size of the text vocabulary (the first code id).
        num_codes: codebook size, checked when given.

    Returns:
        ``(T * h * w,)`` int64, frame-major and row-major inside each frame.
    """
    if not isinstance(codes, Tensor) or codes.dtype not in (torch.int64, torch.int32) or codes.ndim < 1:
        raise TypeError(f"vq_token_ids: expected an int64 tensor of codes (T, h, w), got "
                        f"{getattr(codes, 'shape', type(codes).__name__)} {getattr(codes, 'dtype', '')}")
    if codes.numel() and int(codes.min()) < 0:
        raise ValueError("vq_token_ids: codes must be >= 0")
    if num_codes is not None and codes.numel() and int(codes.max()) >= num_codes:
        raise ValueError(f"vq_token_ids: code {int(codes.max())} is outside the codebook of {num_codes}")
    return codes.reshape(-1).long() + int(text_vocab_size)


def insert_visual_tokens(input_ids: Tensor, placeholder_id: int, visual_ids: Tensor) -> Tensor:
    """Replace the one placeholder of ``input_ids`` by the clip's visual token ids (tokenised fusion).

    Args:
        input_ids: ``(L,)`` int64 text ids holding exactly one placeholder.
        placeholder_id: its id.
        visual_ids: ``(N,)`` int64 ids, e.g. from :func:`vq_token_ids`.

    Returns:
        ``(L - 1 + N,)`` int64: the text before the placeholder, the visual ids, the text after it.
    """
    _check_ids(input_ids, "insert_visual_tokens")
    _check_ids(visual_ids, "insert_visual_tokens (visual_ids)")
    where = (input_ids == placeholder_id).nonzero().flatten()
    if where.numel() != 1:
        raise ValueError(f"insert_visual_tokens needs exactly one placeholder ({placeholder_id}) in the prompt, "
                         f"found {where.numel()}")
    i = int(where[0])
    return torch.cat([input_ids[:i], visual_ids.to(input_ids), input_ids[i + 1:]])


def flatten_frames(features: Tensor) -> Tensor:
    """``(B, T, P, D) -> (B, T*P, D)``, frame-major: all of frame 0's tokens, then frame 1's, ..."""
    if not isinstance(features, Tensor) or features.ndim != 4:
        raise ValueError(f"flatten_frames: expected features (B, T, P, D), got {getattr(features, 'shape', None)}")
    return features.flatten(1, 2)


def scatter_visual(inputs_embeds: Tensor, input_ids: Tensor, features: Tensor, placeholder_id: int) -> Tensor:
    """Write visual features into the placeholder positions of ``inputs_embeds`` (non-tokenised fusion).

    Args:
        inputs_embeds: ``(B, L, D)`` text embeddings of ``input_ids``.
        input_ids: ``(B, L)`` int64 with exactly ``N`` placeholders in every row.
        features: ``(B, N, D)`` projected features, in the order the placeholders should receive them.
        placeholder_id: the placeholder's id.

    Returns:
        ``(B, L, D)``: a new tensor, the placeholders' rows replaced by ``features`` row by row, others unchanged.
    """
    if inputs_embeds.ndim != 3 or input_ids.shape != inputs_embeds.shape[:2]:
        raise ValueError(f"scatter_visual: inputs_embeds (B, L, D) and input_ids (B, L) disagree: "
                         f"{tuple(inputs_embeds.shape)} vs {tuple(input_ids.shape)}")
    if features.ndim != 3 or features.shape[0] != inputs_embeds.shape[0] or features.shape[2] != inputs_embeds.shape[2]:
        raise ValueError(f"scatter_visual: features must be (B, N, D) = ({inputs_embeds.shape[0]}, N, "
                         f"{inputs_embeds.shape[2]}), got {tuple(features.shape)}")
    mask = input_ids == placeholder_id
    counts = mask.sum(1)
    if bool((counts != features.shape[1]).any()):
        raise ValueError(f"scatter_visual: {features.shape[1]} features per clip but the rows hold "
                         f"{counts.tolist()} placeholders; expand the placeholder to exactly N tokens")
    return inputs_embeds.masked_scatter(mask.unsqueeze(-1), features.to(inputs_embeds.dtype))


def make_batch(prompts: Sequence[Tensor], answers: Sequence[Tensor], pad_id: int) -> dict[str, Tensor]:
    """Concatenate prompt and answer ids, right-pad, and build the attention mask and labels.

    Args:
        prompts: ``B`` tensors ``(L_i,)`` int64 — the prompt with its visual tokens already in place.
        answers: ``B`` tensors ``(A_i,)`` int64 — the answer ids the model learns to produce.
        pad_id: the padding id.

    Returns:
        ``input_ids`` ``(B, L)`` int64, ``attention_mask`` ``(B, L)`` int64 (1 on every prompt, visual and answer
        token, 0 on padding), ``labels`` ``(B, L)`` int64 (the answer ids; ``IGNORE_INDEX`` elsewhere) and
        ``answer_mask`` ``(B, L)`` bool. transformers shifts the labels inside the loss.
    """
    if len(prompts) != len(answers) or not prompts:
        raise ValueError(f"make_batch: need as many answers as prompts (>= 1), got {len(prompts)} and {len(answers)}")
    rows = [torch.cat([p, a]) for p, a in zip(prompts, answers)]
    lengths = torch.tensor([len(r) for r in rows])
    prompt_len = torch.tensor([len(p) for p in prompts])
    input_ids = nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad_id)
    pos = torch.arange(input_ids.shape[1])
    attention_mask = (pos < lengths[:, None]).long()
    answer_mask = (pos >= prompt_len[:, None]) & attention_mask.bool()
    labels = torch.where(answer_mask, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "answer_mask": answer_mask}


# --------------------------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------------------------
class Projector(nn.Module):
    """LLaVA's ``mlp2x_gelu`` projector: ``Linear(in_dim, out_dim) -> GELU -> Linear(out_dim, out_dim)``.

    State-dict compatible with transformers' ``LlavaOnevisionMultiModalProjector`` (``linear_1``, ``act``,
    ``linear_2``). ``(..., in_dim) -> (..., out_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, out_dim, bias=bias)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(out_dim, out_dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_2(self.act(self.linear_1(x)))


class FrameEncoder(nn.Module):
    """The visual side of non-tokenised fusion: unit 01's :class:`~videollm.vit.patches.PatchEmbed` on every frame.

    ``(B, T, 3, H, W)`` float in [0, 1] -> ``(B, T, P, D)`` with ``P = (H/patch) * (W/patch)`` patch tokens per frame
    (row-major), after an optional ``pool x pool`` average pooling of the patch grid.
    """

    def __init__(self, image_size: int = 32, patch_size: int = 8, dim: int = 64, pool: int = 1):
        super().__init__()
        if image_size % patch_size or (image_size // patch_size) % pool:
            raise ValueError(f"image_size {image_size} must be a multiple of patch_size {patch_size} x pool {pool}")
        self.image_size, self.patch_size, self.pool = image_size, patch_size, pool
        self.patch_embed = PatchEmbed(image_size, patch_size, 3, dim)
        self.norm = nn.LayerNorm(dim)

    @property
    def tokens_per_frame(self) -> int:
        side = self.image_size // self.patch_size // self.pool
        return side * side

    def forward(self, clips: Tensor) -> Tensor:
        if clips.ndim != 5 or clips.shape[2] != 3:
            raise ValueError(f"FrameEncoder: expected clips (B, T, 3, H, W), got {tuple(clips.shape)}")
        B, T = clips.shape[:2]
        tokens = self.patch_embed(clips.flatten(0, 1) * 2 - 1)          # (B*T, P, D)
        if self.pool > 1:
            side = self.image_size // self.patch_size
            grid = tokens.transpose(1, 2).unflatten(2, (side, side))   # (B*T, D, s, s)
            tokens = F.avg_pool2d(grid, self.pool).flatten(2).transpose(1, 2)
        return self.norm(tokens).unflatten(0, (B, T))


def tiny_lm(vocab_size: int, hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2,
            intermediate: int = 128, max_positions: int = 1024, seed: int = 0, device="cpu"):
    """A tiny random ``transformers.Qwen2ForCausalLM`` (tied input/output embeddings), seeded."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=intermediate,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                         max_position_embeddings=max_positions, tie_word_embeddings=True, use_cache=False,
                         attn_implementation="sdpa")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    return model.to(device)


class EarlyFusionLM(nn.Module):
    """One decoder LM with either fusion style.

    - ``style="non_tokenised"``: ``encoder`` (:class:`FrameEncoder`) and ``projector`` (:class:`Projector`) turn
      ``clips`` ``(B, T, 3, H, W)`` into ``(B, T*P, hidden)`` features that :func:`scatter_visual` writes into the
      placeholder rows of the text embeddings.
    - ``style="tokenised"``: the visual tokens are ids already (:func:`insert_visual_tokens`); the LM's vocabulary
      was resized to ``text_vocab_size + num_codes``.
    """

    def __init__(self, lm: nn.Module, style: str, placeholder_id: int, text_vocab_size: int,
                 encoder: FrameEncoder | None = None, projector: Projector | None = None):
        super().__init__()
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
        if style == "non_tokenised" and (encoder is None or projector is None):
            raise ValueError("non_tokenised fusion needs an encoder and a projector")
        self.lm, self.style, self.placeholder_id, self.text_vocab_size = lm, style, placeholder_id, text_vocab_size
        self.encoder, self.projector = encoder, projector

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def visual_features(self, clips: Tensor) -> Tensor:
        """``(B, T, 3, H, W) -> (B, T*P, hidden)``: encoder, projector, frame-major flattening."""
        return flatten_frames(self.projector(self.encoder(clips)))

    def inputs_embeds(self, input_ids: Tensor, clips: Tensor | None = None) -> Tensor:
        """``(B, L)`` ids (+ clips for non-tokenised fusion) -> ``(B, L, hidden)`` input embeddings."""
        embeds = self.lm.get_input_embeddings()(input_ids)
        if self.style == "non_tokenised":
            if clips is None:
                raise ValueError("non_tokenised fusion needs the clips (B, T, 3, H, W)")
            embeds = scatter_visual(embeds, input_ids, self.visual_features(clips), self.placeholder_id)
        return embeds

    def forward(self, input_ids: Tensor, attention_mask: Tensor, clips: Tensor | None = None,
                labels: Tensor | None = None):
        embeds = self.inputs_embeds(input_ids, clips)
        return self.lm(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)
