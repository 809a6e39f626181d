"""Unit 07 — NExT-GPT's real decoders and LLM behind the course's interface, switched on by one argument.

NExT-GPT's output projectors learn what each frozen decoder's own text encoder makes of a caption, the decoder's
*conditioning*:

- image: Stable Diffusion v1.5 (``StableDiffusionPipeline``); its CLIP text states, ``(77, 768)``; pictures
  ``(B, 3, H, W)`` uint8;
- audio: AudioLDM (``AudioLDMPipeline``); its CLAP text embedding, pooled and l2-normalised, ``(1, 512)``; 16 kHz
  waveforms ``(B, samples)`` float32;
- video: ZeroScope v2 (``TextToVideoSDPipeline``); its CLIP text states, ``(77, 1024)``; clips ``(B, T, 3, H, W)``
  uint8.

:func:`load_decoder` loads one (a hub id such as :data:`CHECKPOINTS` lists, or a local folder of
``save_pretrained`` output) and gives it the calls the course's pipeline makes of a decoder:

- ``conditioning(captions)``: the target of the output projector's L2 loss, ``(B, L, width)`` (``L = 1`` for audio);
- ``empty``: the empty caption's conditioning, the unconditional branch of classifier-free guidance;
- ``sample(cond, empty)``: media drawn from a (projected) conditioning.

``NextGPT(decoders={"image": load_decoder("image"), ...})`` sizes its output projectors from them and trains them
against their conditioning (:mod:`videollm.anyany.nextgpt`). :func:`load_llm` loads the LLM, Vicuna, as
``transformers``' ``LlamaForCausalLM`` with its tokenizer, for ``NextGPT(llm=load_llm())``; LoRA is added by
``peft`` as for the course's LLM (:func:`videollm.anyany.nextgpt.add_lora`).

Not loadable here: ImageBind. Its vision tower (images, and video as 2-frame clips, through one ViT-H whose patch
embedding is a Conv3d) and its text tower started from OpenCLIP ViT-H, but its released weights, audio tower
included, load only with the ``imagebind`` package, so the course's binding encoders stand in for it. Nor do
NExT-GPT's trained projectors and LoRA, in its repository's own format: a real NExT-GPT built here starts with
untrained projectors. The LLM is the new code's Vicuna-7B v1.5 (the paper's code used v0, a delta on LLaMA's
weights); the decoders are the paper code's (the new code's README lists Stable Diffusion 2).

Nothing downloads at run time: a hub id is read from the local Hugging Face cache only (``local_files_only``;
download it once with ``hf download <id>``). The tests load tiny pipelines saved to folders, through the same
``from_pretrained``. A pipeline runs in float32 unless ``dtype`` says otherwise (on a GPU, ``torch.float16`` halves
its memory). AudioLDM's and ZeroScope's pipelines are among ``diffusers``' deprecated pipelines (0.42): they still
load and run, but may leave a later release.

Lecture: `lectures/07_next_gpt.ipynb` §6.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

#: NExT-GPT's decoders (its code names ``runwayml/stable-diffusion-v1-5``, since moved to the image id here).
CHECKPOINTS = {"image": "stable-diffusion-v1-5/stable-diffusion-v1-5", "audio": "cvssp/audioldm-l-full",
               "video": "cerspense/zeroscope_v2_576w"}
#: NExT-GPT's LLM as its README names it now (its first release used Vicuna-7B v0, a delta on LLaMA's weights).
LLM_CHECKPOINT = "lmsys/vicuna-7b-v1.5"
#: The ``diffusers`` pipeline class each modality's checkpoint must hold.
PIPELINES = {"image": "StableDiffusionPipeline", "audio": "AudioLDMPipeline", "video": "TextToVideoSDPipeline"}


class RealDecoder:
    """A ``diffusers`` text-to-media pipeline seen as a NExT-GPT decoder (module docstring)."""

    modality = ""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    @property
    def device(self) -> torch.device:
        return self.pipeline.unet.device

    def _encode(self, captions: list[str]) -> torch.Tensor:
        """Stable Diffusion's text encoder (ZeroScope's pipeline has the same ``encode_prompt``): ``(B, L, width)``."""
        return self.pipeline.encode_prompt(captions, self.device, 1, False)[0]

    @torch.no_grad()
    def conditioning(self, captions: list[str]) -> torch.Tensor:
        """``(B, L, width)``: the pipeline's own text encoder on ``captions`` (module docstring's table)."""
        if isinstance(captions, str) or not captions or not all(isinstance(c, str) for c in captions):
            raise ValueError("captions must be a non-empty list of strings")
        return self._encode(list(captions))

    @property
    def empty(self) -> torch.Tensor:
        """``(1, L, width)``: the empty caption's conditioning."""
        return self.conditioning([""])

    def _checked(self, cond: torch.Tensor, empty: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``cond`` and ``empty`` (one per row) on the pipeline's device and dtype, after checking their shapes."""
        empty = self.empty if empty is None else empty
        expected = tuple(empty.shape[1:])
        if cond.ndim != 3 or tuple(cond.shape[1:]) != expected:
            raise ValueError(f"cond must be (B, {expected[0]}, {expected[1]}), this {self.modality} decoder's "
                             f"conditioning; got {tuple(cond.shape)} (is the output projector built for another "
                             "decoder?)")
        if empty.ndim != 3 or len(empty) not in (1, len(cond)):
            raise ValueError(f"empty must be (1, L, width) or one per row of cond; got {tuple(empty.shape)}")
        dtype = self.pipeline.unet.dtype
        return cond.to(self.device, dtype), empty.expand(len(cond), -1, -1).to(self.device, dtype)

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(self.device).manual_seed(seed)


def _to_uint8(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels.float().clamp(0, 1) * 255).round().to(torch.uint8)


class RealImageDecoder(RealDecoder):
    """Stable Diffusion: pictures from a ``(B, 77, 768)`` conditioning."""

    modality = "image"

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, empty: torch.Tensor | None = None, guidance: float = 7.5, steps: int = 25,
               seed: int = 0) -> torch.Tensor:
        """``(B, 3, H, W)`` uint8 pictures for ``cond`` ``(B, L, width)``: ``steps`` steps of the pipeline's
        scheduler with classifier-free guidance against ``empty`` (default: the empty caption's conditioning)."""
        cond, empty = self._checked(cond, empty)
        images = self.pipeline(prompt_embeds=cond, negative_prompt_embeds=empty, guidance_scale=guidance,
                               num_inference_steps=steps, generator=self._generator(seed), output_type="pt").images
        return _to_uint8(images)                                              # from (B, 3, H, W) in [0, 1]


