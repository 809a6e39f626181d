"""The prefix LM's mask, labels and cached sampling on a tiny transformers Llama, in both attention kernels."""

import pytest
import torch

from videollm.videopoet.prefix_lm import output_labels, prefix_lm_mask, sample


def tiny_llama(implementation: str):
    from transformers import LlamaConfig, LlamaForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LlamaForCausalLM(LlamaConfig(vocab_size=60, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                                             attn_implementation=implementation))
    return model.eval()


def test_the_mask_reads_the_prefix_both_ways_and_the_outputs_causally():
    prefix, attention = torch.tensor([3, 2]), torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    allowed = prefix_lm_mask(prefix, attention)[:, 0] == 0
    assert allowed[0].int().tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0],
                                         [1, 1, 1, 1, 1]]
    assert allowed[1].int().tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0],
                                         [1, 1, 1, 1, 0]], "the padding key is never read"
    assert prefix_lm_mask(prefix, attention, torch.float16).dtype == torch.float16
    assert torch.equal(prefix_lm_mask(prefix, attention.bool()), prefix_lm_mask(prefix, attention))
    labels = output_labels(torch.arange(10).reshape(2, 5), prefix, attention)
    assert labels.tolist() == [[-100, -100, -100, 3, 4], [-100, -100, 7, 8, -100]]


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_in_a_real_decoder_the_prefix_sees_ahead_and_an_output_does_not(implementation):
    model = tiny_llama(implementation)
    ids = torch.randint(0, 60, (2, 9), generator=torch.Generator().manual_seed(1))
    mask = prefix_lm_mask(torch.tensor([5, 5]), torch.ones_like(ids))
    logits = model(input_ids=ids, attention_mask=mask).logits
    in_prefix, in_outputs = ids.clone(), ids.clone()
    in_prefix[:, 4] = (in_prefix[:, 4] + 1) % 60              # the prefix's last token
    in_outputs[:, 7] = (in_outputs[:, 7] + 1) % 60            # an output
    assert not torch.allclose(model(input_ids=in_prefix, attention_mask=mask).logits[:, 0], logits[:, 0])
    torch.testing.assert_close(model(input_ids=in_outputs, attention_mask=mask).logits[:, :7], logits[:, :7])


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_cached_sampling_gives_the_uncached_tokens(implementation):
    model = tiny_llama(implementation)
    prefix = torch.randint(0, 60, (3, 6), generator=torch.Generator().manual_seed(2))
    greedy = sample(model, prefix, 8)
    assert greedy.shape == (3, 8) and torch.equal(greedy, sample(model, prefix, 8, use_cache=False))
    drawn = sample(model, prefix, 8, temperature=1.0, vocab=(20, 40), seed=3)
    assert torch.equal(drawn, sample(model, prefix, 8, use_cache=False, temperature=1.0, vocab=(20, 40), seed=3))
    assert bool(((drawn >= 20) & (drawn < 40)).all()), "only ids of the asked range"
    assert not torch.equal(drawn, sample(model, prefix, 8, temperature=1.0, vocab=(20, 40), seed=4))


def test_eager_attention_misreads_a_boolean_mask_which_is_why_the_mask_is_float():
    """Pins the module docstring's claim (transformers 5.23): if this starts failing, eager reads boolean 4-D masks
    now, and the docstring should say so."""
    model = tiny_llama("eager")
    ids = torch.randint(0, 60, (1, 7), generator=torch.Generator().manual_seed(5))
    floats = prefix_lm_mask(torch.tensor([3]), torch.ones_like(ids))
    assert not torch.allclose(model(input_ids=ids, attention_mask=floats == 0).logits,
                              model(input_ids=ids, attention_mask=floats).logits)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="right only"):
        prefix_lm_mask(torch.tensor([1]), torch.tensor([[0, 1, 1]]))
    with pytest.raises(ValueError, match=r"in \[1, that row's length\]"):
        prefix_lm_mask(torch.tensor([4]), torch.tensor([[1, 1, 1]]))
    with pytest.raises(ValueError, match=r"\(B,\)"):
        output_labels(torch.zeros(2, 3, dtype=torch.long), torch.tensor([1]), torch.ones(2, 3))
    with pytest.raises(ValueError, match="must match"):
        output_labels(torch.zeros(2, 4, dtype=torch.long), torch.tensor([1, 1]), torch.ones(2, 3))
    model, prefix = tiny_llama("sdpa"), torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"\(B, P\)"):
        sample(model, torch.zeros(4, dtype=torch.long), 3)
    for bad in ((40, 20), (-5, 60), (50, 100), (3, 3), [0, 10]):
        with pytest.raises(ValueError, match="0 <= start < stop <= 60"):
            sample(model, prefix, 2, vocab=bad)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample(model, prefix, 2, temperature=-1.0)


def test_a_range_per_step_and_prefix_embeddings():
    model = tiny_llama("sdpa")
    prefix = torch.randint(0, 60, (2, 5), generator=torch.Generator().manual_seed(5))
    ranges = [(0, 10), (10, 20), (20, 30), (30, 40)]
    drawn = sample(model, prefix, 4, temperature=1.0, vocab=ranges, seed=1)
    assert ((drawn // 10) == torch.arange(4)).all(), "step k draws from range k"
    embeds = model.get_input_embeddings()(prefix)
    assert torch.equal(sample(model, prefix, 6, prefix_embeds=embeds), sample(model, prefix, 6))
    other = sample(model, prefix, 6, prefix_embeds=embeds + 0.3, use_cache=False)
    assert torch.equal(other, sample(model, prefix, 6, prefix_embeds=embeds + 0.3)), "uncached reads them too"
    with pytest.raises(ValueError, match="one \\(start, stop\\) per step: 4; got 3"):
        sample(model, prefix, 4, vocab=ranges[:3])
    with pytest.raises(ValueError, match="prefix_embeds must be \\(B, P, hidden\\)"):
        sample(model, prefix, 2, prefix_embeds=embeds[:, :3])
