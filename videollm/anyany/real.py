"""Unit 07 — a real image decoder behind the course's interface: Stable Diffusion, switched on by one argument.

NExT-GPT's image output projector learns what Stable Diffusion v1.5's own text encoder makes of a caption: a
``(77, 768)`` sequence, the *conditioning*. :func:`load_image_decoder` loads any ``diffusers``
``StableDiffusionPipeline`` (a hub id such as :data:`IMAGE_CHECKPOINT`, or a local folder of ``save_pretrained``
output) and gives it the two calls the course's pipeline makes of a decoder:

- ``conditioning(captions)``: the target of the output projector's L2 loss, ``(B, 77, width)``;
- ``sample(cond, empty)``: pictures from a (projected) conditioning with classifier-free guidance, ``(B, 3, H, W)``
  uint8, as :meth:`videollm.anyany.decoders.ImageDecoder.sample` returns them.

Nothing downloads at run time here: with ``HF_HUB_OFFLINE=1`` a hub id must already be in the local cache. The
tests load a tiny pipeline saved to a folder, through the same ``from_pretrained``. Which other parts of NExT-GPT
the field's libraries load is listed in the README's unit 07 section. The audio decoder (AudioLDM) and the video
decoder (ZeroScope) are ``diffusers`` pipelines too, but they are not wired here yet.

Lecture: `lectures/07_next_gpt.ipynb` §6.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

#: NExT-GPT's image decoder (its original code's ``image_diffusion``).
IMAGE_CHECKPOINT = "runwayml/stable-diffusion-v1-5"


class RealImageDecoder:
    """A ``StableDiffusionPipeline`` seen as a NExT-GPT decoder (module docstring)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    @property
    def device(self) -> torch.device:
        return self.pipeline.unet.device

    @torch.no_grad()
    def conditioning(self, captions: list[str]) -> torch.Tensor:
        """``(B, L, width)``: the pipeline's text encoder on ``captions`` (77 x 768 for Stable Diffusion v1.5)."""
        if isinstance(captions, str) or not captions:
            raise ValueError("captions must be a non-empty list of strings")
        cond, _ = self.pipeline.encode_prompt(list(captions), self.device, 1, False)
        return cond

    @property
    def empty(self) -> torch.Tensor:
        """``(1, L, width)``: the empty caption's conditioning, the unconditional branch of the guidance."""
        return self.conditioning([""])

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, empty: torch.Tensor | None = None, guidance: float = 7.5, steps: int = 25,
               seed: int = 0) -> torch.Tensor:
        """``(B, 3, H, W)`` uint8 pictures for ``cond`` ``(B, L, width)``, ``steps`` steps of the pipeline's scheduler
        with classifier-free guidance against ``empty`` (default: the empty caption's conditioning)."""
        expected = self.empty.shape[1:]
        if cond.ndim != 3 or cond.shape[1:] != expected:
            raise ValueError(f"cond must be (B, {expected[0]}, {expected[1]}), this decoder's conditioning; got "
                             f"{tuple(cond.shape)} (is the output projector built for another decoder?)")
        empty = self.empty if empty is None else empty
        generator = torch.Generator(self.device).manual_seed(seed)
        dtype = self.pipeline.unet.dtype
        images = self.pipeline(prompt_embeds=cond.to(self.device, dtype),
                               negative_prompt_embeds=empty.expand(len(cond), -1, -1).to(self.device, dtype),
                               guidance_scale=guidance, num_inference_steps=steps, generator=generator,
                               output_type="pt").images                      # (B, 3, H, W) in [0, 1]
        return (images.float().clamp(0, 1) * 255).round().to(torch.uint8)


def load_image_decoder(checkpoint: str | os.PathLike = IMAGE_CHECKPOINT, device="cpu",
                       dtype: torch.dtype | None = None) -> RealImageDecoder:
    """Stable Diffusion from ``checkpoint`` (a hub id in the local cache, or a folder of ``save_pretrained`` output)
    on ``device`` in ``dtype`` (default: float32).

    Raises:
        FileNotFoundError: a folder that does not exist, or a hub id that is not in the local cache.
        ValueError: the checkpoint holds another kind of pipeline.
    """
    from diffusers import DiffusionPipeline, StableDiffusionPipeline

    source = str(checkpoint)
    as_path = Path(source).expanduser()
    if as_path.exists() or source.startswith((".", "/", "~")):
        if not as_path.is_dir():
            raise FileNotFoundError(f"{source} is not a folder of a saved diffusers pipeline")
        source = str(as_path)
    try:
        config = DiffusionPipeline.load_config(source)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(
            f"cannot find the pipeline {checkpoint!r} ({type(error).__name__}). Nothing downloads at run time: with "
            f"network, `huggingface-cli download {checkpoint}` first (HF_HUB_OFFLINE=1 is set by the course's "
            "commands), or pass a local folder") from None
    kind = config.get("_class_name") if isinstance(config, dict) else None
    if kind != "StableDiffusionPipeline":
        raise ValueError(f"{checkpoint!r} holds a {kind!r}, not a StableDiffusionPipeline (NExT-GPT's image decoder)")
    pipeline = StableDiffusionPipeline.from_pretrained(source, dtype=dtype or torch.float32)
    pipeline.set_progress_bar_config(disable=True)
    return RealImageDecoder(pipeline.to(device))


__all__ = ["IMAGE_CHECKPOINT", "RealImageDecoder", "load_image_decoder"]