class RealAudioDecoder(RealDecoder):
    """AudioLDM: a 16 kHz waveform from a ``(B, 1, 512)`` conditioning (CLAP's pooled, l2-normalised text
    embedding, which the UNet reads as a class embedding, not through cross-attention)."""

    modality = "audio"

    def _encode(self, captions):
        return self.pipeline._encode_prompt(captions, self.device, 1, False)[:, None]    # (B, D) -> (B, 1, D)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, empty: torch.Tensor | None = None, guidance: float = 2.5, steps: int = 10,
               seconds: float = 5.12, seed: int = 0) -> torch.Tensor:
        """``(B, samples)`` float32 waveforms of ``seconds`` for ``cond`` ``(B, 1, D)`` (AudioLDM's defaults: 10 steps,
        guidance 2.5)."""
        cond, empty = self._checked(cond, empty)
        audio = self.pipeline(prompt_embeds=cond[:, 0], negative_prompt_embeds=empty[:, 0], guidance_scale=guidance,
                              num_inference_steps=steps, audio_length_in_s=seconds, generator=self._generator(seed),
                              output_type="pt").audios
        return audio.float().cpu()


class RealVideoDecoder(RealDecoder):
    """ZeroScope: frames from a ``(B, 77, 1024)`` conditioning."""

    modality = "video"

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, empty: torch.Tensor | None = None, guidance: float = 9.0, steps: int = 25,
               frames: int = 24, height: int = 320, width: int = 576, seed: int = 0) -> torch.Tensor:
        """``(B, frames, 3, height, width)`` uint8 clips for ``cond`` ``(B, L, width)`` (ZeroScope v2 576w's size:
        24 frames of 576 x 320, as NExT-GPT asks for them)."""
        cond, empty = self._checked(cond, empty)
        video = self.pipeline(prompt_embeds=cond, negative_prompt_embeds=empty, guidance_scale=guidance,
                              num_inference_steps=steps, num_frames=frames, height=height, width=width,
                              generator=self._generator(seed), output_type="pt").frames  # (B, T, 3, H, W) in [0, 1]
        return _to_uint8(video)


DECODERS = {"image": RealImageDecoder, "audio": RealAudioDecoder, "video": RealVideoDecoder}


