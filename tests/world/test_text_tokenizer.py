"""Tests for videollm.world.text_tokenizer: the offline byte-level BPE (tokenizers + transformers 5.23.0)."""

import json

import pytest

from videollm.world import text_tokenizer as tt
from videollm.world.suites import load_questions


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return tt.course_tokenizer(cache_dir=tmp_path_factory.mktemp("tok"))


def test_special_tokens_are_single_distinct_ids(tok):
    ids = [tok.convert_tokens_to_ids(t) for t in tt.SPECIAL_TOKENS]
    assert len(set(ids)) == len(tt.SPECIAL_TOKENS)
    for token, i in zip(tt.SPECIAL_TOKENS, ids):
        # inside running text a special token is one id, never split into bytes
        assert tok("x" + token + "y", add_special_tokens=False).input_ids.count(i) == 1
        assert tok.convert_ids_to_tokens(i) == token
    assert set(tt.SPECIAL_TOKENS) <= set(tok.all_special_tokens)
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"
    assert tok.pad_token_id is not None and tok.padding_side == "left"


def test_vocabulary_is_small_but_covers_the_course_text(tok):
    assert 600 <= len(tok) <= 2000
    # trained on the questions: their words are whole tokens (far fewer tokens than bytes)
    q = "What colour is the triangle?"
    assert len(tok(q).input_ids) <= 6 < len(q.encode())
    assert tok.convert_ids_to_tokens(tok("user\nassistant").input_ids) == ["user", "Ċ", "assistant"]


def test_encode_decode_round_trip_on_any_text(tok):
    texts = [r["question"] + "\n" + "\n".join(r["options"]) for r in load_questions("mlvu", "test")[:20]]
    texts += ["héllo wörld ✓ 日本語 🙂", "  two  spaces\tand tab", ""]
    for text in texts:
        assert tok.decode(tok(text).input_ids) == text
    with_special = "<|im_start|>user\n<|vision_start|><|video_pad|><|video_pad|><|vision_end|>Hi<|im_end|>"
    ids = tok(with_special).input_ids
    assert tok.decode(ids) == with_special
    assert tok.decode(ids, skip_special_tokens=True) == "user\nHi"


def test_chatml_template_matches_the_hand_written_layout(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "Which?"}], tokenize=False,
                                   add_generation_prompt=True)
    assert text == "<|im_start|>user\nWhich?<|im_end|>\n<|im_start|>assistant\n"


def test_left_padding(tok):
    batch = tok(["A", "B. the red square"], padding=True)
    short, long_ = batch["attention_mask"]
    assert sum(long_) == len(long_) and short[0] == 0 and short[-1] == 1
    assert batch["input_ids"][0][0] == tok.pad_token_id


def test_training_is_deterministic_and_cached(tmp_path, tok):
    lines = tt.corpus()
    a, b = tt.train_bpe(lines), tt.train_bpe(lines)
    assert a.get_vocab() == b.get_vocab() == tok.get_vocab()
    first = tt.course_tokenizer(cache_dir=tmp_path)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and (folders[0] / "tokenizer.json").exists()
    assert folders[0].name.endswith(tt.corpus_hash(lines)[:16])
    again = tt.course_tokenizer(cache_dir=tmp_path)
    assert again.get_vocab() == first.get_vocab() and again is not first


def test_changed_corpus_changes_the_key(tmp_path):
    src = load_questions("videomme", "train")[:5]
    (tmp_path / "videomme").mkdir()
    (tmp_path / "videomme" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in src))
    small = tt.corpus(tmp_path)
    assert all(r["question"] in small and "A. " + r["options"][0] in small for r in src)
    assert tt.corpus_hash(small) != tt.corpus_hash(tt.corpus())


def test_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="videollm.world.suites build"):
        tt.corpus(tmp_path)
    with pytest.raises(ValueError, match="vocab_size"):
        tt.train_bpe(["a b"], vocab_size=100)
