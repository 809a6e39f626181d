"""Unit 07 — the emergent experiment in seconds: a small audio head bound to frozen video embeddings.

:mod:`videollm.anyany.bind` trains a whole audio transformer (``ASTModel``) for minutes. The experiment's idea needs
far less: fixed features of each clip's sound, a two-layer head on top, and ImageBind's loss against the *frozen*
video embeddings of the same clips. No caption is ever seen; audio-to-text retrieval still works, because the
video encoder was aligned with text first (lab 07, Tasks 3–4; lecture §4).

- :func:`sound_features`: ``(N, 204, 128)`` log-mel -> ``(N, 256)``, each mel bin's mean and standard deviation
  over time (pitch and timbre are in which bins are loud; when the notes come does not matter to a caption);
- :func:`emergent_data`: the features of the ``sounds`` split with the frozen video embeddings of the same clips
  (the committed binding's vision encoder), and of the ``test`` split with the text embeddings of its distinct
  captions; computed once (about 25 s on two cores) and cached;
- :func:`make_head`, :func:`train_audio_head`: the head and its training (the binding stage's loop,
  :func:`videollm.anyany.bind.train_audio`, at ImageBind's fixed ``tau = 0.05``);
- :func:`audio_to_text`: the zero-shot scores of held-out sounds against the captions; :func:`experiment`: bind a
  head and measure Recall@K (``python -m videollm.anyany emergent`` prints the lab's calibration table);
- :func:`held_out_picks`: what the grader computes, in its own process, from the weights a student's loop trained
  (on features turned by a :func:`rotation` whose seed only the hidden test and the grader know).

Lecture: `lectures/07_next_gpt.ipynb` §4.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from videollm.anyany.bind import binding_data, embed, gallery, pretrained, spec as binding_spec, train_audio
from videollm.anyany.infonce import AUDIO_TAU, LogitScale, similarity_logits
from videollm.anyany.retrieval import recall_at_k
from videollm.cache import load_or_train, spec_hash
from videollm.validate import positive_int

#: Bump when the features or the data layout change.
FEATURES_VERSION = 1
CHECKPOINT_NAME = "emergent-data"


@dataclass
class EmergentData:
    """Training pairs and a held-out gallery, as tensors.

    ``features (N, F)`` and ``video (N, D)``: each ``sounds`` clip's sound features and its frozen video embedding;
    ``test_features (M, F)``, the held-out clips'; ``texts`` the ``G`` distinct captions of the held-out clips,
    ``text (G, D)`` their embeddings, ``target (M,)`` int64 the index of each held-out clip's caption.
    """

    features: torch.Tensor
    video: torch.Tensor
    test_features: torch.Tensor
    texts: list[str]
    text: torch.Tensor
    target: torch.Tensor


def sound_features(mel: torch.Tensor) -> torch.Tensor:
    """``(N, T, B)`` log-mel -> ``(N, 2B)``: each bin's mean over time, then its standard deviation."""
    if mel.ndim != 3:
        raise ValueError(f"mel must be (N, T, bins); got {tuple(mel.shape)}")
    return torch.cat([mel.mean(1), mel.std(1)], dim=1)


def _build(train_clips: int, test_clips: int) -> tuple[EmergentData, dict]:
    binding = pretrained(progress=False)
    sounds, test = binding_data("sounds", train_clips), binding_data("test", test_clips)
    features, test_features = sound_features(sounds.mel), sound_features(test.mel)
    mean, std = features.mean(0), features.std(0) + 1e-6       # standardised with the training clips' statistics
    texts, target = gallery(test.labels)
    data = EmergentData(features=(features - mean) / std, video=embed(binding.vision, sounds.video, "cpu", video=True),
                        test_features=(test_features - mean) / std, texts=texts,
                        text=embed(binding.text, texts, "cpu"), target=target)
    return data, {"train_clips": train_clips, "test_clips": test_clips, "gallery": len(texts)}


def _save(data: EmergentData, folder: Path) -> None:
    torch.save(vars(data), Path(folder) / "data.pt")


def _load(folder: Path) -> EmergentData:
    return EmergentData(**torch.load(Path(folder) / "data.pt", weights_only=True))


def emergent_data(train_clips: int = 2000, test_clips: int = 500) -> EmergentData:
    """The experiment's data (:class:`EmergentData`), from the cache, else computed (about 25 s) and cached.
    The video and text embeddings come from the course's binding models (:func:`videollm.anyany.bind.pretrained`)."""
    spec = {"binding": spec_hash(binding_spec()), "version": FEATURES_VERSION, "train_clips": train_clips,
            "test_clips": test_clips}
    data, _ = load_or_train(CHECKPOINT_NAME, spec, lambda: _build(train_clips, test_clips), _save, _load)
    return data


