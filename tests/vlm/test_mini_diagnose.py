"""The eyes-or-lookup test of the mini video LLM (videollm.vlm.mini.diagnose): one-object clips, ground-truth tokens
in place of the merger's output, and the colour readout that shows a language model learning to look."""

import dataclasses

import numpy as np
import pytest
import torch

from videollm.vlm.mini import diagnose, model as mini_model
from videollm.vlm.mini.batches import video_pixels
from videollm.world.shapes import COLOR_NAMES, SHAPES

TINY = dataclasses.replace(mini_model.MiniVLMConfig(), hidden=32, heads=2, mlp=64, vision_dim=16, num_frames=4)


@pytest.fixture(scope="module")
def tiny():
    return mini_model.build_model(TINY)


@pytest.fixture(scope="module")
def batch():
    return diagnose.one_object_batch(TINY, 4, [0, 3])


def test_one_object_clips_show_one_object_and_their_captions_name_its_colour(batch):
    B, T, (h, w) = 4, TINY.num_frames, TINY.size
    assert batch.frames.dtype == torch.uint8 and tuple(batch.frames.shape) == (B, T, 3, h, w)
    colours = diagnose.object_colours(batch)
    for i, colour in enumerate(colours):
        shown = batch.color[i, ..., 1:].sum((0, 1, 2)) > 0
        assert shown.sum() == 1 and COLOR_NAMES[int(shown.nonzero())] == colour, "one object, one colour"
        assert batch.captions[i].startswith("In front of ") and f"the {colour} " in batch.captions[i]
    again = diagnose.one_object_batch(TINY, 4, [0, 3])
    assert torch.equal(again.frames, batch.frames) and again.captions == batch.captions


