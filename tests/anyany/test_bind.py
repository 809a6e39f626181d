"""The binding experiment: disjoint splits, the stages train what they should against what they should, and the
committed models retrieve captions from sound far above chance."""

import pytest
import torch

from videollm.anyany import bind
from videollm.anyany.retrieval import chance_recall
from videollm.world.voices import TEMPLATES

TINY = bind.BindConfig(pair_clips=24, sound_clips=24, vision_text_steps=3, audio_steps=3, batch_size=8)


def test_splits_are_disjoint_and_labels_are_one_string_per_set_of_objects():
    starts = sorted(bind.SPLIT_SEEDS.values())
    assert all(b - a >= 10 * max(TINY.pair_clips, bind.BindConfig().sound_clips, bind.TEST_CLIPS)
               for a, b in zip(starts, starts[1:]))
    data = bind.binding_data("test", 30)
    assert data.video.shape == (30, 4, 3, 48, 48) and data.video.dtype == torch.uint8
    assert data.mel.shape == (30, 204, 128)
    # A training caption is the label (the objects listed, template 0) in one of the templates.
    assert all(caption in {t.format(label) for t in TEMPLATES} for caption, label in zip(data.captions, data.labels))
    assert any(c != l for c, l in zip(data.captions, data.labels))  # other templates in training captions
    texts, target = bind.gallery(data.labels)
    assert len(set(texts)) == len(texts) and [texts[i] for i in target] == data.labels
    with pytest.raises(ValueError, match="unknown split"):
        bind.binding_data("train", 3)


def test_each_stage_trains_only_its_part_against_its_targets(monkeypatch):
    seen = {}
    real = bind.train_audio

    def spy(encoder, scale, mel, targets, *args, **kwargs):
        name = next(n for n, e in model.audio.items() if e is encoder)
        seen[name] = targets.clone()
        return real(encoder, scale, mel, targets, *args, **kwargs)

    model = bind.build_model(TINY)
    pairs = bind.binding_data("pairs", TINY.pair_clips, audio=False)
    sounds = bind.binding_data("sounds", TINY.sound_clips)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    monkeypatch.setattr(bind, "train_audio", spy)
    info = bind.train(model, pairs, sounds, 3, 3, batch_size=8)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    for part in ("vision.", "text.", "text_scale.", "audio.emergent.", "audio.learnable.", "audio.supervised.",
                 "audio_scale.learnable."):
        assert any(k.startswith(part) for k in changed), f"{part} did not train"
    assert not any(k.startswith(("audio_scale.emergent.", "audio_scale.supervised.")) for k in changed)  # fixed tau
    assert info["taus"]["emergent"] == pytest.approx(0.05)
    # Emergent and learnable see only video embeddings of the sound clips; supervised sees their captions.
    video = bind.embed(model.vision, sounds.video, "cpu", video=True)
    text = bind.embed(model.text, sounds.captions, "cpu")
    torch.testing.assert_close(seen["emergent"], video)
    torch.testing.assert_close(seen["learnable"], video)
    torch.testing.assert_close(seen["supervised"], text)
    assert all(len(v) == 3 and all(torch.isfinite(torch.tensor(v))) for k, v in info.items() if k.endswith("loss"))


def test_the_committed_models_retrieve_captions_from_sound_far_above_chance():
    model = bind.pretrained(progress=False)
    rows = {r["row"]: r for r in bind.evaluate(model, bind.binding_data("test", 200))}
    gallery = rows["chance"]["gallery"]
    assert rows["chance"]["R@1"] == pytest.approx(100 * chance_recall(gallery, 1))
    emergent, supervised = rows["audio -> text, emergent"], rows["audio -> text, supervised"]
    assert emergent["R@1"] > 30 * rows["chance"]["R@1"]  # measured: 53% at a chance of 0.4% (500 clips)
    assert supervised["R@1"] > emergent["R@1"]            # the pairs emergence does without still help
    assert rows["video -> text (CLIP stage)"]["R@1"] > 30 * rows["chance"]["R@1"]
