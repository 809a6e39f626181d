"""Unit 08 — VideoPoet's audio tokens: a clip's sound track as residual-VQ codes of 4 levels, written level-major.

**One idea.** VideoPoet's audio tokenizer is SoundStream: 2.125 s of sound become 106 latent frames, each quantised
by a *residual* VQ of 4 levels x 1,024 codes. Level 1 picks the nearest code to the frame, level 2 the nearest code
to what level 1 left over, and so on: every level refines the one before, so the first levels alone already give a
coarse track (``../shared/reference/08-videopoet.md`` §6). The ids are written level-major with a vocabulary of their
own per level (:func:`videollm.videopoet.tokens.level_major`).

The course keeps the residual VQ, the 4 levels and the level-major ids, and replaces SoundStream's learned
convolutional encoder by a fixed spectrum, which is enough for the world's notes (:mod:`videollm.world.voices`):

- **frames at 8 Hz, the video's rate**: the 34,000 samples (2.125 s at 16 kHz) are cut into 17 frames of 125 ms,
  frame ``f`` lying under video frame ``f``, so a note's onset frame is its token's frame (8 Hz is enough: the
  unquantised features give every held-out note's pitch at its onset frame; 16 Hz would double the tokens for
  nothing the notes need). Each frame is Hann-windowed and its power spectrum pooled by 40 triangular filters on a
  log-frequency axis, 8 per octave, centred on 220 Hz x 2^(k / 8), k = -3 .. 36 (170 Hz to 5 kHz: every colour's
  fundamental sits on a filter's centre, two filters apart, and every harmonic up to the fifth is inside). A tone
  of amplitude ``A`` reads 0.9 ``A`` to ``A`` on a centre (about 0.75 ``A`` halfway between two); the feature is
  ``log(A + 0.01)``, a floor below the quietest partial of any note (0.035);
- **residual VQ** (``vector_quantize_pytorch.ResidualVQ``, the field's library) of 4 levels x 128 codes on the
  features standardised with the training frames' mean (per bin) and spread (one number), codes learnt by k-means
  initialisation and EMA updates (no gradients: there is nothing else to learn), dead codes restarted;
- **17 frames x 4 levels = 68 tokens** per clip, ids in ``[0, 512)`` (VideoPoet: 106 x 4 = 424 in ``[0, 4096)``).

Why 128 codes per level: the track is made of a few dozen kinds of frames (silence, 32 notes of 8 pitches x 4
timbres, their 25 ms tails in the next frame) and their mixtures when two objects sound together; 64 codes cannot
give level 1 one code per kind (it then misses 1 note in 20), and 256 gain under 2 dB per level for over twice the
training time and a vocabulary twice as large for the language model to learn.

Measured on 300 held-out clips (:func:`evaluate`, stored in the checkpoint's meta, printed by ``info``): the
features' relative error with 1, 2, 3, 4 levels (the residual levels refine: the lecture's figure), and **note
recovery**: at every frame where notes start, are the starting notes' pitches the loudest of the 8 colour pitches
in the decoded features? The same measure on the unquantised features is the ceiling.

Shapes: sound ``(N, 34000)`` float in [-1, 1]; features ``(N, 17, 40)`` float32; codes ``(N, 17, 4)`` int64 in
``[0, 128)``; tokens ``(N, 68)`` int64 in ``[0, 512)``.

Command line (``make data`` runs the first; training takes about half a minute on one CPU thread)::

    $ python -m videollm.videopoet.audio build [--force] [--device cuda]
    $ python -m videollm.videopoet.audio commit     # copy it to data/weights/, committed with the course
    $ python -m videollm.videopoet.audio info       # token arithmetic, and the held-out figures if built

Lecture: `lectures/08_videopoet.ipynb` §3.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm
from vector_quantize_pytorch import ResidualVQ

from videollm.cache import cached_meta, cached_path, commit_command, load_or_train, load_weights, save_weights
from videollm.videopoet.data import FPS, FRAMES, clips, sounds
from videollm.videopoet.tokens import from_level_major, level_major
from videollm.world.audio import SAMPLE_RATE
from videollm.world.shapes import COLOR_NAMES, WORLD_VERSION
from videollm.world.voices import PITCHES, SoundingClip, object_name

#: Bump when the features, the quantiser or the training recipe change what a config trains to.
MODEL_VERSION = 1
#: The checkpoint's folder name, before its config hash (data/cache/checkpoints/, data/weights/).
CHECKPOINT_NAME = "audio_tokenizer"
#: Samples of one clip's track: 2.125 s at 16 kHz.
SAMPLES = round(FRAMES / FPS * SAMPLE_RATE)
#: The 8 colours' fundamentals (Hz), in :data:`~videollm.world.shapes.COLOR_NAMES` order.
PITCH_HZ = tuple(PITCHES[name] for name in COLOR_NAMES)
BUILD = "python -m videollm.videopoet.audio build"


@dataclass(frozen=True)
class AudioConfig:
    """Everything that decides the trained tokenizer (its hash names the checkpoint); VideoPoet's SoundStream in
    comments."""

    frame_rate: int = 8                      # latent frames per second, the video's rate (SoundStream: 50)
    bins: int = 40                           # feature size D: log-frequency filters
    bins_per_octave: int = 8
    lowest_hz: float = 220 * 2 ** (-3 / 8)   # centre of filter 0: 220 Hz (the lowest pitch) sits on filter 3
    n_fft: int = 4096                        # each 2,000-sample frame zero-padded (3.9 Hz between FFT bins)
    floor: float = 0.01                      # log(amplitude + floor)
    levels: int = 4                          # residual VQ levels (4)
    codebook_size: int = 128                 # codes per level (1,024)
    kmeans_iters: int = 10                   # k-means on the first batch starts each level's codes
    decay: float = 0.8                       # EMA decay of the codes (the library's default)
    dead_code_threshold: float = 1.0         # a code whose EMA count falls below this restarts on a batch frame
    steps: int = 500
    batch_size: int = 8192                   # frames per EMA step (34,000 training frames in all)
    train_clips: int = 2000
    heldout_clips: int = 300
    seed: int = 0

    @property
    def frames(self) -> int:
        """Latent frames per clip (17 at 8 Hz)."""
        return round(FRAMES / FPS * self.frame_rate)

    @property
    def hop(self) -> int:
        """Samples per latent frame (2,000 at 8 Hz)."""
        return SAMPLE_RATE // self.frame_rate

    @property
    def tokens_per_clip(self) -> int:
        """``frames * levels`` (68)."""
        return self.frames * self.levels

    @property
    def vocab_size(self) -> int:
        """``levels * codebook_size`` audio ids (512)."""
        return self.levels * self.codebook_size


def spec(config: AudioConfig = AudioConfig()) -> dict:
    """What decides the trained codes: the config, this module's version and the synthetic world's version (its
    hash keys the checkpoint)."""
    return {"config": config, "model_version": MODEL_VERSION, "world_version": WORLD_VERSION}


# ----------------------------------------------------------------------------------------------------------------
# The fixed features


def filterbank(config: AudioConfig = AudioConfig(), device=None) -> torch.Tensor:
    """``(bins, n_fft // 2 + 1)`` float32: triangular filters over the FFT bins, filter ``k`` centred on
    ``lowest_hz * 2^(k / bins_per_octave)`` and reaching the centres of its two neighbours."""
    k = torch.arange(-1, config.bins + 1, dtype=torch.float64)
    centres = config.lowest_hz * 2 ** (k / config.bins_per_octave)               # filters -1 .. bins
    hz = torch.arange(config.n_fft // 2 + 1, dtype=torch.float64) * SAMPLE_RATE / config.n_fft
    low, mid, high = centres[:-2, None], centres[1:-1, None], centres[2:, None]
    rise, fall = (hz - low) / (mid - low), (high - hz) / (high - mid)
    return torch.minimum(rise, fall).clamp(min=0).to(device=device, dtype=torch.float32)


def pitch_bins(config: AudioConfig = AudioConfig()) -> torch.Tensor:
    """``(8,)`` int64: the filter nearest each colour's fundamental (:data:`PITCH_HZ`; 3, 5, ..., 17 by default)."""
    where = [round(config.bins_per_octave * math.log2(hz / config.lowest_hz)) for hz in PITCH_HZ]
    if min(where) < 0 or max(where) >= config.bins:
        raise ValueError(f"the filters ({config.lowest_hz:.1f} Hz, {config.bins} bins at {config.bins_per_octave} per "
                         f"octave) do not reach every colour's pitch {PITCH_HZ}: lower lowest_hz or add bins")
    return torch.tensor(where)


def check_sound(sound: torch.Tensor, samples: int | None = SAMPLES) -> None:
    """Raise a ``ValueError`` naming the fix unless ``sound`` is a ``(N, samples)`` float tensor."""
    if not isinstance(sound, torch.Tensor):
        raise ValueError(f"sound must be a torch.Tensor (N, {samples}); got {type(sound).__name__}: wrap it with "
                         "torch.as_tensor")
    if sound.ndim != 2:
        fix = "add the batch axis: sound[None]" if sound.ndim == 1 else "one track per row, (N, S)"
        raise ValueError(f"sound must be (N, S), a batch of mono tracks; got shape {tuple(sound.shape)}: {fix}")
    if not sound.dtype.is_floating_point:
        raise ValueError(f"sound must be float samples in [-1, 1]; got {sound.dtype}: for 16-bit PCM divide by 32768")
    if samples is not None and sound.shape[1] != samples:
        raise ValueError(f"sound must hold {samples} samples per track ({samples / SAMPLE_RATE} s at {SAMPLE_RATE} "
                         f"Hz, videollm.videopoet.data.sounds); got {sound.shape[1]}: cut or zero-pad it to {samples}")


def spectral_frames(sound: torch.Tensor, config: AudioConfig = AudioConfig()) -> torch.Tensor:
    """The fixed features of ``sound`` ``(N, S)`` (``S`` a multiple of ``config.hop``): ``(N, S // hop, bins)``
    float32, on ``sound``'s device.

    Frame ``f`` is samples ``f * hop .. (f + 1) * hop - 1`` under a Hann window, zero-padded to ``n_fft``; its power
    spectrum, scaled so that the positive frequencies of a sine of amplitude ``A`` add up to ``A^2``, is pooled by
    :func:`filterbank`; the feature is ``log(sqrt(pooled) + floor)``.
    """
    check_sound(sound, samples=None)
    if sound.shape[1] % config.hop or sound.shape[1] == 0:
        raise ValueError(f"sound must be a whole number of {config.hop}-sample frames ({config.frame_rate} Hz at "
                         f"{SAMPLE_RATE} Hz); got {sound.shape[1]} samples")
    frames = sound.float().unflatten(1, (-1, config.hop))                               # (N, F, hop)
    window = torch.hann_window(config.hop, periodic=False, device=sound.device)
    power = torch.fft.rfft(frames * window, n=config.n_fft).abs().square()               # (N, F, n_fft / 2 + 1)
    power = power * (4 / (config.n_fft * window.square().sum()))      # Parseval: a sine of amplitude A sums to A^2
    pooled = power @ filterbank(config, sound.device).T                                  # (N, F, bins)
    return torch.log(pooled.sqrt() + config.floor)


# ----------------------------------------------------------------------------------------------------------------
# The tokenizer


class AudioTokenizer(nn.Module):
    """Sound track -> :func:`spectral_frames` -> standardised -> ``ResidualVQ`` codes -> level-major ids.

    Attributes:
        config: the :class:`AudioConfig`.
        rvq: the ``vector_quantize_pytorch.ResidualVQ`` (``levels`` x ``codebook_size`` codes of ``bins`` numbers).
        mean, scale: buffers ``(bins,)`` and ``()``: the training frames' per-bin mean and overall standard
            deviation; the RVQ quantises ``(features - mean) / scale``.
    """

    def __init__(self, config: AudioConfig = AudioConfig()):
        super().__init__()
        self.config = config
        self.rvq = ResidualVQ(dim=config.bins, num_quantizers=config.levels, codebook_size=config.codebook_size,
                              kmeans_init=True, kmeans_iters=config.kmeans_iters, decay=config.decay,
                              threshold_ema_dead_code=config.dead_code_threshold)
        self.register_buffer("mean", torch.zeros(config.bins))
        self.register_buffer("scale", torch.ones(()))

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def levels(self) -> int:
        """Residual levels per frame (4)."""
        return self.config.levels

    @property
    def codebook_size(self) -> int:
        """Codes per level (128)."""
        return self.config.codebook_size

    @property
    def frames(self) -> int:
        """Latent frames per clip (17)."""
        return self.config.frames

    @property
    def vocab_size(self) -> int:
        """Audio ids, ``levels * codebook_size`` (512)."""
        return self.config.vocab_size

    def features(self, sound: torch.Tensor) -> torch.Tensor:
        """``(N, 34000)`` float -> ``(N, 17, 40)`` float32 :func:`spectral_frames`, on the tokenizer's device."""
        check_sound(sound)
        return spectral_frames(sound.to(self.device), self.config)

    def _quantise(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The RVQ on standardised ``features``: ``(codes (N, F, L), quantised features (N, F, D))``. The codes
        never change here (the RVQ runs in eval mode, which neither updates nor restarts them)."""
        training = self.rvq.training
        self.rvq.eval()
        try:
            with torch.no_grad():
                quantised, codes, _ = self.rvq((features - self.mean) / self.scale)
        finally:
            self.rvq.train(training)
        return codes, quantised * self.scale + self.mean

    def encode(self, sound: torch.Tensor) -> torch.Tensor:
        """``(N, 34000)`` -> codes ``(N, 17, levels)`` int64 in ``[0, codebook_size)``: level ``l`` is the code
        nearest to what levels ``0 .. l - 1`` left of the frame."""
        return self._quantise(self.features(sound))[0]

    def tokens(self, sound: torch.Tensor) -> torch.Tensor:
        """``(N, 34000)`` -> ``(N, levels * 17)`` int64 level-major ids in ``[0, levels * codebook_size)``: every
        frame's level-0 code, then every frame's level-1 code + ``codebook_size``, ..."""
        return level_major(self.encode(sound), self.config.codebook_size)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``(N, F, l)`` (the first ``l`` of the ``levels`` levels, ``1 <= l <= levels``) -> features
        ``(N, F, bins)`` float32: the sum of the ``l`` levels' codes, un-standardised. Fewer levels give a coarser
        reconstruction, as SoundStream's bitrate scalability does."""
        L, K = self.config.levels, self.config.codebook_size
        if not isinstance(codes, torch.Tensor) or codes.ndim != 3:
            shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise ValueError(f"codes must be a (N, F, levels) tensor, as encode returns; got {shape}")
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"codes must be integers (int64, as encode returns); got {codes.dtype}")
        if not 1 <= codes.shape[-1] <= L:
            raise ValueError(f"codes must hold 1 to {L} levels in the last axis (the first levels, in order); got "
                             f"{codes.shape[-1]}")
        if bool(((codes < 0) | (codes >= K)).any()):
            raise ValueError(f"codes must lie in [0, {K}); got {int(codes.min())} .. {int(codes.max())}: level-major "
                             "ids go through from_level_major first (or use decode_tokens)")
        books = self.rvq.codebooks.detach()                                  # (L, K, D)
        levels = torch.arange(codes.shape[-1], device=self.device)
        picked = books[levels, codes.to(self.device)]                        # (N, F, l, D)
        return picked.sum(-2) * self.scale + self.mean

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Level-major ids ``(N, levels * F)`` -> features ``(N, F, bins)`` (:meth:`decode` of
        :func:`~videollm.videopoet.tokens.from_level_major`)."""
        return self.decode(from_level_major(tokens, self.config.levels, self.config.codebook_size))

    def forward(self, sound: torch.Tensor) -> torch.Tensor:
        """:meth:`tokens`."""
        return self.tokens(sound)


def build_tokenizer(config: AudioConfig = AudioConfig(), device="cpu") -> AudioTokenizer:
    """An untrained :class:`AudioTokenizer` (standardisation 0 / 1, codes not yet initialised)."""
    pitch_bins(config)  # the filters must reach every pitch
    return AudioTokenizer(config).to(device)


# ----------------------------------------------------------------------------------------------------------------
# Training


def train(model: AudioTokenizer, features: torch.Tensor, progress: bool = False) -> dict[str, list]:
    """Fit ``model`` in place to training ``features`` ``(N, F, bins)``; return the history.

    Sets the standardisation from ``features``, then runs ``config.steps`` steps of the RVQ in training mode on
    ``config.batch_size`` frames drawn at random: the first step starts each level's codes by k-means on its
    residuals, every step moves each used code towards the mean of its frames (EMA) and restarts dead codes. All
    randomness comes from ``config.seed`` (the caller's global random state is left as it was).

    Returns:
        lists, one entry per step: ``step``, ``relative_error`` (the batch's squared error after all levels over
        its variance) and ``usage`` (per level, the share of codes the batch used).
    """
    config = model.config
    if features.ndim != 3 or features.shape[-1] != config.bins:
        raise ValueError(f"features must be (N, F, {config.bins}) spectral_frames; got {tuple(features.shape)}")
    device = model.device
    frames = features.reshape(-1, config.bins).to(device)
    model.mean.copy_(frames.mean(0))
    model.scale.copy_((frames - model.mean).square().mean().sqrt())
    data = (frames - model.mean) / model.scale
    history: dict[str, list] = {"step": [], "relative_error": [], "usage": []}
    g = torch.Generator().manual_seed(config.seed)
    devices = [device] if device.type == "cuda" else []
    model.rvq.train()
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(config.seed)  # k-means starts and dead-code restarts draw from the global generator
        for step in tqdm(range(1, config.steps + 1), disable=not progress, desc="training audio RVQ", leave=False):
            batch = data[torch.randint(len(data), (config.batch_size,), generator=g).to(device)][None]
            quantised, codes, _ = model.rvq(batch)
            error = (quantised - batch).square().mean() / batch.var()
            used = [codes[..., level].unique().numel() / config.codebook_size for level in range(config.levels)]
            history["step"].append(step)
            history["relative_error"].append(round(float(error), 5))
            history["usage"].append([round(u, 4) for u in used])
    model.rvq.eval()
    return history


# ----------------------------------------------------------------------------------------------------------------
# Held-out figures


def note_targets(batch: Sequence[SoundingClip], config: AudioConfig = AudioConfig()) -> torch.Tensor:
    """``(N, frames, 8)`` bool: whether a note of colour ``c`` (:data:`PITCH_HZ` order) starts in latent frame
    ``f`` of clip ``n`` (its object's first video frame or a bounce, :attr:`SoundingClip.onsets`)."""
    where = [(n, int(onset * config.frame_rate // FPS), COLOR_NAMES.index(object_name(obj).split()[0]))
             for n, clip in enumerate(batch) for obj, onsets in zip(clip.objects, clip.onsets) for onset in onsets]
    targets = torch.zeros(len(batch), config.frames, len(PITCH_HZ), dtype=torch.bool)
    if where:
        targets[tuple(torch.tensor(where).T)] = True
    return targets


def note_recovery(features: torch.Tensor, targets: torch.Tensor, bins: torch.Tensor) -> tuple[float, float]:
    """``(recovered, chance)``: the share of starting notes (``targets`` entries) whose pitch is among the ``m``
    loudest of the 8 pitches of its frame, ``m`` the number of notes starting there, read from ``features`` at the
    pitches' filters ``bins``; and the same share for pitches ranked at random (``m / 8`` per note, averaged)."""
    if features.shape[:-1] != targets.shape[:-1] or targets.shape[-1] != len(bins):
        raise ValueError(f"features (N, F, D) and targets (N, F, {len(bins)}) must share N, F; got "
                         f"{tuple(features.shape)} and {tuple(targets.shape)}")
    targets = targets.to(features.device)
    loudness = features[..., bins.to(features.device)]                                   # (N, F, 8)
    louder = (loudness[..., None, :] > loudness[..., :, None]).sum(-1)                   # pitches louder than each
    starting = targets.sum(-1, keepdim=True)                                            # (N, F, 1)
    notes = int(targets.sum())
    if notes == 0:
        raise ValueError("no note starts in these clips: nothing to recover")
    recovered = ((louder < starting) & targets).sum() / notes
    chance = (starting / len(bins)).expand_as(targets)[targets].mean()
    return float(recovered), float(chance)


def evaluate(model: AudioTokenizer, batch: Sequence[SoundingClip]) -> dict:
    """The held-out figures of ``model`` on ``batch``.

    Returns:
        ``levels`` ``[1, .., L]``; for each, ``relative_error`` (squared error of the features decoded from the
        first ``l`` levels, over their squared distance from the training mean: 1.0 is "no tokens", the mean
        frame) and ``snr_db`` (``-10 log10`` of it), and ``note_recovery`` (:func:`note_recovery` of the decoded
        features); ``ceiling`` (note recovery of the unquantised features), ``chance``, ``clips`` and ``notes``.
    """
    features = model.features(sounds(list(batch)))
    codes = model._quantise(features)[0]
    targets, bins = note_targets(batch, model.config), pitch_bins(model.config)
    spread = (features - model.mean).square().mean()
    out: dict = {"levels": [], "relative_error": [], "snr_db": [], "note_recovery": []}
    for level in range(1, model.config.levels + 1):
        decoded = model.decode(codes[..., :level])
        relative = float((decoded - features).square().mean() / spread)
        out["levels"].append(level)
        out["relative_error"].append(round(relative, 5))
        out["snr_db"].append(round(-10 * math.log10(relative), 2))
        out["note_recovery"].append(round(note_recovery(decoded, targets, bins)[0], 4))
    ceiling, chance = note_recovery(features, targets, bins)
    return {**out, "ceiling": round(ceiling, 4), "chance": round(chance, 4), "clips": len(batch),
            "notes": int(targets.sum())}


# ----------------------------------------------------------------------------------------------------------------
# The course's checkpoint


def train_config(config: AudioConfig = AudioConfig(), device="cpu", progress: bool = False
                 ) -> tuple[AudioTokenizer, dict]:
    """Build and train the tokenizer of ``config`` on its training clips, and measure it on held-out clips:
    ``(tokenizer, info)`` with ``history`` and ``heldout`` (:func:`evaluate`)."""
    tokenizer = build_tokenizer(config, device)
    features = tokenizer.features(sounds(clips("train", config.train_clips)))
    history = train(tokenizer, features, progress=progress)
    heldout = evaluate(tokenizer, clips("heldout", config.heldout_clips))
    return tokenizer, {"history": history, "heldout": heldout, "device": str(device)}


def pretrained(config: AudioConfig = AudioConfig(), device="cpu", retrain: bool = False,
               progress: bool = False) -> AudioTokenizer:
    """The course's trained audio tokenizer: loaded if a checkpoint of ``config`` is cached or committed
    (:func:`videollm.cache.load_or_train`), else trained (about half a minute on one CPU thread) and cached.

    Returns:
        the tokenizer in eval mode on ``device``, with ``tokenizer.meta``: ``heldout`` (:func:`evaluate`),
        ``history``, ``seconds`` (training time), ``path``, ``cached``.
    """
    def fit():
        return train_config(config, device, progress=progress)

    def load(folder: Path) -> AudioTokenizer:
        return load_weights(AudioTokenizer(config), folder, device)

    tokenizer, tokenizer.meta = load_or_train(CHECKPOINT_NAME, spec(config), fit, save_weights, load,
                                              retrain=retrain)
    return tokenizer.eval()


def report(meta: dict) -> str:
    """The held-out figures of a checkpoint's ``meta`` as a few lines of text."""
    held = meta["heldout"]
    rows = [f"  {level} level{'s' if level > 1 else ' '}: relative error {err:.3f} ({snr:5.2f} dB), note recovery "
            f"{rec:.1%}" for level, err, snr, rec in zip(held["levels"], held["relative_error"], held["snr_db"],
                                                          held["note_recovery"])]
    return "\n".join([f"held-out ({held['clips']} clips, {held['notes']} notes):", *rows,
                      f"  unquantised features: note recovery {held['ceiling']:.1%} (the ceiling); "
                      f"chance {held['chance']:.1%}"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videollm.videopoet.audio",
                                     description="The course's audio tokenizer, a 4-level residual VQ (unit 08).")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="train and cache the tokenizer unless a matching checkpoint exists")
    build.add_argument("--force", action="store_true", help="train again even if a checkpoint matches")
    build.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    commands.add_parser("commit", help="copy the cached checkpoint to data/weights/ (to commit with the course)")
    commands.add_parser("info", help="the token arithmetic, where the checkpoint is, and its held-out figures")
    args = parser.parse_args(argv)
    config = AudioConfig()
    if args.command == "commit":
        return commit_command(CHECKPOINT_NAME, spec(config), BUILD)
    if args.command == "info":
        print("VideoPoet: 2.125 s -> 106 frames x 4 levels = 424 tokens of 4 x 1024 = 4096 ids (SoundStream)")
        print(f"course:    2.125 s -> {config.frames} frames x {config.levels} levels = {config.tokens_per_clip} "
              f"tokens of {config.levels} x {config.codebook_size} = {config.vocab_size} ids "
              f"({config.bins} log-frequency bins at {config.frame_rate} Hz)")
        meta, path = cached_meta(CHECKPOINT_NAME, spec(config)), cached_path(CHECKPOINT_NAME, spec(config))
        if meta is None:
            print(f"checkpoint: absent (`{BUILD}`)")
            return 0
        print(f"checkpoint: {path} (trained in {meta['seconds']:.0f} s on {meta.get('device', '?')})")
        print(report(meta))
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    tokenizer = pretrained(config, device=args.device, retrain=args.force, progress=True)
    state = "cached" if tokenizer.meta["cached"] else f"trained in {tokenizer.meta['seconds']:.0f} s"
    print(f"{tokenizer.meta['path']} ({state})")
    print(report(tokenizer.meta))
    return 0


__all__ = ["AudioConfig", "AudioTokenizer", "MODEL_VERSION", "PITCH_HZ", "SAMPLES", "build_tokenizer",
           "check_sound", "evaluate", "filterbank", "main", "note_recovery", "note_targets", "pitch_bins",
           "pretrained", "report", "spec", "spectral_frames", "train", "train_config"]


if __name__ == "__main__":
    sys.exit(main())
