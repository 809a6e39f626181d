"""The sequence builder against the paper's Table 4 layout: order, dropped modalities, prefix, open end, errors."""

import pytest
import torch

from videollm.videopoet.sequence import PAD, SPECIAL, SPECIAL_TOKENS, TASKS, build, collate, describe
from videollm.videopoet.tokens import Vocabulary

VOCAB = Vocabulary(visual=16, audio_levels=4, audio_codes=8)
TABLE_4 = ["<bos>", "<task>", "<bot_i>", "<eot_i>", "<bov_i>", "<eov_i>", "<boa_i>", "<eoa_i>", "<source>", "<res>",
           "<bov_o>", "<eov_o>", "<boa_o>", "<eoa_o>", "<eos>"]


def kinds(seq):
    """Each token's Table 4 name (valued tokens by their kind), with codes and text slots collapsed."""
    out = []
    for name in seq.tokens(VOCAB):
        name = name.split(":")[0] + ">" if name.startswith(("<task:", "<source:", "<res:")) else name
        name = "V" if name[0] == "v" else "A" if name[0] == "a" else name
        if not out or name not in ("V", "A", "<text>") or out[-1] != name:
            out.append(name)
    return out


def test_special_tokens_fit_the_reserved_ids_and_keep_table_4s_order():
    assert len(SPECIAL_TOKENS) <= VOCAB.special and SPECIAL["<pad>"] == PAD == 0
    kinds_in_order = [t.split(":")[0] + ">" if ":" in t else t for t in SPECIAL_TOKENS]
    firsts = [kinds_in_order.index(t) for t in TABLE_4]
    assert firsts == sorted(firsts), "special ids follow Table 4's order"


def test_every_segment_in_table_4s_order_when_all_are_present():
    # no task reads text, video and audio at once; the layout with audio input comes from video-to-audio's order
    seq = build("continuation", VOCAB, text=2, video_in=torch.arange(4), video_out=torch.arange(4, 8),
                source="world", resolution=(56, 32))
    assert kinds(seq) == ["<bos>", "<task>", "<bot_i>", "<text>", "<eot_i>", "<bov_i>", "V", "<eov_i>", "<source>",
                          "<res>", "<bov_o>", "V", "<eov_o>", "<eos>"]
    assert seq.prefix == 2 + (1 + 2 + 1) + (1 + 4 + 1) + 2 + 1   # up to and including <bov_o>
    assert seq.ids[seq.prefix - 1] == SPECIAL["<bov_o>"] and seq.ids[seq.prefix] == VOCAB.visual_offset + 4
    assert seq.text.sum() == 2 and bool((seq.ids[seq.text] == SPECIAL["<text>"]).all())


def test_absent_modalities_drop_their_boundary_tokens():
    t2v = build("text_to_video", VOCAB, text=3, video_out=torch.zeros(2, 2, 2, dtype=torch.long))
    assert kinds(t2v) == ["<bos>", "<task>", "<bot_i>", "<text>", "<eot_i>", "<bov_o>", "V", "<eov_o>", "<eos>"]
    uncond = build("unconditional", VOCAB, video_out=torch.zeros(8, dtype=torch.long))
    assert kinds(uncond) == ["<bos>", "<task>", "<bov_o>", "V", "<eov_o>", "<eos>"] and uncond.prefix == 3
    assert t2v.ids[1] == uncond.ids[1] == SPECIAL["<task:video>"], "one <task> value per output kind"
    i2v = build("image_to_video", VOCAB, video_in=torch.zeros(1, 2, 2, dtype=torch.long),
                video_out=torch.zeros(2, 2, 2, dtype=torch.long))
    assert i2v.ids[1] == SPECIAL["<task:video>"] and "<bot_i>" not in kinds(i2v)


