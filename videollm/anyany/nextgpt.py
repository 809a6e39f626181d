"""Unit 07 — NExT-GPT at the world's size: bound embeddings in, an LLM in the middle, signal tokens out.

The model (:class:`NextGPT`) is the slide's diagram with every box a real class:

    video / audio -> frozen binding encoders (videollm.anyany.bind) -> InputProjector -> one LLM token each
    LLM: transformers' LlamaForCausalLM (Vicuna is a Llama), LoRA through peft in stage 3
    [IMG0..3] / [AUD0..7] / [VID0..23] hidden states -> OutputProjector -> a decoder's conditioning
    -> the image decoder (diffusers) draws; the sound library (a retrieval stand-in) plays

Training follows NExT-GPT's stages, after a stage 0 that stands in for Vicuna's pretraining (nothing can be
downloaded, so the course's LLM first learns the world's language from text alone):

======  =============================================  ===============================  ============================
stage   data (from the world)                          trained                          loss
======  =============================================  ===============================  ============================
0       text: captions and "repeat after me" turns     the whole LLM                    next-token CE
1       ``<video>`` describe it -> caption             input projector                  CE on the caption
2       show me / play / make ``caption`` -> ``[X]``   output projectors + the signal   CE on the reply + L2 to the
                                                       tokens' embedding rows           decoder's conditioning
3       MosIT-like dialogues switching modalities      LoRA + both projectors           CE + L2
======  =============================================  ===============================  ============================

The stage-2 loss is the original code's: CE plus the per-token L2 distance, no diffusion term (the paper adds a
conditional latent denoising loss through the frozen decoder; the legacy code does not).

Lecture: `lectures/07_next_gpt.ipynb` §5–7.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from videollm.anyany import bind
from videollm.anyany.decoders import conditioning
from videollm.anyany.encoders import parameter_count
from videollm.anyany.projectors import InputProjector, OutputProjector, l2_alignment_loss
from videollm.anyany.signals import SIGNAL_COUNTS, SignalRuns, add_signal_tokens, expand_signals, signal_positions
from videollm.cache import load_or_train, load_weights, save_weights
from videollm.offline import set_offline
from videollm.world.shapes import PALETTE
from videollm.world.text_tokenizer import course_tokenizer
from videollm.world.voices import TEMPLATES, caption

set_offline()

#: Media placeholders a user turn may hold, one LLM token each, replaced by the projected embedding.
MEDIA = {"video": "<video>", "audio": "<audio>"}
#: The chat template's turn markers (ChatML, the course tokenizer's own special tokens); a reply ends at the second.
CHAT_MARKERS = START, END = ("<|im_start|>", "<|im_end|>")
#: Conditioning each output projector is trained to produce: the caption's text-encoder hidden states (image and
#: video, as Stable Diffusion's and Zeroscope's ``77 x 768`` / ``77 x 1024``) or its one pooled joint-space vector
#: (audio, as AudioLDM's ``1 x 512`` CLAP embedding).
TARGETS = {"image": "sequence", "audio": "pooled", "video": "sequence"}


@dataclass(frozen=True)
class NextConfig:
    """Everything that decides the trained model."""

    hidden: int = 128
    layers: int = 2
    heads: int = 4
    media_tokens: int = 4            # LLM tokens per input (NExT-GPT's original code: 1)
    lora_r: int = 8
    lora_alpha: int = 16
    clips: int = 2000                # sounding clips of the "sounds" split the stages read
    steps: tuple[int, int, int, int] = (1000, 1500, 600, 900)  # stages 0-3
    batch_size: int = 32
    lr: tuple[float, float, float, float] = (2e-3, 1e-2, 3e-3, 5e-4)
    l2_weight: float = 1.0
    seed: int = 0


def chat(turns: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """ChatML text of ``(user, assistant)`` turns and the character spans of the assistant replies (with their end
    token), which are what the loss reads."""
    text, spans = "", []
    for user, reply in turns:
        text += f"{START}user\n{user}{END}\n{START}assistant\n"
        start = len(text)
        text += f"{expand_signals(reply)}{END}"
        spans.append((start, len(text)))
        text += "\n"
    return text, spans


def prompt(user: str, history: list[tuple[str, str]] = ()) -> str:
    """The text before the model's next reply: earlier turns, then ``user``."""
    return chat(list(history))[0] + f"{START}user\n{user}{END}\n{START}assistant\n"


