"""Recall@K with pessimistic ties, against a sort-based count."""

import pytest
import torch

from videollm.anyany.retrieval import chance_recall, ranks, recall_at_k


def _sorted_rank(row: torch.Tensor, target: int) -> int:
    """Independent: sort by score descending, the right item placed last among its ties; its 1-based position."""
    order = sorted(range(len(row)), key=lambda j: (-float(row[j]), j == target))
    return order.index(target) + 1


def test_ranks_by_hand_with_ties_against_the_model():
    scores = torch.tensor([[0.9, 0.5, 0.9, 0.1],   # right item 2 tied with item 0: rank 2
                           [0.2, 0.8, 0.1, 0.3],   # right item 1 is best: rank 1
                           [0.4, 0.4, 0.4, 0.4]])  # all tied: rank 4, not 1
    assert ranks(scores, torch.tensor([2, 1, 0])).tolist() == [2, 1, 4]
    assert recall_at_k(scores, torch.tensor([2, 1, 0]), (1, 2, 4)) == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3),
                                                                       4: 1.0}


@pytest.mark.parametrize("seed", range(5))
def test_ranks_match_a_sort_on_random_scores_with_many_ties(seed):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 4, (30, 12), generator=g).float()  # few values: many ties
    target = torch.randint(0, 12, (30,), generator=g)
    assert ranks(scores, target).tolist() == [_sorted_rank(scores[q], int(target[q])) for q in range(30)]


def test_chance_and_errors():
    assert chance_recall(200, 1) == 0.005 and chance_recall(3, 5) == 1.0
    with pytest.raises(ValueError, match="NaN"):
        ranks(torch.tensor([[float("nan"), 1.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="index the gallery"):
        ranks(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"\(Q,\)"):
        ranks(torch.zeros(2, 3), torch.tensor([0]))
    with pytest.raises(ValueError, match="positive integers"):
        recall_at_k(torch.zeros(2, 3), torch.tensor([0, 1]), (0,))