def test_visual_codes_in_raster_order_and_audio_level_major():
    grid = torch.arange(12).reshape(3, 2, 2)
    seq = build("video_to_audio", VOCAB, video_in=grid, audio_out=torch.tensor([[1, 2, 3, 4], [5, 6, 7, 0]]))
    v = seq.ids[3:15] - VOCAB.visual_offset
    assert v.tolist() == list(range(12))
    audio = seq.ids[seq.prefix:seq.prefix + 8] - VOCAB.audio_offset
    assert audio.tolist() == [1, 5, 8 + 2, 8 + 6, 16 + 3, 16 + 7, 24 + 4, 24 + 0]
    assert kinds(seq)[-3:] == ["A", "<eoa_o>", "<eos>"] and seq.ids[seq.prefix - 1] == SPECIAL["<boa_o>"]


def test_a_prompt_stops_after_the_first_begin_token_and_text_to_image_stays_open():
    prompt = build("text_to_video", VOCAB, text=2)
    assert prompt.prefix == len(prompt.ids) and prompt.ids[-1] == SPECIAL["<bov_o>"]
    full = build("text_to_video", VOCAB, text=2, video_out=torch.arange(4))
    assert torch.equal(full.ids[: full.prefix], prompt.ids), "a prompt is the training sequence's prefix"
    picture = build("text_to_image", VOCAB, text=2, video_out=torch.arange(4))
    assert kinds(picture)[-2:] == ["<bov_o>", "V"], "no <eov_o>, no <eos>: a picture can run on into a video"


def test_collate_pads_on_the_right_and_keeps_each_prefix():
    a = build("unconditional", VOCAB, video_out=torch.arange(4))
    b = build("text_to_video", VOCAB, text=3, video_out=torch.arange(4))
    batch = collate([a, b])
    assert batch["input_ids"].shape == (2, len(b.ids)) and batch["prefix"].tolist() == [a.prefix, b.prefix]
    assert batch["attention_mask"][0].tolist() == [1] * len(a.ids) + [0] * (len(b.ids) - len(a.ids))
    assert bool((batch["input_ids"][0, len(a.ids):] == PAD).all()) and batch["text"].sum() == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="text_to_audio"), "unknown task"),
    (dict(task="text_to_video"), "add \\['text'\\]"),
    (dict(task="video_to_audio", video_in=torch.arange(3), text=2), "drop \\['text'\\]"),
    (dict(task="text_to_video", text=2, audio_out=torch.zeros(1, 4, dtype=torch.long)), "writes \\['video'\\] only"),
    (dict(task="unconditional", video_out=torch.rand(4)), "integer tensor of codes"),
    (dict(task="unconditional", video_out=torch.zeros(0, dtype=torch.long)), "empty"),
    (dict(task="unconditional", video_out=torch.tensor([16])), "visual codes must be integers in \\[0, 16\\)"),
    (dict(task="video_to_audio", video_in=torch.arange(3), audio_out=torch.zeros(5, dtype=torch.long)), "\\(F, L\\)"),
    (dict(task="unconditional", source="youtube"), "unknown source"),
    (dict(task="unconditional", resolution=(64, 64)), "no <res> token"),
    (dict(task="text_to_video", text=-1), "int >= 0"),
])
def test_bad_inputs_name_what_to_fix(kwargs, message):
    task = kwargs.pop("task")
    with pytest.raises(ValueError, match=message):
        build(task, VOCAB, **kwargs)


def test_every_task_builds_a_prompt_and_a_training_sequence():
    inputs = {"text": dict(text=2), "video": dict(video_in=torch.arange(4)), "audio": dict(audio_in=None)}
    outputs = {"video": dict(video_out=torch.arange(4)), "audio": dict(audio_out=torch.zeros(2, 4, dtype=torch.long))}
    for name, task in TASKS.items():
        given = {k: v for m in task.required for k, v in inputs[m].items()}
        prompt = build(name, VOCAB, **given)
        full = build(name, VOCAB, **given, **{k: v for m in task.outputs for k, v in outputs[m].items()})
        assert prompt.prefix == full.prefix == len(prompt.ids) and len(full.ids) > full.prefix
        assert describe(int(full.ids[0]), VOCAB) == "<bos>"