def test_truth_tokens_hold_the_colour_words_over_the_background(tiny, batch):
    model, processor = tiny
    eyes = diagnose.TruthEyes(model, processor)
    merge = model.model.visual.spatial_merge_size
    tokens = diagnose.truth_tokens(batch, merge, eyes.colour_words, eyes.backgrounds)
    B, T, gh, gw = batch.color.shape[:4]
    assert tuple(tokens.shape) == (B * T // 2 * (gh // merge) * (gw // merge), TINY.hidden)
    per_clip = tokens.view(B, -1, TINY.hidden)
    for i, colour in enumerate(diagnose.object_colours(batch)):
        background = eyes.backgrounds[int(batch.background[i, 0])]
        rest = per_clip[i] - background
        empty = rest.norm(dim=-1) < 1e-6
        assert empty.any() and (~empty).any(), "some tokens show the object, most only the background"
        word = eyes.colour_words[COLOR_NAMES.index(colour)]
        cosine = torch.nn.functional.cosine_similarity(rest[~empty], word[None], dim=-1)
        torch.testing.assert_close(cosine, torch.ones_like(cosine))


def test_truth_tokens_with_shapes_add_the_shape_words(tiny, batch):
    model, processor = tiny
    eyes = diagnose.TruthEyes(model, processor, shapes=True)
    assert eyes.shape_words.shape == (len(SHAPES) + 1, TINY.hidden), "a word per shape, then 'sign'"
    merge = model.model.visual.spatial_merge_size
    colours_only = diagnose.truth_tokens(batch, merge, eyes.colour_words, eyes.backgrounds)
    both = diagnose.truth_tokens(batch, merge, eyes.colour_words, eyes.backgrounds, shape_words=eyes.shape_words)
    extra = (both - colours_only).view(len(batch.frames), -1, TINY.hidden)
    for i, shape in enumerate(batch.shape[..., 1:].sum((1, 2, 3)).argmax(-1).tolist()):
        on = extra[i].norm(dim=-1) > 1e-6
        assert on.any(), "the object's tokens hold its shape word"
        cosine = torch.nn.functional.cosine_similarity(extra[i][on], eyes.shape_words[shape][None], dim=-1)
        torch.testing.assert_close(cosine, torch.ones_like(cosine))


def test_presence_tokens_hold_the_words_at_full_weight_wherever_the_object_is(tiny, batch):
    model, processor = tiny
    eyes = diagnose.TruthEyes(model, processor)
    merge = model.model.visual.spatial_merge_size
    by_area = diagnose.truth_tokens(batch, merge, eyes.colour_words, eyes.backgrounds).view(4, -1, TINY.hidden)
    full = diagnose.truth_tokens(batch, merge, eyes.colour_words, eyes.backgrounds, presence=True)
    full = full.view(4, -1, TINY.hidden)
    for i, colour in enumerate(diagnose.object_colours(batch)):
        background = eyes.backgrounds[int(batch.background[i, 0])]
        touched = (by_area[i] - background).norm(dim=-1) > 1e-6
        word = diagnose.SCALE * eyes.colour_words[COLOR_NAMES.index(colour)]
        torch.testing.assert_close(full[i][touched] - background, word.expand(int(touched.sum()), -1))
        torch.testing.assert_close(full[i][~touched], by_area[i][~touched])
        assert (by_area[i][touched] - background).norm(dim=-1).max() < word.norm(), "area weights are fainter"


def test_truth_eyes_replace_the_mergers_output_only_while_entered(tiny, batch):
    model, processor = tiny
    pixels, grid = video_pixels(processor, batch.frames)
    own = model.model.visual(pixels, grid).pooler_output
    eyes = diagnose.TruthEyes(model, processor)
    merge = model.model.visual.spatial_merge_size
    truth = diagnose.truth_tokens(batch, merge, eyes.colour_words, eyes.backgrounds)
    with eyes:
        with pytest.raises(ValueError, match="never shown"):
            model.model.visual(pixels, grid)
        eyes.show(batch)
        torch.testing.assert_close(model.model.visual(pixels, grid).pooler_output, truth)
        eyes.show(diagnose.one_object_batch(TINY, 2, [1]))  # replaces the clips shown before
        with pytest.raises(ValueError, match="never shown"):
            model.model.visual(pixels, grid)
    torch.testing.assert_close(model.model.visual(pixels, grid).pooler_output, own)


def test_truth_eyes_recognise_each_clip_in_any_order_and_repeated(tiny, batch):
    """Option scoring repeats a clip per option, generation batches clips its own way: the eyes must give every
    clip its own tokens whatever the batch it comes in."""
    model, processor = tiny
    eyes = diagnose.TruthEyes(model, processor)
    merge = model.model.visual.spatial_merge_size
    per_clip = diagnose.truth_tokens(batch, merge, eyes.colour_words, eyes.backgrounds).view(4, -1, TINY.hidden)
    other = diagnose.one_object_batch(TINY, 2, [1])
    order = [2, 0, 2, 3]
    pixels, grid = video_pixels(processor, batch.frames[order])
    with eyes:
        eyes.show(batch)
        eyes.show(other, add=True)
        torch.testing.assert_close(model.model.visual(pixels, grid).pooler_output, per_clip[order].flatten(0, 1))
        short = video_pixels(processor, batch.frames[:1, :2])
        with pytest.raises(ValueError, match="never shown"):
            model.model.visual(*short)  # two of the clip's four frames: another video


def test_question_batches_draw_the_frames_the_suites_evaluation_reads():
    """Perfect eyes recognise a test clip by its pixels: the labelled frames of a question's scene must be the
    frames that evaluation takes from the suites (videollm.world.qa_frames)."""
    from videollm.world.qa_frames import question_frames
    from videollm.world.suites import load_questions

    records = load_questions("perception", "test")[:2] + load_questions("mlvu", "test")[:1]
    qb = diagnose.question_batch(records, TINY)
    assert qb.records == records and tuple(qb.color.shape[:2]) == (3, TINY.num_frames)
    for i, record in enumerate(records):
        frames, _ = question_frames(record, TINY.num_frames, TINY.size)
        assert torch.equal(qb.frames[i], torch.from_numpy(frames).permute(0, 3, 1, 2))


def test_perfect_eyes_train_the_stages_through_the_eyes_and_score_every_suite(monkeypatch):
    """The plumbing of the ceiling, on a tiny model and few steps: stage 1 is skipped (the eyes are given), stages
    2 and 3 see every batch through the eyes, and the results table scores the test questions through them."""
    import videollm.vlm.mini.evaluate as evaluate

    shown, replaced = [], []
    show, hook = diagnose.TruthEyes.show, diagnose.TruthEyes._hook

    def spy_show(self, batch, add=False):
        shown.append(len(batch.frames))
        return show(self, batch, add)

    def spy_hook(self, module, inputs, output):
        tokens = hook(self, module, inputs, output)
        replaced.append(len(tokens))
        return tokens

    def scored_through_the_eyes(model, *args, **kwargs):
        assert model.model.visual.merger._forward_hooks, "the suites must be scored through the eyes"
        return evaluate.results_table(model, *args, **kwargs)

    monkeypatch.setattr(diagnose.TruthEyes, "show", spy_show)
    monkeypatch.setattr(diagnose.TruthEyes, "_hook", spy_hook)
    monkeypatch.setattr(diagnose, "results_table", scored_through_the_eyes)
    few = dataclasses.replace(TINY, align_steps=2, steps=2, align_batch=2, batch_size=2, train_frames=(4,))
    monkeypatch.setattr(diagnose, "load_questions", lambda suite, split: evaluate.load_questions(suite, split)[:3])
    monkeypatch.setattr(evaluate, "frame_set", _few_frames)
    rows, table, history = diagnose.perfect_eyes(few, suites=("perception",), workers=0)
    assert "sight" not in history and len(history["align"]["step"]) == 2 and len(history["instruct"]["step"]) == 2
    assert shown == [2, 2, 2, 2, 3], "two caption batches, two question batches, then the test questions"
    tokens = 2 * (TINY.size[0] // TINY.patch_size // TINY.merge) ** 2  # 4 frames: 2 temporal patches
    # stage 2: one tower call a step; stage 3: option scores and the letter loss; then the 3 test clips, scored once
    assert replaced == [2 * tokens] * 6 + [3 * tokens], "every tower call of training and scoring went through the eyes"
    assert rows[0]["suite"] == "perception" and rows[0]["n"] == 3 and "| perception | all |" in table
    with pytest.raises(ValueError, match="fresh=True"):
        diagnose.perfect_eyes(dataclasses.replace(few, fresh=False))


def test_truth_eyes_guard_their_hooks(tiny, batch):
    model, processor = tiny
    eyes = diagnose.TruthEyes(model, processor)
    visual = model.model.visual
    with eyes:
        with pytest.raises(RuntimeError, match="already entered"):
            eyes.__enter__()
        eyes.show(batch)
        pixels, grid = video_pixels(processor, batch.frames)
        hidden = visual(pixels, grid).last_hidden_state
        with pytest.raises(ValueError, match="outside a call of the vision tower"):
            visual.merger(torch.zeros(len(hidden) * 4, TINY.vision_dim))  # no stale clips from the last call
    assert not visual.merger._forward_hooks and not visual._forward_pre_hooks, "all hooks removed on exit"


def test_truth_eyes_see_a_half_precision_model(batch):
    model, processor = mini_model.build_model(TINY)
    model.to(torch.bfloat16)
    eyes = diagnose.TruthEyes(model, processor)
    pixels, grid = video_pixels(processor, batch.frames)
    with eyes:
        eyes.show(batch)
        out = model.model.get_video_features(pixels, grid, return_dict=True).pooler_output
    assert torch.cat(out).dtype == torch.bfloat16


def _few_frames(suite, split, num_frames, size, tasks=None, progress=False):
    """The first three questions of a split with their frames (a stand-in for the whole split's frame set)."""
    from videollm.world.qa_frames import FrameSet, question_frames
    from videollm.world.suites import load_questions

    records = load_questions(suite, split)[:3]
    frames, times = zip(*(question_frames(r, num_frames, size) for r in records))
    return FrameSet(torch.from_numpy(np.stack(frames)).permute(0, 1, 4, 2, 3).contiguous(), records,
                    torch.from_numpy(np.stack(times)))


def test_a_new_language_model_learns_to_read_colours_through_perfect_eyes():
    """The lookup itself is learnable: through ground-truth tokens, a language model trained from scratch writes
    the right colour for most held-out clips within a few hundred alignment steps (chance: 12.5%)."""
    run = diagnose.lookup(eyes="truth", steps=350, every=350, clips=32)
    assert run["step"] == [0, 350] and len(run["loss"]) == 350
    assert run["readout"][0] < 40, "an untrained model should read colours at about chance"
    assert run["readout"][-1] >= 60, f"readout {run['readout']}: the language model did not learn to look"


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match="eyes must be one of"):
        diagnose.lookup(eyes="camera")
    with pytest.raises(ValueError, match="steps and every"):
        diagnose.lookup(steps=0)


def test_lookup_curves_draw_one_line_per_kind_of_eyes_and_chance():
    import matplotlib

    matplotlib.use("Agg")
    from videollm.vlm.mini.plots import lookup_curves

    runs = {"truth": {"step": [0, 100, 200], "readout": [10.0, 60.0, 100.0]},
            "tower": {"step": [0, 100, 200], "readout": [12.0, 9.0, 14.0]}}
    fig = lookup_curves(runs, 12.5)
    fig.canvas.draw()
    lines = [line for line in fig.axes[0].lines if line.get_gid() == "curve"]
    assert [list(line.get_ydata()) for line in lines] == [runs["truth"]["readout"], runs["tower"]["readout"]]
    chance = [line for line in fig.axes[0].lines if line.get_gid() == "random"]
    assert len(chance) == 1 and list(chance[0].get_ydata()) == [12.5, 12.5]
    with pytest.raises(ValueError, match="empty"):
        lookup_curves({}, 12.5)
