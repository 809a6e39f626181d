"""The mini video LLM's training stages (videollm.vlm.mini.data, sight, align, train): fresh examples with the world's
labels and captions, the vision tower's pre-training and linear probe, caption alignment, and the three stages
chained. Short runs only: they show that each stage learns, not how well the full run does."""

import dataclasses

import numpy as np
import pytest
import torch

from videollm.vlm.mini import align as mini_align, data as mini_data, model as mini_model, sight, train as mini_train
from videollm.vlm.mini.batches import video_pixels
from videollm.world.suites import FRESH_SEED_BASE

TINY = dataclasses.replace(mini_model.MiniVLMConfig(), hidden=32, heads=2, mlp=64, vision_dim=16, num_frames=4,
                           sight_steps=2, sight_batch=2, align_steps=2, align_batch=2, steps=2, batch_size=2)


@pytest.fixture(scope="module")
def batch():
    return mini_data.draw_batch(TINY, 6, [0, 1])


def test_a_batch_holds_fresh_scenes_with_their_labels_captions_and_questions(batch):
    B, T, (h, w), p = 6, TINY.num_frames, TINY.size, TINY.patch_size
    assert batch.frames.dtype == torch.uint8 and tuple(batch.frames.shape) == (B, T, 3, h, w)
    assert tuple(batch.color.shape) == (B, T, h // p, w // p, mini_data.NUM_COLORS)
    assert tuple(batch.shape.shape) == (B, T, h // p, w // p, mini_data.NUM_SHAPES)
    assert batch.background.dtype == torch.int64 and tuple(batch.background.shape) == (B, T)
    for shares in (batch.color, batch.shape):  # shares of a cell's pixels: they sum to one
        torch.testing.assert_close(shares.sum(-1), torch.ones(shares.shape[:-1]))
    assert (batch.color[..., 1:].sum(-1) > 0).any(), "some cell should show an object"
    assert len(batch.records) == len(batch.captions) == B
    assert {r["suite"] for r in batch.records} == set(TINY.suites)  # suites in turn
    assert all(r["seed"] >= FRESH_SEED_BASE for r in batch.records)
    assert all(c.startswith("In front of ") for c in batch.captions)
    again = mini_data.draw_batch(TINY, 6, [0, 1])
    assert torch.equal(again.frames, batch.frames) and again.records == batch.records
    other = mini_data.draw_batch(TINY, 6, [0, 2])
    assert not {r["seed"] for r in other.records} & {r["seed"] for r in batch.records}


def test_the_stream_gives_the_same_batches_with_or_without_background_workers():
    here = list(mini_data.stream(TINY, 2, 3, "test", workers=0))
    there = list(mini_data.stream(TINY, 2, 3, "test", workers=2))
    assert len(here) == len(there) == 3
    for a, b in zip(here, there):
        assert torch.equal(a.frames, b.frames) and a.records == b.records
    assert not torch.equal(here[0].frames, here[1].frames)
    other_stage = next(mini_data.stream(TINY, 2, 1, "other", workers=0))
    assert other_stage.records != here[0].records


def test_patch_order_is_the_order_of_the_processors_patches():
    """Paint every (frame, cell) with its own grey level, run the real video processor, and read the levels back
    from its patch rows: they come in ``patch_order``."""
    model, processor = mini_model.build_model(TINY)
    T, (h, w), p = 4, (56, 56), TINY.patch_size
    gh, gw = h // p, w // p
    ids = torch.arange(T * gh * gw).reshape(1, T, gh, gw)
    frames = ids.repeat_interleave(p, 2).repeat_interleave(p, 3)[:, :, None].expand(1, T, 3, h, w).to(torch.uint8)
    pixels, grid = video_pixels(processor, frames)
    assert grid.tolist() == [[T // 2, gh, gw]]
    vp = processor.video_processor
    first = pixels.view(len(pixels), 3, 2, p, p)[:, 0, :, 0, 0]  # channel 0, both frames, the patch's corner
    levels = torch.round((first * vp.image_std[0] + vp.image_mean[0]) * 255).long()
    assert torch.equal(levels, sight.patch_order(ids, processor.video_processor.merge_size))


def test_the_sight_loss_rewards_seeing_objects_not_only_the_background():
    """Objects cover a few cells; a tower that calls every cell background must not score well."""
    N, C, S, K = 10, mini_data.NUM_COLORS, mini_data.NUM_SHAPES, mini_data.NUM_BACKGROUNDS
    color, shape = torch.zeros(N, 2, C), torch.zeros(N, 2, S)
    color[:, :, 0], shape[:, :, 0] = 1, 1
    color[0, :, 0], color[0, :, 3], shape[0, :, 0], shape[0, :, 2] = 0, 1, 0, 1  # one red-ish square cell
    target = {"color": color, "shape": shape, "background": torch.zeros(N, 2, dtype=torch.long)}
    right = {"color": 20 * color - 10, "shape": 20 * shape - 10, "background": torch.full((N, 2, K), -10.0)}
    right["background"][..., 0] = 10
    blind = {"color": right["color"].clone(), "shape": right["shape"].clone(), "background": right["background"]}
    blind["color"][0] = blind["color"][1]
    blind["shape"][0] = blind["shape"][1]
    assert sight.sight_loss(right, target) < 0.01
    assert sight.sight_loss(blind, target) > 2
    assert sight.object_accuracy(right["color"], color) == 1.0 and sight.object_accuracy(blind["color"], color) == 0.0


def test_vision_pretraining_lowers_the_loss_and_the_probe_reports_each_label():
    config = dataclasses.replace(TINY, num_frames=2)
    model, processor = mini_model.build_model(config)
    merger = {k: v.clone() for k, v in model.model.visual.merger.state_dict().items()}
    embed = model.get_input_embeddings().weight.detach().clone()
    history = sight.pretrain_vision(model, processor, mini_data.stream(config, 8, 40, "sight", workers=0), 40,
                                    lr=1e-2)
    assert len(history["loss"]) == 40
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5]) - 0.5
    assert np.nanmean(history["color_accuracy"][-5:]) > np.nanmean(history["color_accuracy"][:5])
    # The merger learns to speak in word embeddings; the language model's embeddings are the fixed targets.
    assert any(not torch.equal(v, model.model.visual.merger.state_dict()[k]) for k, v in merger.items())
    assert torch.equal(embed, model.get_input_embeddings().weight)
    plain, _ = mini_model.build_model(config)
    merger = {k: v.clone() for k, v in plain.model.visual.merger.state_dict().items()}
    sight.pretrain_vision(plain, processor, mini_data.stream(config, 2, 2, "sight", workers=0), 2, word_weight=0)
    assert all(torch.equal(v, plain.model.visual.merger.state_dict()[k]) for k, v in merger.items())
    result = sight.probe(model, processor, config, train_videos=8, test_videos=4, steps=50)
    assert set(result) == set(sight.LABELS)
    for name, row in result.items():
        assert 0 <= row["accuracy"] <= 100 and 0 <= row["majority"] <= 100 and row["cells"] > 0, name


def test_the_word_loss_pulls_object_tokens_towards_the_words_that_name_them():
    """A merged token equal to the embedding of its colour word and of its shape word scores far better than one
    pointing elsewhere; tokens without objects do not count."""
    model, processor = mini_model.build_model(TINY)
    ids = sight.word_ids(processor)
    tok = processor.tokenizer
    assert [tok.decode([i]) for i in ids["color"]] == [" " + c for c in sight.COLOR_NAMES]
    assert [tok.decode([i]) for i in ids["shape"]] == [" " + s for s in sight.SHAPES] + [" sign"]
    embed = model.get_input_embeddings().weight.detach()
    words = {k: embed[v] * 50 for k, v in ids.items()}
    merge = 2
    color, shape = torch.zeros(8, 2, mini_data.NUM_COLORS), torch.zeros(8, 2, mini_data.NUM_SHAPES)
    color[:, :, 0], shape[:, :, 0] = 1, 1
    color[:4, :, 0], color[:4, :, 3], shape[:4, :, 0], shape[:4, :, 2] = 0, 1, 0, 1  # token 0: colour 2, shape 1
    target = {"color": color, "shape": shape}
    right = (words["color"][2] + words["shape"][1]).expand(2, -1).clone()
    wrong = (words["color"][5] + words["shape"][3]).expand(2, -1).clone()
    assert sight.word_loss(right, target, words, merge) < sight.word_loss(wrong, target, words, merge) - 5
    wrong[1] = right[1]  # token 1 shows no object: what it says does not matter
    assert sight.word_loss(right, target, words, merge) < sight.word_loss(wrong, target, words, merge)
    empty = {"color": color[4:].repeat(2, 1, 1), "shape": shape[4:].repeat(2, 1, 1)}
    assert sight.word_loss(right, empty, words, merge) == 0


def test_caption_batches_train_only_on_the_caption():
    model, processor = mini_model.build_model(TINY)
    b = mini_data.draw_batch(TINY, 2, [3])
    pixels, grid = video_pixels(processor, b.frames)
    inputs = mini_align.caption_batch(processor, b.captions, pixels, grid)
    tok = processor.tokenizer
    for row, label, text in zip(inputs["input_ids"], inputs["labels"], b.captions):
        scored = label[label >= 0]
        assert tok.decode(scored) == text + "<|im_end|>"
        assert torch.equal(row[label >= 0], scored)
        prompt = tok.decode(row[:int((label < 0).long().cumprod(0).sum())])
        assert mini_align.DESCRIBE in prompt and text not in prompt
    n_video = int(np.prod(grid[0].tolist())) // 4
    assert int((inputs["input_ids"][0] == processor.video_token_id).sum()) == n_video


def test_alignment_trains_the_merger_and_the_language_model_not_the_tower():
    model, processor = mini_model.build_model(TINY)
    tower = {k: v.clone() for k, v in model.model.visual.state_dict().items() if not k.startswith("merger.")}
    merger = {k: v.clone() for k, v in model.model.visual.merger.state_dict().items()}
    history = mini_align.align(model, processor, mini_data.stream(TINY, 4, 25, "align", workers=0), 25, lr=1e-2)
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5]) - 0.5
    state = model.model.visual.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in tower.items())
    assert any(not torch.equal(v, model.model.visual.merger.state_dict()[k]) for k, v in merger.items())
    assert all(p.requires_grad for p in model.parameters())  # the freeze is undone


def test_train_config_chains_the_stages_and_skips_those_set_to_zero():
    (model, processor), history = mini_train.train_config(TINY, workers=0)
    assert set(history) == {"sight", "align", "instruct"}
    assert [len(history[k]["step"]) for k in ("sight", "align", "instruct")] == [2, 2, 2]
    bare = dataclasses.replace(TINY, sight_steps=0, align_steps=0)
    _, history = mini_train.train_config(bare, workers=0)
    assert set(history) == {"instruct"}
    with pytest.raises(ValueError, match="steps"):
        mini_train.train(model, processor, iter([]), steps=-1)
