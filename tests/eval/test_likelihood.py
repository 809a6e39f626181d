"""videollm.eval.likelihood: an option's score is the summed log-probability of its tokens; the table pads with -inf."""

import math

import pytest
import torch

from videollm.eval.likelihood import answer_log_likelihood, option_table


def test_answer_log_likelihood_sums_the_answer_tokens_only():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 11, generator=g, dtype=torch.float64)
    tokens = torch.randint(11, (3, 6), generator=g)
    answer = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    targets = torch.where(answer, tokens, torch.full_like(tokens, -100))
    expected = []
    for r in range(3):  # by hand: position p - 1 predicts token p
        expected.append(sum(math.log(torch.softmax(logits[r, p - 1], -1)[tokens[r, p]].item())
                            for p in range(1, 6) if answer[r, p]))
    got = answer_log_likelihood(logits, targets)
    assert got.dtype == torch.float32 and got.shape == (3,)
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float32), atol=1e-5) and got[2] == 0


def test_answer_log_likelihood_says_what_shapes_it_needs():
    with pytest.raises(ValueError, match=r"logits must be \(R, L, V\) and targets \(R, L\)"):
        answer_log_likelihood(torch.zeros(2, 5, 7), torch.zeros(2, 4, dtype=torch.long))


def test_option_table_pads_missing_options_with_minus_infinity():
    scores = torch.tensor([-1.0, -2.0, -3.0, -0.5, -4.0])
    table = option_table(scores, torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 1, 2, 0, 1]), 2)
    assert table.shape == (2, 3) and table[1, 2] == float("-inf")
    assert table[0].tolist() == [-1.0, -2.0, -3.0] and table.argmax(-1).tolist() == [0, 0]
