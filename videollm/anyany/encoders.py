"""Unit 07 — three encoders into one embedding space, ImageBind's design at the size of the course's world.

Each encoder is a real library class in a tiny configuration, followed by a linear head into the joint space
(``embed_dim``, ImageBind-Huge: 1024) and l2-normalisation (ImageBind's postprocessors):

- :class:`VisionEncoder`: a ``timm`` ViT over **two-frame tubelets**. ImageBind's vision patch embedding is a 3-D
  convolution of kernel ``(2, 14, 14)``; over exactly two frames that is a 2-D convolution of the two frames stacked
  on the channel axis, so a ViT with ``in_chans = 6`` is the same layer. A video is cut into clips of two frames,
  each clip embedded and normalised, and the clip embeddings averaged (ImageBind averages its 5 clips per video);
  an image is its own frame twice (ImageBind's ``PadIm2Video(pad_type="repeat", ntimes=2)``).
- :class:`TextEncoder`: ``transformers``' ``CLIPTextModel`` on the course's tokenizer, pooled at the end-of-text
  token as CLIP pools. (The pooling is done here: ``CLIPTextModel`` pools by ``argmax(input_ids)`` whenever
  ``eos_token_id == 2``, a compatibility rule for old checkpoints, and the course tokenizer's end token is id 2.)
- :class:`AudioEncoder`: ``transformers``' Audio Spectrogram Transformer (``ASTModel``) over the 128-bin log-mel
  filterbank of :func:`log_mel`, which is ImageBind's audio front end too (16 kHz, 25 ms windows every 10 ms,
  204 frames for 2 s). ImageBind's audio patches overlap (stride 10); these do not (stride 16), for speed.

Shapes: video ``(B, T, 3, H, W)`` float in [0, 1] with ``T`` even; image ``(B, 3, H, W)``; mel ``(B, 204, 128)``;
every ``forward`` returns ``(B, embed_dim)`` unit vectors on the module's device.

Lecture: `lectures/07_next_gpt.ipynb` §2–3.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from videollm.anyany.infonce import normalise
from videollm.offline import set_offline
from videollm.world.text_tokenizer import course_tokenizer

set_offline()

#: ImageBind's audio front end: 16 kHz, 128 mel bins, 204 frames (2.04 s at a 10 ms hop).
MEL_BINS = 128
MEL_FRAMES = 204
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class EncoderConfig:
    """Sizes of the three tiny encoders (ImageBind-Huge in comments)."""

    embed_dim: int = 64          # joint space (1024)
    width: int = 64              # transformer width of each encoder (vision 1280, text 1024, audio 768)
    depth: int = 2               # blocks (32 / 24 / 12)
    heads: int = 2
    image_size: int = 48
    patch_size: int = 8          # (14; audio 16 with stride 10)
    max_text_tokens: int = 24    # (77)


def _pixels(video: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], the range the ViT is trained on."""
    return video * 2 - 1


