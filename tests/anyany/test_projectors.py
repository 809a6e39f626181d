"""The projectors: shapes, the grouping's hard straight-through assignment, and the L2 distance (not squared)."""

import torch
import torch.nn.functional as F

from videollm.anyany.projectors import GroupingProjector, InputProjector, OutputProjector, l2_alignment_loss


def test_l2_alignment_is_the_mean_euclidean_distance_per_token():
    pred, target = torch.randn(3, 5, 8), torch.randn(3, 5, 8)
    by_hand = sum(float(torch.sqrt(((pred[b, t] - target[b, t]) ** 2).sum())) for b in range(3) for t in range(5)) / 15
    assert abs(l2_alignment_loss(pred, target).item() - by_hand) < 1e-5
    assert abs(l2_alignment_loss(pred, target).item() - F.mse_loss(pred, target).item()) > 0.1  # not the MSE
    same = torch.randn(2, 3, 4, requires_grad=True)
    l2_alignment_loss(same, same.detach().clone()).backward()
    assert torch.equal(same.grad, torch.zeros_like(same))  # 0, not NaN, at a distance of 0


def test_input_projector_gives_its_tokens_per_input():
    assert InputProjector(64, 128)(torch.randn(5, 64)).shape == (5, 1, 128)  # NExT-GPT's original: one token
    proj = InputProjector(64, 32, tokens=4)
    x = torch.randn(3, 64)
    out = proj(x)
    assert out.shape == (3, 4, 32)
    torch.testing.assert_close(out[1, 2], proj.linear(x)[1, 64:96])  # token j is slice j of one linear map


def test_output_projector_reads_states_plus_embeddings_and_emits_its_queries():
    torch.manual_seed(0)
    proj = OutputProjector(d_llm=32, out_tokens=24, out_dim=16).eval()
    h, e = torch.randn(2, 4, 32), torch.randn(2, 4, 32)
    out = proj(h, e)
    assert out.shape == (2, 24, 16)
    torch.testing.assert_close(out, proj(h + e, torch.zeros_like(e)))  # fc(h + E): only the sum matters
    assert isinstance(proj.transformer, torch.nn.Transformer) and proj.queries.shape == (24, 64)
    assert proj.transformer.encoder.layers[0].dropout.p == 0.1  # the paper's dropout (the legacy code's is 0)


def test_grouping_assigns_each_patch_to_one_group_and_passes_gradients_straight_through():
    torch.manual_seed(0)
    group = GroupingProjector(d_in=16, d_llm=32, groups=4)
    patches = torch.randn(2, 10, 16)
    out = group(patches)
    assert out.shape == (2, 4, 32)
    x = group.inp(patches)
    a = group.assignment(x, group.groups.expand(2, -1, -1))
    assert torch.equal(a.sum(-1), torch.ones(2, 10)) and set(a.unique().tolist()) <= {0.0, 1.0}
    out.square().sum().backward()
    assert group.query.weight.grad.abs().sum() > 0  # the hard choice still trains the assignment
    group.eval()
    a = group.assignment(x, group.groups.expand(2, -1, -1))
    assert torch.equal(a.argmax(-1), (group.query(x) @ group.key(group.groups).T).argmax(-1))
