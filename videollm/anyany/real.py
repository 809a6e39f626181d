"""Unit 07 — a real image decoder behind the course's interface: Stable Diffusion, switched on by one argument.

NExT-GPT's image output projector learns what Stable Diffusion v1.5's own text encoder makes of a caption: a
``(77, 768)`` sequence, the *conditioning*. :func:`load_image_decoder` loads any ``diffusers``
``StableDiffusionPipeline`` (a hub id such as :data:`IMAGE_CHECKPOINT`, or a local folder of ``save_pretrained``
output) and gives it the two calls the course's pipeline makes of a decoder:

- ``conditioning(captions)``: the target of the output projector's L2 loss, ``(B, 77, width)``;
- ``sample(cond, empty)``: pictures from a (projected) conditioning with classifier-free guidance, ``(B, 3, H, W)``
  uint8, as :meth:`videollm.anyany.decoders.ImageDecoder.sample` returns them.

Nothing downloads at run time: a hub id is read from the local Hugging Face cache only (``local_files_only``;
download it once with ``hf download <id>``). The tests load a tiny pipeline saved to a folder, through the same
``from_pretrained``. The pipeline runs in float32 unless ``dtype`` says otherwise (on a GPU, ``torch.float16``
halves its memory). Which other parts of NExT-GPT
the field's libraries load is listed in the README's unit 07 section. The audio decoder (AudioLDM) and the video
decoder (ZeroScope) are ``diffusers`` pipelines too (``AudioLDMPipeline`` and ``TextToVideoSDPipeline``, both among
diffusers' deprecated pipelines in 0.42), but they are not wired here yet.

Lecture: `lectures/07_next_gpt.ipynb` §6.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

#: NExT-GPT's image decoder (its original code names ``runwayml/stable-diffusion-v1-5``, since moved to this id).
IMAGE_CHECKPOINT = "stable-diffusion-v1-5/stable-diffusion-v1-5"


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
        empty = self.empty if empty is None else empty
        expected = empty.shape[1:]
        if cond.ndim != 3 or cond.shape[1:] != expected:
            raise ValueError(f"cond must be (B, {expected[0]}, {expected[1]}), this decoder's conditioning; got "
                             f"{tuple(cond.shape)} (is the output projector built for another decoder?)")
        if empty.ndim != 3 or len(empty) not in (1, len(cond)):
            raise ValueError(f"empty must be (1, L, width) or one per picture; got {tuple(empty.shape)}")
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
    is_folder = isinstance(checkpoint, os.PathLike) or as_path.exists() or source.startswith((".", "/", "~")) \
        or source.count("/") != 1  # a hub id is "owner/name"; anything else is a folder
    if is_folder:
        if not as_path.is_dir():
            raise FileNotFoundError(f"{source} is not a folder (a saved diffusers pipeline, or a hub id owner/name)")
        if not (as_path / "model_index.json").exists():
            raise FileNotFoundError(f"{source} holds no model_index.json: save the pipeline there with "
                                    "`pipeline.save_pretrained(folder)`")
        source = str(as_path)
    try:
        config = DiffusionPipeline.load_config(source, local_files_only=True)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(
            f"{checkpoint!r} is not in the local Hugging Face cache ({type(error).__name__}). Nothing downloads at "
            f"run time: with network, run `HF_HUB_OFFLINE=0 hf download {checkpoint}` once, or pass a folder") from None
    kind = config.get("_class_name") if isinstance(config, dict) else None
    if kind != "StableDiffusionPipeline":
        raise ValueError(f"{checkpoint!r} holds a {kind!r}, not a StableDiffusionPipeline (NExT-GPT's image decoder)")
    pipeline = StableDiffusionPipeline.from_pretrained(source, dtype=dtype or torch.float32, local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    return RealImageDecoder(pipeline.to(device))


__all__ = ["IMAGE_CHECKPOINT", "RealImageDecoder", "load_image_decoder"]
