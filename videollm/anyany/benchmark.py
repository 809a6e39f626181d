"""Unit 07 — what the world's NExT-GPT can do, measured against the world's ground truth.

- :func:`captioning`: video in, caption out (exact match, and the share of objects named right); the same with the
  *audio* embedding in the video's place, which no stage trained on (ImageBind's space makes it possible);
- :func:`requests`: "show me a picture of ...", "play the sound of ...", "make a video of ...": does the reply hold
  the right signal tokens, and how far (L2 per token) is the projected conditioning from the real one, next to the
  distance between the real conditionings of two different captions;
- :func:`outputs`: pictures drawn from the projected signal tokens, read back by the picture judge, next to
  pictures drawn from the real conditioning (the decoder's own ceiling) and chance; sounds picked by the library.

``python -m videollm.anyany pipeline`` prints the tables (README, ``docs/experiments/07_nextgpt.md``).

Lecture: `lectures/07_next_gpt.ipynb` §7.
"""

from __future__ import annotations

import torch

from videollm.anyany.decoders import Decoders, SoundLibrary, conditioning
from videollm.anyany.nextgpt import MEDIA, REQUESTS, NextGPT, first_named, world_clips
from videollm.anyany.projectors import l2_alignment_loss
from videollm.world.shapes import COLOR_NAMES, SHAPES
from videollm.world.voices import caption


def _named(text: str) -> set[tuple[str, str]]:
    """The (colour, shape) pairs a caption names."""
    words = text.replace(",", " ").split()
    return {(a, b) for a, b in zip(words, words[1:]) if a in COLOR_NAMES and b in SHAPES}


@torch.no_grad()
def captioning(model: NextGPT, clips: list, batch_size: int = 64) -> dict:
    """Caption exact match and objects named right (a share of all objects), from video and from audio."""
    out = {}
    for source in ("video", "audio"):
        exact = right = total = 0
        for i in range(0, len(clips), batch_size):
            part = clips[i:i + batch_size]
            if source == "video":
                emb = model.media_embeddings(video=torch.stack([c.video for c in part]))["video"]
            else:
                emb = model.media_embeddings(mel=torch.stack([c.mel for c in part]))["audio"]
            replies = model.respond([f"{MEDIA['video']}\ndescribe the video"] * len(part), {"video": emb})
            for reply, clip in zip(replies, part):
                truth = caption(clip.objects)
                exact += reply["text"] == truth
                right += len(_named(reply["text"]) & _named(truth))
                total += len(clip.objects)
        out[source] = {"exact": 100 * exact / len(clips), "objects": 100 * right / total}
    return out


@torch.no_grad()
def requests(model: NextGPT, clips: list) -> list[dict]:
    """Per output modality: the share of replies holding its signal run, the mean L2 of the projected conditioning
    to the real one, and the mean L2 between the real conditionings of a caption and the next clip's."""
    rows = []
    for modality, request in REQUESTS.items():
        asks, truths = [], []
        for clip in clips:
            one, label = caption([first_named(clip.objects)]), caption(clip.objects)
            asks.append(request(one, label)[0])
            truths.append(label if modality == "video" else one)
        replies = model.respond(asks)
        got = [(r["signals"][modality], t) for r, t in zip(replies, truths) if modality in r["signals"]]
        real = model.targets(modality, truths)
        other = torch.roll(real, 1, 0)
        differs = [a != b for a, b in zip(truths, truths[1:] + truths[:1])]
        row = {"output": modality, "emitted": 100 * len(got) / len(clips),
               "L2 to the real conditioning": float("nan"),
               "L2 between two captions": l2_alignment_loss(real[differs], other[differs]).item()}
        if got:
            pred = torch.cat([g for g, _ in got])
            row["L2 to the real conditioning"] = l2_alignment_loss(pred, model.targets(modality, [t for _, t in got])
                                                                   ).item()
        rows.append(row)
    return rows


@torch.no_grad()
def outputs(model: NextGPT, decoders: Decoders, clips: list, steps: int = 25) -> dict:
    """Pictures and sounds for "show me a picture of / play the sound of" the first object of each clip: the
    judge's agreement with the request, from the projected signal tokens and from the real conditioning."""
    ones = [caption([first_named(c.objects)]) for c in clips]
    text = model.binding.text
    out = {"requests": len(ones), "chance": 100 / (len(COLOR_NAMES) * len(SHAPES))}
    replies = model.respond([REQUESTS["image"](one, one)[0] for one in ones])
    have = [i for i, r in enumerate(replies) if "image" in r["signals"]]
    real = decoders.image.sample(conditioning(text, ones), decoders.empty, steps=steps)
    out["picture from the real conditioning"] = 100 * sum(
        a == b for a, b in zip(decoders.judge.read(real), ones)) / len(ones)
    drawn_right = 0
    if have:
        cond = torch.cat([replies[i]["signals"]["image"] for i in have])
        drawn = decoders.image.sample(cond, decoders.empty, steps=steps)
        drawn_right = sum(a == ones[i] for a, i in zip(decoders.judge.read(drawn), have))
    out["picture from the signal tokens"] = 100 * drawn_right / len(ones)
    library = SoundLibrary(model.binding, model.device)
    replies = model.respond([REQUESTS["audio"](one, one)[0] for one in ones])
    have = [i for i, r in enumerate(replies) if "audio" in r["signals"]]
    _, from_real = library.decode(text(ones))
    out["sound from the real conditioning"] = 100 * sum(a == b for a, b in zip(from_real, ones)) / len(ones)
    right = 0
    if have:
        _, picked = library.decode(torch.cat([replies[i]["signals"]["audio"][:, 0] for i in have]))
        right = sum(a == ones[i] for a, i in zip(picked, have))
    out["sound from the signal tokens"] = 100 * right / len(ones)
    return out


def pipeline_report(model: NextGPT, decoders: Decoders, n: int = 128) -> dict:
    """All three measurements on the first ``n`` clips of the test split."""
    clips = world_clips("test", n)
    return {"captioning": captioning(model, clips), "requests": requests(model, clips),
            "outputs": outputs(model, decoders, clips)}


__all__ = ["captioning", "outputs", "pipeline_report", "requests"]