class NextGPT(nn.Module):
    """The LLM, its tokenizer (the course's + ``<audio>`` + the signal tokens), the input projector and one output
    projector per output modality. The frozen binding models are held outside the state dict (``self.binding``), and
    so are ``decoders``: real ones from :func:`videollm.anyany.real.load_decoder` (``{"image": ..., "audio": ...,
    "video": ...}``, any of them), whose own conditioning then sizes that modality's output projector and is its
    L2 target; a modality without one is trained against the course's :data:`TARGETS`. ``llm``, a ``(tokenizer,
    LlamaForCausalLM)`` pair such as :func:`videollm.anyany.real.load_llm` returns (Vicuna), replaces the course's
    small LLM (``config``'s sizes of it are then unused; stage 0, which stands in for its pretraining, is not for
    it: train stages 1-3 with :func:`train_stage`, in bfloat16 or float32). Its chat template is the course's ChatML,
    whose markers it gets as new tokens (after its ``<s>``); stage 2 trains their rows with the signal tokens'."""

    def __init__(self, config: NextConfig = NextConfig(), binding: bind.Binding | None = None,
                 decoders: dict | None = None, llm: tuple | None = None):
        super().__init__()
        decoders = dict(decoders or {})
        if set(decoders) - set(SIGNAL_COUNTS):
            raise ValueError(f"decoders: unknown modalities {sorted(set(decoders) - set(SIGNAL_COUNTS))}; the "
                             f"outputs are {sorted(SIGNAL_COUNTS)}")
        object.__setattr__(self, "decoders", decoders)  # like the binding, frozen and outside the state dict
        self.config = config
        object.__setattr__(self, "binding", binding if binding is not None else bind.pretrained(progress=False))
        enc = self.binding.config.encoders
        if llm is None:
            self.tokenizer, self.llm = self._course_llm(config)
        else:  # a real one (videollm.anyany.real.load_llm): the chat markers and placeholders become its tokens
            self.tokenizer, self.llm = llm
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.unk_token or self.tokenizer.eos_token
        known = set(self.tokenizer.get_vocab())
        new = [t for t in (*CHAT_MARKERS, *MEDIA.values()) if t not in known]
        if new:
            self.tokenizer.add_special_tokens({"additional_special_tokens": new})
        self.signal_ids = add_signal_tokens(self.tokenizer, self.llm)
        #: the embedding and LM-head rows stage 2 trains: the signal tokens', and any chat marker or placeholder new
        #: to a real LLM (the course's LLM learnt those in stage 0)
        self.new_token_ids = [*self.tokenizer.convert_tokens_to_ids(new), *(i for ids in self.signal_ids.values()
                                                                            for i in ids)]
        self.media_ids = {m: self.tokenizer.convert_tokens_to_ids(t) for m, t in MEDIA.items()}
        self.end_id = self.tokenizer.convert_tokens_to_ids(END)
        self.hidden = self.llm.config.hidden_size
        self.in_proj = InputProjector(enc.embed_dim, self.hidden, config.media_tokens)
        self.out_proj = nn.ModuleDict({m: OutputProjector(self.hidden, *self._target_shape(m)) for m in SIGNAL_COUNTS})

    @staticmethod
    def _course_llm(config: NextConfig):
        """The course's tokenizer (+ ``<audio>``) and a small ``LlamaForCausalLM`` of ``config``'s size."""
        from transformers import LlamaConfig, LlamaForCausalLM

        tokenizer = course_tokenizer()
        tokenizer.add_special_tokens({"additional_special_tokens": [MEDIA["audio"]]})
        llm = LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=config.hidden, intermediate_size=2 * config.hidden,
            num_hidden_layers=config.layers, num_attention_heads=config.heads, num_key_value_heads=config.heads,
            max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=False))
        return tokenizer, llm

    def _target_shape(self, modality: str) -> tuple[int, int]:
        """``(tokens, width)`` of ``modality``'s conditioning: a given decoder's own, else :data:`TARGETS`'s."""
        if modality in self.decoders:
            return tuple(self.decoders[modality].empty.shape[1:])
        enc = self.binding.config.encoders
        return (enc.max_text_tokens, enc.width) if TARGETS[modality] == "sequence" else (1, enc.embed_dim)

    @property
    def device(self) -> torch.device:
        return self.in_proj.linear.weight.device

    # ---------------------------------------------------------------------------------------------------------
    # Inputs

    def media_embeddings(self, video: torch.Tensor | None = None, mel: torch.Tensor | None = None) -> dict:
        """Bound embeddings of a batch's media (frozen encoders): ``video (B, T, 3, H, W)`` uint8 and/or ``mel
        (B, 204, 128)``, each to ``(B, D)``."""
        out = {}
        with torch.no_grad():
            if video is not None:
                out["video"] = self.binding.vision(video.to(self.device).float() / 255)
            if mel is not None:
                out["audio"] = self.binding.audio["emergent"](mel.to(self.device))
        return out

    def expand_media(self, text: str) -> str:
        """Each media placeholder written ``media_tokens`` times: the projected embedding fills that many tokens."""
        for tag in MEDIA.values():
            text = text.replace(tag, tag * self.config.media_tokens)
        return text

    def _grown(self, text: str, index: int) -> int:
        """How many characters :meth:`expand_media` adds before character ``index`` of ``text``."""
        return sum((self.config.media_tokens - 1) * len(tag) * text[:index].count(tag) for tag in MEDIA.values())

    def encode(self, texts: list[str], spans: list[list[tuple[int, int]]] | None = None, left_pad: bool = False):
        """Token ids ``(B, L)``, attention mask and labels (``-100`` outside the reply spans) of ``texts`` (media
        placeholders expanded by :meth:`expand_media`)."""
        texts_in = texts
        tok = self.tokenizer
        texts = [self.expand_media(t) for t in texts]
        if spans is not None:  # the replies move right by the added placeholders before them
            spans = [[(a + self._grown(t, a), b + self._grown(t, a)) for a, b in sp] for t, sp in zip(texts_in, spans)]
        rows = [tok(t, add_special_tokens=False, return_offsets_mapping=spans is not None) for t in texts]
        bos = [] if tok.bos_token_id is None else [tok.bos_token_id]  # Vicuna's <s>; the course's tokenizer has none
        longest = len(bos) + max(len(r.input_ids) for r in rows)
        ids = torch.full((len(rows), longest), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        labels = torch.full_like(ids, -100)
        for i, r in enumerate(rows):
            row = torch.tensor(bos + r.input_ids)
            at = slice(longest - len(row), longest) if left_pad else slice(0, len(row))
            ids[i, at], mask[i, at] = row, 1
            if spans is not None:
                keep = [False] * len(bos) + [any(a <= s < b for a, b in spans[i]) for s, _ in r.offset_mapping]
                labels[i, at] = torch.where(torch.tensor(keep), row, -100)
        return ids.to(self.device), mask.to(self.device), labels.to(self.device)

    def embed_inputs(self, ids: torch.Tensor, media: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, L, hidden)``: the token embeddings, with each media placeholder replaced by its projected bound
        embedding (row ``b``'s placeholder takes ``media[modality][b]``)."""
        x = self.llm.get_input_embeddings()(ids)
        k = self.config.media_tokens
        for modality, token in self.media_ids.items():
            count = (ids == token).sum(1)  # (B,) placeholder tokens per row
            if not count.any():
                continue
            if modality not in media:
                raise ValueError(f"the text holds {MEDIA[modality]} but no {modality} embedding was given: pass "
                                 f"media={{'{modality}': (B, D) embeddings}} (see media_embeddings)")
            if len(media[modality]) != len(ids) or (count % k).any() or (count > k).any():
                raise ValueError(f"{modality}: one {MEDIA[modality]} per row at most, and one embedding per row; "
                                 f"got {len(media[modality])} embeddings for {len(ids)} rows")
        for modality, emb in media.items():
            rows, cols = torch.nonzero(ids == self.media_ids[modality], as_tuple=True)  # row-major: k per row
            if len(rows):
                which = torch.arange(len(rows), device=ids.device) % k
                x = x.index_put((rows, cols), self.in_proj(emb)[rows, which].to(x.dtype))
        return x

    # ---------------------------------------------------------------------------------------------------------
    # Training loss

    def targets(self, modality: str, captions: list[str]) -> torch.Tensor:
        """The conditioning ``modality``'s decoder would get from ``captions``: a given decoder's own, else
        :data:`TARGETS`."""
        if modality in self.decoders:
            return self.decoders[modality].conditioning(captions).float()
        text = self.binding.text
        if TARGETS[modality] == "pooled":
            with torch.no_grad():
                return text(captions)[:, None]  # (B, 1, D)
        return conditioning(text, captions)  # (B, L, width)

    def loss(self, texts: list[str], spans: list, media: dict, outputs: dict[str, tuple[list[int], list[str]]]):
        """CE on the replies plus ``l2_weight`` x the L2 alignment of each requested output. ``outputs`` maps a
        modality to (rows that ask for it, the caption its decoder should get). Returns ``(total, parts)``."""
        ids, mask, labels = self.encode(texts, spans)
        out = self.llm(inputs_embeds=self.embed_inputs(ids, media), attention_mask=mask, labels=labels,
                       output_hidden_states=True)
        parts = {"ce": out.loss}
        total = out.loss
        for modality, (rows, captions) in outputs.items():
            if not rows:
                continue
            rows_t = torch.tensor(rows, device=ids.device)
            pos = signal_positions(ids[rows_t], self.signal_ids[modality])  # (R, n)
            hidden = out.hidden_states[-1][rows_t[:, None], pos]  # (R, n, hidden)
            emb = self.llm.get_input_embeddings()(ids[rows_t[:, None], pos])
            target = self.targets(modality, captions).to(ids.device)
            l2 = l2_alignment_loss(self.out_proj[modality](hidden.float(), emb.float()), target)  # fp32 projectors
            parts[f"l2_{modality}"] = l2
            total = total + self.config.l2_weight * l2
        return total, parts

    # ---------------------------------------------------------------------------------------------------------
    # Generation

    @torch.no_grad()
    def respond(self, users: list[str], media: dict | None = None, history: list | None = None,
                max_new_tokens: int = 48) -> list[dict]:
        """Greedy replies to a batch of user turns (placeholders filled from ``media``), with the conditioning each
        reply's signal tokens produce: ``[{"text", "signals": {modality: (1, T, D)}}]``."""
        media = media or {}
        texts = [prompt(u, history[i] if history else ()) for i, u in enumerate(users)]
        ids, mask, _ = self.encode(texts, left_pad=True)
        embeds = self.embed_inputs(ids, media)
        from transformers import LogitsProcessorList

        new = self.llm.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new_tokens,
                                do_sample=False, eos_token_id=self.end_id,
                                pad_token_id=self.tokenizer.pad_token_id,
                                logits_processor=LogitsProcessorList([SignalRuns(self.signal_ids)])
                                )  # (B, new): the generated ids only
        full = torch.cat([ids, new], 1)
        full_mask = torch.cat([mask, (new != self.tokenizer.pad_token_id).long()], 1)
        x = torch.cat([embeds, self.llm.get_input_embeddings()(new)], 1)
        hidden = self.llm(inputs_embeds=x, attention_mask=full_mask, output_hidden_states=True).hidden_states[-1]
        replies = []
        for b in range(len(users)):
            text = self.tokenizer.decode(new[b], skip_special_tokens=False)
            text = text.split(END)[0].replace(self.tokenizer.pad_token, "")
            signals = {}
            for modality, sig in self.signal_ids.items():
                try:  # in this reply only: the history may hold earlier replies' runs
                    pos = signal_positions(new[b:b + 1], sig) + ids.shape[1]
                except ValueError:
                    continue  # this reply does not ask for that modality (or broke its run of tokens)
                emb = self.llm.get_input_embeddings()(full[b:b + 1, pos[0]])
                signals[modality] = self.out_proj[modality](hidden[b:b + 1, pos[0]].float(), emb.float())
            replies.append({"text": text, "signals": signals})
        return replies


# -------------------------------------------------------------------------------------------------------------
# The world's dialogues

def _request(ask: str, reply: str, placeholder: str):
    def turn(one: str, label: str, plain: bool = False) -> tuple[str, str]:
        answer = reply.format(one=one, label=label)
        return ask.format(one=one, label=label), answer.replace(placeholder, "") if plain else answer
    return turn


#: The requests for an output, and their replies: with the signal placeholder from stage 2 on, without it
#: (``plain``) in stage 0, where the LLM learns the conversation before it has signal tokens.
REQUESTS = {"image": _request("show me a picture of {one}", "here is {one}: [IMG]", " [IMG]"),
            "audio": _request("play the sound of {one}", "this is {one}: [AUD]", " [AUD]"),
            "video": _request("make a video of {label}", "here is the video: [VID]", " [VID]")}


def first_named(objects: list) -> object:
    """The object a caption names first (captions list objects in the palette's colour order)."""
    return min(objects, key=lambda o: PALETTE.index(o.color))


def _asks(outputs: dict, modality: str, row: int, wanted: str) -> None:
    """Record that ``row`` asks for ``modality``, whose decoder should get the caption ``wanted``."""
    outputs[modality][0].append(row)
    outputs[modality][1].append(wanted)


def stage_batch(stage: int, clips: list, rng: np.random.Generator) -> tuple[list[str], list, dict, dict]:
    """One batch of ``stage``'s dialogues about ``clips`` (sounding clips): texts, reply spans, which media each
    row holds, and the outputs it asks for."""
    texts, spans, outputs = [], [], {m: ([], []) for m in SIGNAL_COUNTS}
    for row, clip in enumerate(clips):
        label = caption(clip.objects)
        one = caption([first_named(clip.objects)])
        if stage == 0:  # the language the later stages speak, with the outputs still written as plain text
            line = caption(clip.objects, int(rng.integers(len(TEMPLATES))))
            kind = rng.random()
            if kind < 0.6:
                turns = [(f"repeat after me: {line}", line)]
            elif kind < 0.8:
                turns = [("describe a video", line)]
            else:
                turns = [REQUESTS[("image", "audio", "video")[row % 3]](one, label, plain=True)]
        elif stage == 1:
            turns = [(f"{MEDIA['video']}\ndescribe the video", label)]
        elif stage == 2 and row % 4 == 1:  # half the rows say no signal token belongs in a plain reply
            line = caption(clip.objects, int(rng.integers(len(TEMPLATES))))
            turns = [(f"repeat after me: {line}", line)]
        elif stage == 2 and row % 4 == 3:  # nor in a caption of a video
            turns = [(f"{MEDIA['video']}\ndescribe the video", label)]
        elif stage == 2:
            modality = ("image", "audio", "video")[(row // 2) % 3]
            turns = [REQUESTS[modality](one, label)]
            _asks(outputs, modality, row, label if modality == "video" else one)
        elif row % 3 == 2:  # a third of stage 3: one request alone, as in stage 2
            modality = ("image", "audio", "video")[(row // 3) % 3]
            turns = [REQUESTS[modality](one, label)]
            _asks(outputs, modality, row, label if modality == "video" else one)
        else:
            turns = [(f"{MEDIA['video']}\nwhat do you see?", label),
                     ("show me a picture of the first one", f"here is {one}: [IMG]"),
                     ("and what does it sound like?", "like this: [AUD]")]
            for modality in ("image", "audio"):
                _asks(outputs, modality, row, one)
        text, span = chat(turns)
        texts.append(text)
        spans.append(span)
    return texts, spans, outputs


def _trainable(model: NextGPT, stage: int) -> list[nn.Parameter]:
    """Freeze everything, then unfreeze what ``stage`` trains (module docstring)."""
    model.requires_grad_(False)
    if stage == 0:
        model.llm.requires_grad_(True)
    elif stage == 1:
        model.in_proj.requires_grad_(True)
    elif stage == 2:
        model.out_proj.requires_grad_(True)
        model.llm.get_input_embeddings().weight.requires_grad_(True)  # only the signal rows change: see _mask_rows
        model.llm.get_output_embeddings().weight.requires_grad_(True)
    else:
        for name, p in model.llm.named_parameters():
            p.requires_grad_("lora_" in name)
        model.in_proj.requires_grad_(True)
        model.out_proj.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def _mask_rows(model: NextGPT) -> None:
    """Stage 2 trains only the new tokens' rows of the embedding and the LM head (``model.new_token_ids``): zero the
    other rows' gradients (the LLM itself stays frozen, as NExT-GPT's ``freeze_lm``)."""
    rows = torch.tensor(model.new_token_ids, device=model.device)
    for weight in (model.llm.get_input_embeddings().weight, model.llm.get_output_embeddings().weight):
        if weight.grad is not None:
            keep = torch.zeros(len(weight), 1, device=weight.device)
            keep[rows] = 1
            weight.grad.mul_(keep)


def add_lora(model: NextGPT) -> None:
    """Wrap the LLM's attention projections in LoRA adapters (``q, k, v, o``, as NExT-GPT) through ``peft``."""
    from peft import LoraConfig, get_peft_model

    model.llm = get_peft_model(model.llm, LoraConfig(r=model.config.lora_r, lora_alpha=model.config.lora_alpha,
                                                     lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj",
                                                                                       "o_proj"]))


def trained_parameters(model: NextGPT, stage: int) -> int:
    """How many parameters ``stage`` changes (stage 2: the output projectors and the signal tokens' rows only)."""
    params = _trainable(model, stage)
    model.requires_grad_(False)
    if stage != 2:
        return sum(p.numel() for p in params)
    rows = len(model.new_token_ids)
    return parameter_count(model.out_proj) + 2 * rows * model.hidden


def train_stage(model: NextGPT, stage: int, clips: list, steps: int, lr: float, batch_size: int, seed: int = 0,
                progress: bool = False) -> list[float]:
    """Train one stage on ``clips`` (sounding clips, with ``mel`` attached by :func:`train_config`): the loss per
    step."""
    params = _trainable(model, stage)
    if any(p.dtype == torch.float16 for p in params):
        # AdamW's eps (1e-8) is 0 in float16: a row whose gradient is masked to 0 would become 0/0 = NaN
        model.requires_grad_(False)
        raise ValueError(f"stage {stage} would train float16 weights: load the LLM in torch.bfloat16 or float32 to "
                         "train it (float16 is for inference)")
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    rng = np.random.default_rng([seed, stage])
    history = []
    for _ in tqdm(range(steps), disable=not progress, desc=f"stage {stage}"):
        idx = rng.choice(len(clips), batch_size, replace=False)
        batch = [clips[i] for i in idx]
        texts, spans, outputs = stage_batch(stage, batch, rng)
        media = {}
        if stage in (1, 2, 3):
            media = model.media_embeddings(video=torch.stack([c.video for c in batch]))
        total, _ = model.loss(texts, spans, media, outputs)
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        if stage == 2:
            _mask_rows(model)
        optimiser.step()
        history.append(total.item())
    model.requires_grad_(False)
    return history


@dataclass
class _Clip:
    objects: list
    video: torch.Tensor
    mel: torch.Tensor | None = None


def world_clips(split: str, n: int, frames=bind.BindConfig.frames) -> list[_Clip]:
    """Sounding clips of a binding split with their objects, frames ``(T, 3, H, W)`` uint8 and log-mel."""
    data = bind.binding_data(split, n, frames)
    return [_Clip(objects=data.objects[i], video=data.video[i], mel=data.mel[i]) for i in range(n)]


def build_model(config: NextConfig = NextConfig(), device="cpu", binding=None, decoders: dict | None = None,
                llm: tuple | None = None) -> NextGPT:
    """A freshly initialised (seeded) model on ``device``; ``decoders`` and ``llm`` as :class:`NextGPT` takes them."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = NextGPT(config, binding if binding is not None else bind.pretrained(device=device, progress=False),
                        decoders, llm)
    return model.to(device)


def train_config(config: NextConfig = NextConfig(), device="cpu", progress: bool = False) -> tuple[NextGPT, dict]:
    """Stages 0-3 on the ``sounds`` split's clips: ``(model, info)`` with each stage's losses and the parameter
    counts trained in each stage."""
    model = build_model(config, device)
    clips = world_clips("sounds", config.clips)
    info = {}
    for stage in range(4):
        if stage == 3:
            add_lora(model)
        info[f"stage{stage}_trained"] = trained_parameters(model, stage)
        info[f"stage{stage}_loss"] = train_stage(model, stage, clips, config.steps[stage], config.lr[stage],
                                                 config.batch_size, config.seed, progress)
    return model.eval(), info


#: Bump when the data, the model or the training change what a config trains to.
MODEL_VERSION = 1
CHECKPOINT_NAME = "nextgpt"


def spec(config: NextConfig = NextConfig()) -> dict:
    """What decides the weights: the config, this code's version and the binding models' spec."""
    return {"config": config, "model_version": MODEL_VERSION, "binding": bind.spec()}


def pretrained(config: NextConfig = NextConfig(), device="cpu", retrain: bool = False,
               progress: bool = True) -> NextGPT:
    """The committed or cached model of ``config``, else trained and cached; eval mode, frozen, ``model.meta``."""
    def load(folder: Path) -> NextGPT:
        # The binding models are held outside the state dict, so model.to(device) would leave them behind.
        model = build_model(config, "cpu", binding=bind.pretrained(device=device, progress=False))
        add_lora(model)
        return load_weights(model, folder, device)

    model, meta = load_or_train(CHECKPOINT_NAME, spec(config), lambda: train_config(config, device, progress),
                                save_weights, load, retrain=retrain)
    model.meta = meta
    return model.eval().requires_grad_(False)


def parameter_table(model: NextGPT) -> dict[str, int]:
    """Parameter counts: frozen encoders, LLM, LoRA, input and output projectors."""
    lora = sum(p.numel() for n, p in model.llm.named_parameters() if "lora_" in n)
    rows = 2 * len(model.new_token_ids) * model.hidden  # embedding + LM head
    return {"binding encoders (frozen)": parameter_count(model.binding),
            "LLM (frozen after stage 0, but for its signal-token rows)": parameter_count(model.llm) - lora - rows,
            "signal-token rows of the embedding and LM head (stage 2)": rows, "LoRA": lora,
            "input projector": parameter_count(model.in_proj), "output projectors": parameter_count(model.out_proj)}


__all__ = ["CHECKPOINT_NAME", "MEDIA", "MODEL_VERSION", "NextConfig", "NextGPT", "TARGETS", "add_lora",
           "build_model", "chat", "parameter_table", "pretrained", "prompt", "spec", "stage_batch",
           "train_config", "train_stage", "world_clips"]