def _source(checkpoint: str | os.PathLike, marker: str, saved_how: str) -> str:
    """``checkpoint`` as ``from_pretrained`` takes it: a hub id ``owner/name`` as is, anything else a folder that
    must hold ``marker`` (what ``saved_how`` writes)."""
    source = str(checkpoint)
    as_path = Path(source).expanduser()
    is_folder = isinstance(checkpoint, os.PathLike) or as_path.exists() or source.startswith((".", "/", "~")) \
        or source.count("/") != 1
    if not is_folder:
        return source
    if not as_path.is_dir():
        raise FileNotFoundError(f"{source} is not a folder (a saved checkpoint) nor a hub id owner/name")
    if not (as_path / marker).exists():
        raise FileNotFoundError(f"{source} holds no {marker}: save the model there with `{saved_how}`")
    return str(as_path)


def _unreadable(checkpoint, source: str, error: Exception) -> Exception:
    """The error for a checkpoint whose config cannot be read: a folder's is broken; a hub id is not cached."""
    if Path(source).is_dir():
        return ValueError(f"{checkpoint!r}: its config cannot be read ({type(error).__name__}: {error})")
    return FileNotFoundError(
        f"{checkpoint!r} is not in the local Hugging Face cache ({type(error).__name__}). Nothing downloads at run "
        f"time: with network, run `HF_HUB_OFFLINE=0 hf download {checkpoint}` once, or pass a folder")


def load_decoder(modality: str, checkpoint: str | os.PathLike | None = None, device="cpu",
                 dtype: torch.dtype | None = None) -> RealDecoder:
    """The ``modality`` decoder (``"image"``, ``"audio"`` or ``"video"``) from ``checkpoint`` (default: NExT-GPT's,
    :data:`CHECKPOINTS`; a hub id in the local cache, or a folder of ``save_pretrained`` output) on ``device`` in
    ``dtype`` (default: float32).

    Raises:
        ValueError: an unknown modality, a checkpoint that holds another kind of pipeline, or a folder whose
            ``model_index.json`` is broken.
        FileNotFoundError: a folder that does not exist, or a hub id that is not in the local cache.
    """
    import diffusers

    if modality not in DECODERS:
        raise ValueError(f"modality must be one of {sorted(DECODERS)}, got {modality!r}")
    checkpoint = CHECKPOINTS[modality] if checkpoint is None else checkpoint
    source = _source(checkpoint, "model_index.json", "pipeline.save_pretrained(folder)")
    try:
        config = diffusers.DiffusionPipeline.load_config(source, local_files_only=True)
    except (OSError, ValueError) as error:
        raise _unreadable(checkpoint, source, error) from None
    kind, wanted = (config.get("_class_name") if isinstance(config, dict) else None), PIPELINES[modality]
    if kind != wanted:
        raise ValueError(f"{checkpoint!r} holds a {kind!r}, not a {wanted} (NExT-GPT's {modality} decoder)")
    pipeline = getattr(diffusers, wanted).from_pretrained(source, dtype=dtype or torch.float32, local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    return DECODERS[modality](pipeline.to(device))


def load_llm(checkpoint: str | os.PathLike = LLM_CHECKPOINT, device="cpu", dtype: torch.dtype | None = None):
    """``(tokenizer, model)``: NExT-GPT's LLM, a ``LlamaForCausalLM`` from ``checkpoint`` (a hub id in the local
    cache, or a folder holding both the model's and the tokenizer's ``save_pretrained`` output) on ``device`` in
    ``dtype`` (default: float32; Vicuna-7B needs about 28 GB so, 14 GB in ``torch.bfloat16``, in which it can also
    be trained; float16 only runs it), for ``NextGPT(llm=...)``.

    Raises:
        FileNotFoundError: a folder that does not exist, or a hub id that is not in the local cache.
        ValueError: the checkpoint holds another kind of model than a Llama, or a folder's config is broken.
    """
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    source = _source(checkpoint, "config.json", "model.save_pretrained(folder); tokenizer.save_pretrained(folder)")
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as error:
        raise _unreadable(checkpoint, source, error) from None
    if config.model_type != "llama":
        raise ValueError(f"{checkpoint!r} holds a {config.model_type!r} model, not a Llama (NExT-GPT's LLM, Vicuna)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(f"{checkpoint!r} holds no readable tokenizer ({type(error).__name__}): save it "
                                "beside the model with `tokenizer.save_pretrained(folder)`") from None
    model = LlamaForCausalLM.from_pretrained(source, dtype=dtype or torch.float32, local_files_only=True)
    return tokenizer, model.to(device).eval()


__all__ = ["CHECKPOINTS", "DECODERS", "LLM_CHECKPOINT", "PIPELINES", "RealAudioDecoder", "RealDecoder",
           "RealImageDecoder", "RealVideoDecoder", "load_decoder", "load_llm"]
