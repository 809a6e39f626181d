"""Signal tokens: NExT-GPT's 4 / 8 / 24, expanded from placeholders, added to a tokenizer, found again."""

import pytest
import torch

from videollm.anyany.signals import (ALL_SIGNAL_TOKENS, SIGNAL_COUNTS, add_signal_tokens, expand_signals,
                                     signal_positions, signal_tokens)
from videollm.world.text_tokenizer import course_tokenizer


def test_counts_and_names_are_nextgpts():
    assert SIGNAL_COUNTS == {"image": 4, "audio": 8, "video": 24}
    assert signal_tokens("image") == ["[IMG0]", "[IMG1]", "[IMG2]", "[IMG3]"]
    assert signal_tokens("video")[-1] == "[VID23]" and len(ALL_SIGNAL_TOKENS) == 36
    with pytest.raises(ValueError, match="unknown output modality"):
        signal_tokens("smell")


def test_placeholders_expand_in_place():
    assert expand_signals("here [IMG] and [AUD].") == ("here [IMG0][IMG1][IMG2][IMG3] and "
                                                      + "".join(f"[AUD{i}]" for i in range(8)) + ".")
    assert expand_signals("no outputs [IMG0] [img]") == "no outputs [IMG0] [img]"


def test_added_tokens_are_single_ids_and_the_embeddings_grow():
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = course_tokenizer()
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2))
    before = len(tok)
    ids = add_signal_tokens(tok, model)
    assert len(tok) == before + 36 and model.get_input_embeddings().weight.shape[0] == len(tok)
    assert tok(expand_signals("look: [IMG]"), add_special_tokens=False).input_ids[-4:] == ids["image"]
    assert len(set(sum(ids.values(), []))) == 36 and min(sum(ids.values(), [])) >= before


def test_positions_of_a_run_and_the_errors():
    ids = [7, 8, 9]
    rows = torch.tensor([[1, 7, 8, 9, 2, 0], [7, 8, 9, 5, 5, 5]])
    assert signal_positions(rows, ids).tolist() == [[1, 2, 3], [0, 1, 2]]
    for bad in ([1, 7, 8, 2, 0, 0],      # cut short
                [7, 8, 9, 7, 8, 9],      # twice
                [8, 7, 9, 0, 0, 0],      # out of order
                [7, 8, 9, 9, 0, 0]):     # a stray extra token
        with pytest.raises(ValueError, match="exactly once, in order"):
            signal_positions(torch.tensor([bad]), ids)


def test_generation_keeps_signal_tokens_in_whole_runs():
    from videollm.anyany.signals import SignalRuns

    ids = {"image": [10, 11, 12, 13], "audio": [20, 21]}
    runs = SignalRuns(ids)
    scores = torch.zeros(3, 30)
    out = runs(torch.tensor([[1, 10], [1, 12], [1, 5]]), scores)
    assert out[0].argmax() == 11 and torch.isinf(out[0]).sum() == 29  # inside a run: only its next token
    assert out[1].argmax() == 13 and torch.isinf(out[1]).sum() == 29
    assert torch.isinf(out[2, [11, 12, 13, 21]]).all() and out[2, [10, 20, 5]].eq(0).all()  # starts only at [X0]
    assert torch.equal(scores, torch.zeros(3, 30))  # the scores passed in are left alone
    single = SignalRuns({"image": [7]})  # a one-token modality: no inner tokens to mask
    assert single(torch.tensor([[7]]), torch.zeros(1, 30)).eq(0).all()
    first = runs(torch.zeros(3, 0, dtype=torch.long), scores)  # generating from embeddings: no ids yet
    assert torch.isinf(first[:, [11, 12, 13, 21]]).all() and first[:, 10].eq(0).all()
