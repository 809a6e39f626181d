"""The lab-scale emergent experiment: the features, the head, the training loop's contract (lab 07, Task 3), and the
result it must reach (Task 4's calibration)."""

import copy

import pytest
import torch

from videollm.anyany import emergent
from videollm.anyany.infonce import symmetric_infonce


def _pairs(n=48, f=12, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g)
    return x, torch.tanh(x @ torch.randn(f, d, generator=g))


def test_sound_features_are_each_bins_mean_then_std_over_time():
    mel = torch.randn(3, 10, 4)
    features = emergent.sound_features(mel)
    assert features.shape == (3, 8)
    torch.testing.assert_close(features[:, :4], mel.mean(1))
    torch.testing.assert_close(features[:, 4:], mel.std(1))
    with pytest.raises(ValueError, match=r"\(N, T, bins\)"):
        emergent.sound_features(mel[0])


def test_make_head_is_seeded_and_leaves_the_callers_random_state_alone():
    state = torch.random.get_rng_state()
    a, b, c = emergent.make_head(6, 4, seed=1), emergent.make_head(6, 4, seed=1), emergent.make_head(6, 4, seed=2)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)
    assert a(torch.zeros(5, 6)).shape == (5, 4)


def test_training_walks_shuffled_epochs_with_a_fixed_scale_and_reports_each_loss_before_its_update():
    x, y = _pairs(n=40)
    head = emergent.make_head(12, 8, seed=0, width=16)
    twin = copy.deepcopy(head)
    losses = emergent.train_audio_head(head, x, y, steps=4, batch_size=16, seed=3)
    # the same loop written out: a queue refilled with permutations of a seeded CPU generator, scale 1 / tau
    g, queue, expected = torch.Generator().manual_seed(3), torch.empty(0, dtype=torch.long), []
    optimiser = torch.optim.AdamW(twin.parameters(), lr=1e-3, weight_decay=0.01)
    for _ in range(4):
        if len(queue) < 16:
            queue = torch.cat([queue, torch.randperm(40, generator=g)])
        idx, queue = queue[:16], queue[16:]
        loss = symmetric_infonce(twin(x[idx]), y[idx], 1 / 0.05)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        expected.append(loss.item())
    assert all(type(v) is float for v in losses)
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(expected), rtol=1e-5, atol=1e-6)
    assert not head.training


def test_training_freezes_the_targets_and_keeps_the_callers_random_state():
    x, y = _pairs()
    video = y.clone().requires_grad_()
    state = torch.random.get_rng_state()
    head = emergent.make_head(12, 8, seed=0, width=16)
    before = [p.detach().clone() for p in head.parameters()]
    losses = emergent.train_audio_head(head, x, video, steps=30, batch_size=16)
    assert torch.equal(state, torch.random.get_rng_state())
    assert video.grad is None and torch.equal(video.detach(), y)
    assert any(not torch.equal(p, q) for p, q in zip(before, head.parameters()))
    assert sum(losses[-5:]) < sum(losses[:5])


X, Y = _pairs()
BAD = {  # what is wrong -> (keyword arguments, what the error must say)
    "video of other clips": (dict(video=Y[:40]), "same clips"),
    "1-D features": (dict(features=X[:, 0]), "2-D floating"),
    "integer features": (dict(features=X.long()), "2-D floating"),
    "no steps": (dict(steps=0), "steps"),
    "steps=True": (dict(steps=True), "steps"),
    "a batch of one": (dict(batch_size=1), "batch_size"),
    "a batch larger than the clips": (dict(batch_size=49), "larger than"),
    "tau = 0": (dict(tau=0.0), "tau"),
    "tau = NaN": (dict(tau=float("nan")), "tau"),
}


@pytest.mark.parametrize("wrong", BAD)
def test_training_refuses_bad_input_with_a_clear_error(wrong):
    change, message = BAD[wrong]
    args = {**dict(features=X, video=Y, steps=2, batch_size=16), **change}
    with pytest.raises(ValueError, match=message):
        emergent.train_audio_head(emergent.make_head(12, 8), **args)


def test_rotations_are_orthogonal_and_seeded():
    q = emergent.rotation(3, 16)
    torch.testing.assert_close(q @ q.T, torch.eye(16), atol=1e-5, rtol=0)
    assert torch.equal(q, emergent.rotation(3, 16)) and not torch.equal(q, emergent.rotation(4, 16))


@pytest.mark.slow
def test_the_grader_retrieves_from_the_weights_as_the_head_does_and_refuses_other_shapes():
    data = emergent.emergent_data()
    head = emergent.make_head(256, 64, seed=2, width=32)
    turn = emergent.rotation(11, 256)
    weights = [v.detach() for v in head.state_dict().values()]
    with torch.no_grad():
        direct = emergent.similarity_logits(head(data.test_features @ turn), data.text, 1.0).argmax(1).tolist()
    assert emergent.held_out_picks([w.numpy() for w in weights], rotation_seed=11) == direct
    for wrong in (weights[:3], [weights[0].T, *weights[1:]], [weights[0][:, :10], *weights[1:]],
                  [weights[0] * float("nan"), *weights[1:]], {"weights": weights}):
        with pytest.raises(ValueError):
            emergent.held_out_picks(wrong, rotation_seed=11)


@pytest.mark.slow
def test_sound_bound_to_video_alone_finds_its_caption_and_the_shuffled_control_does_not():
    """Lab 07 Task 4's calibration: far above chance for the right pairs, chance for shuffled ones."""
    data = emergent.emergent_data()
    assert data.features.shape == (2000, 256) and data.video.shape == (2000, 64)
    assert data.test_features.shape == (500, 256) and data.text.shape == (len(data.texts), 64)
    chance = 1 / len(data.texts)
    bound = emergent.experiment(data, seed=0)
    control = emergent.experiment(data, seed=0, shuffle=True)
    assert bound[1] > 0.6 and bound[5] > 0.95, bound         # measured: 70.6 / 98.2
    assert control[1] < 5 * chance, control                  # measured: 0.2 (chance 0.4)