def make_head(d_in: int, d_out: int, seed: int = 0, width: int = 256) -> nn.Sequential:
    """``(B, d_in)`` features -> ``(B, d_out)`` embeddings: Linear, GELU, Linear; initialised from ``seed`` (the
    caller's random state untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(d_in, width), nn.GELU(), nn.Linear(width, d_out))


def train_audio_head(head: nn.Module, features: torch.Tensor, video: torch.Tensor, steps: int = 300,
                     batch_size: int = 256, lr: float = 1e-3, tau: float = AUDIO_TAU, seed: int = 0) -> list[float]:
    """Train ``head`` in place so that ``head(features[i])`` matches the frozen ``video[i]``: symmetric InfoNCE at
    the fixed temperature ``tau`` (logit scale ``1 / tau``), AdamW (``lr``, weight decay 0.01), batches from
    shuffled epochs drawn with a generator seeded by ``seed`` (the caller's random state untouched). The targets
    get no gradient. Leaves ``head`` in eval mode; returns each step's loss (before its update).

    ``features`` ``(N, F)`` and ``video`` ``(N, D)`` pair clip ``i`` with clip ``i``; ``2 <= batch_size <= N``."""
    for name, x in (("features", features), ("video", video)):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 2:
            raise ValueError(f"{name} must be a 2-D floating-point tensor; got {getattr(x, 'shape', type(x))}")
    if len(features) != len(video):
        raise ValueError(f"features and video must pair the same clips; got {len(features)} and {len(video)} rows")
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (the other pairs are the negatives); got {batch_size}")
    if batch_size > len(features):
        raise ValueError(f"batch_size {batch_size} is larger than the {len(features)} clips")
    scale = LogitScale(tau, learnable=False).to(features.device)  # checks tau: a positive, finite temperature
    head.train()
    losses = train_audio(head, scale, features, video.detach(), steps, batch_size, lr, seed)
    head.eval()
    return losses


@torch.no_grad()
def audio_to_text(head: nn.Module, data: EmergentData) -> torch.Tensor:
    """``(M, G)`` cosine similarities of the held-out sounds' embeddings to the captions' (zero-shot retrieval)."""
    return similarity_logits(head(data.test_features), data.text, 1.0)


def rotation(seed: int, dim: int) -> torch.Tensor:
    """A ``(dim, dim)`` float32 orthogonal matrix drawn from ``seed`` (QR of a Gaussian matrix, in float64)."""
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64)).Q.float()


def held_out_picks(weights: list, rotation_seed: int) -> list[int]:
    """The caption each held-out sound retrieves, from a head's weights alone: the grader's side of lab 07's Task 4.

    ``weights``: ``[W1 (width, F), b1 (width,), W2 (D, width), b2 (D,)]`` (arrays or tensors), the state of a
    :func:`make_head`-shaped head trained on sound features turned by :func:`rotation` ``(rotation_seed, F)``. Runs
    the head on the held-out features turned the same way, in this process, and returns the index of the
    best-scoring caption per sound. Raises ValueError for weights of any other shape."""
    if not isinstance(weights, (list, tuple)) or len(weights) != 4:
        raise ValueError("expected the 4 weight tensors of two Linear layers")
    weights = [w.detach().to("cpu", torch.float32) if isinstance(w, torch.Tensor)
               else torch.from_numpy(np.array(w, dtype=np.float32)) for w in weights]  # a recorded array: a copy
    data = emergent_data()
    n_features, n_out = data.features.shape[1], data.video.shape[1]
    w1, b1, w2, b2 = weights
    width = w1.shape[0] if w1.ndim == 2 else -1
    if (w1.shape, b1.shape, w2.shape, b2.shape) != ((width, n_features), (width,), (n_out, width), (n_out,)):
        raise ValueError("the weights are not those of a Linear-GELU-Linear head "
                         f"({n_features} -> width -> {n_out})")
    if not all(torch.isfinite(w).all() for w in weights):
        raise ValueError("the weights hold NaN or infinite values")
    features = data.test_features @ rotation(int(rotation_seed), n_features)
    audio = torch.nn.functional.gelu(features @ w1.T + b1) @ w2.T + b2
    return similarity_logits(audio, data.text, 1.0).argmax(1).tolist()


def experiment(data: EmergentData, seed: int = 0, steps: int = 300, shuffle: bool = False,
               ks=(1, 5)) -> dict[int, float]:
    """Recall@K of audio-to-text retrieval after binding a head from ``seed`` (its initialisation and its batches)
    to the video embeddings; ``shuffle`` pairs each sound with another clip's video (the control)."""
    video = data.video
    if shuffle:
        video = video[torch.randperm(len(video), generator=torch.Generator().manual_seed(seed + 1))]
    head = make_head(data.features.shape[1], data.video.shape[1], seed)
    train_audio_head(head, data.features, video, steps=steps, seed=seed)
    return recall_at_k(audio_to_text(head, data), data.target, ks)


__all__ = ["CHECKPOINT_NAME", "EmergentData", "audio_to_text", "emergent_data", "experiment", "held_out_picks",
           "make_head", "rotation", "sound_features", "train_audio_head"]