class VisionEncoder(nn.Module):
    """``timm`` ViT over two-frame tubelets (module docstring). ``forward(video (B, T, 3, H, W))`` with ``T``
    even, or ``image (B, 3, H, W)``, gives ``(B, embed_dim)`` unit vectors."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        self.config = config
        self.vit = VisionTransformer(img_size=config.image_size, patch_size=config.patch_size, in_chans=6,
                                     num_classes=config.embed_dim, embed_dim=config.width, depth=config.depth,
                                     num_heads=config.heads, mlp_ratio=2.0, global_pool="token")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:  # an image: repeat it to a two-frame clip
            x = x[:, None].expand(-1, 2, -1, -1, -1)
        if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] % 2:
            raise ValueError(f"vision input must be an image (B, 3, H, W) or a video (B, T, 3, H, W) with T even "
                             f"(two-frame tubelets); got {tuple(x.shape)}")
        b, t, _, h, w = x.shape
        clips = _pixels(x.to(self.vit.cls_token.device)).reshape(b * t // 2, 6, h, w)  # two frames per clip
        per_clip = normalise(self.vit(clips)).reshape(b, t // 2, -1)  # (B, T/2, D)
        return normalise(per_clip.mean(1))


class TextEncoder(nn.Module):
    """``CLIPTextModel`` + a linear projection, pooled at the end-of-text token. ``forward(list of str)`` gives
    ``(B, embed_dim)`` unit vectors; :meth:`tokenize` shows the ids it reads."""

    def __init__(self, config: EncoderConfig = EncoderConfig(), tokenizer=None):
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModel

        self.config = config
        self.tokenizer = tokenizer if tokenizer is not None else course_tokenizer()
        tok = self.tokenizer
        self.clip = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(tok), hidden_size=config.width, intermediate_size=2 * config.width,
            num_hidden_layers=config.depth, num_attention_heads=config.heads,
            max_position_embeddings=config.max_text_tokens, pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id))
        self.projection = nn.Linear(config.width, config.embed_dim, bias=False)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask``, ``(B, L)``: each text's tokens, then the end-of-text token,
        right-padded; texts longer than ``max_text_tokens - 1`` tokens are refused (CLIP truncates silently)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts) or not len(texts):
            raise ValueError("texts must be a non-empty list of strings")
        tok = self.tokenizer
        ids = [tok(t, add_special_tokens=False).input_ids + [tok.eos_token_id] for t in texts]
        longest = max(map(len, ids))
        if longest > self.config.max_text_tokens:
            raise ValueError(f"a text has {longest} tokens with its end token; this encoder reads at most "
                             f"{self.config.max_text_tokens}")
        device = self.projection.weight.device
        input_ids = torch.full((len(ids), longest), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(ids), longest), dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
        return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}

    def forward(self, texts: list[str]) -> torch.Tensor:
        return self.encode_tokens(self.tokenize(texts))

    def encode_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """:meth:`forward` on what :meth:`tokenize` returned (rows of it, for training on a pre-tokenised set)."""
        hidden = self.clip(**batch).last_hidden_state  # (B, L, width), causal: the last token has read them all
        end = batch["attention_mask"].sum(1) - 1  # (B,) the end-of-text position
        pooled = hidden[torch.arange(len(end), device=hidden.device), end]
        return normalise(self.projection(pooled))


def log_mel(audio: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """``(B, 204, 128)`` float32 log-mel filterbanks of ``(B, N)`` mono float audio at 16 kHz: Kaldi-style fbank
    (25 ms windows every 10 ms, pre-emphasis 0.97; a Hann window where torchaudio's Kaldi uses Povey's), cut or
    zero-padded to 204 frames and normalised with AudioSet's mean and std, by ``transformers``'
    ``ASTFeatureExtractor`` (ImageBind's front end; a CPU, NumPy step)."""
    from transformers import ASTFeatureExtractor

    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"audio must be {SAMPLE_RATE} Hz (ImageBind's rate); got {sample_rate}: resample it first")
    array = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"audio must be a (B, N) float array; got {array.dtype} of shape {array.shape}")
    with warnings.catch_warnings():
        # 128 triangular filters over a 512-point FFT leave the lowest filters empty (Kaldi's layout, and
        # ImageBind's); their log energy is the floor, the same for every clip.
        warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")
        extractor = ASTFeatureExtractor(num_mel_bins=MEL_BINS, max_length=MEL_FRAMES, sampling_rate=SAMPLE_RATE)
        out = extractor(list(array.astype(np.float32)), sampling_rate=SAMPLE_RATE, return_tensors="pt")
    return out["input_values"].float()


class AudioEncoder(nn.Module):
    """``ASTModel`` + a linear head. ``forward(mel (B, 204, 128))`` gives ``(B, embed_dim)`` unit vectors."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        from transformers import ASTConfig, ASTModel

        self.config = config
        self.ast = ASTModel(ASTConfig(
            hidden_size=config.width, num_hidden_layers=config.depth, num_attention_heads=config.heads,
            intermediate_size=2 * config.width, patch_size=16, frequency_stride=16, time_stride=16,
            num_mel_bins=MEL_BINS, max_length=MEL_FRAMES))
        self.head = nn.Linear(config.width, config.embed_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if mel.ndim != 3 or mel.shape[1:] != (MEL_FRAMES, MEL_BINS):
            raise ValueError(f"mel must be (B, {MEL_FRAMES}, {MEL_BINS}) (log_mel of 2 s at 16 kHz); "
                             f"got {tuple(mel.shape)}")
        pooled = self.ast(mel.to(self.head.weight.device)).pooler_output  # (B, width): mean of the two [CLS]s
        return normalise(self.head(pooled))


def parameter_count(module: nn.Module, trainable: bool | None = None) -> int:
    """Number of parameters of ``module`` (only the trainable, or only the frozen ones, if asked)."""
    return sum(p.numel() for p in module.parameters() if trainable is None or p.requires_grad == trainable)


__all__ = ["AudioEncoder", "EncoderConfig", "MEL_BINS", "MEL_FRAMES", "TextEncoder", "VisionEncoder", "log_mel",
           "parameter_count"]
