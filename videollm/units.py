"""The course's units: for each, its lecture, lab, reference packages and tests, under one slug.

A unit ``NN_slug`` has the lecture ``lectures/NN_slug.ipynb``, the lab ``labNN_slug`` (instructor source in
``solutions/labNN_slug/``, student version in ``labs/labNN_slug/``), worked answers in
``solutions/answers/NN_slug.md``, and its reference code in ``videollm/<package>/`` with tests in
``tests/<package>/``. ``tests/test_units.py`` checks that every path named here exists, and the README's syllabus
table is printed from this table (``python -m videollm.units``).

The layers of ``videollm/`` import in one direction only (``tests/test_layout.py`` reads the import graph)::

    core (io, sampling, cache, checks, record, ...)  ->  world (unit 00)  ->  eval (unit 09)  ->  unit packages

and a unit package imports only the packages of earlier units (fusion, unit 03, uses the VQ-VAE of unit 02).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Unit:
    """One unit of the course; ``ready`` once its lecture, lab, package and tests exist."""

    number: str  # "02"
    slug: str  # "vq_tokenization"
    title: str  # the syllabus line
    package: str  # the reference package under videollm/
    ready: bool = True
    points: int = 20  # the lab's total
    formerly: tuple[str, ...] = ()  # earlier names of the lab, so that a student's old copy is still found

    @property
    def name(self) -> str:
        return f"{self.number}_{self.slug}"

    @property
    def lecture(self) -> str:
        return f"lectures/{self.name}.ipynb"

    @property
    def lab(self) -> str:
        return f"lab{self.name}"

    @property
    def answers(self) -> str:
        return f"solutions/answers/{self.name}.md"

    @property
    def tests(self) -> str:
        return f"tests/{self.package}"

    def paths(self) -> list[str]:
        """Every file and folder this unit owns, relative to the repository root."""
        return [self.lecture, f"solutions/{self.lab}/{self.lab}.ipynb", f"labs/{self.lab}/{self.lab}.ipynb",
                self.answers, f"videollm/{self.package}/__init__.py", self.tests,
                f"tests/mistakes/lab{self.number}.py"]


UNITS: tuple[Unit, ...] = (
    Unit("00", "video_as_data", "Video as data: decoding, frame sampling, the synthetic world and its benchmark "
         "suites", "world", formerly=("lab00_video_warmup",)),
    Unit("01", "vit_patching", "ViT patching: patches, conv = linear, pos-embed resampling, tubelets, Qwen2-VL "
         "merge; CLIP and SigLIP pre-training, zero-shot classification, 729 tokens at 384²", "vit"),
    Unit("02", "vq_tokenization", "VQ tokenization: k-means to VQ-VAE, straight-through estimator, commitment loss "
         "(paper form vs taming's legacy form), EMA codebooks, dead-code restarts, l2 codes, FSQ/LFQ", "vq",
         formerly=("lab02_vq",)),
    Unit("03", "early_fusion", "Early fusion: continuous features through a projector vs VQ codes in the vocabulary, "
         "placeholder layout, tokens per clip, on one small decoder", "fusion"),
    Unit("04", "lavit_motion", "LaVIT motion tokens: keyframe + motion, block matching, MPEG-4 motion vectors, "
         "Video-LaVIT's 20×36 input, a VQ motion tokenizer; the dynamic keyframe tokenizer (token selector and "
         "merger)", "motion", formerly=("lab04_motion",)),
    Unit("05", "llava_ov_qwen2_vl", "LLaVA-OneVision and Qwen2-VL: AnyRes-Max-9, unpadding, frame pooling, "
         "`smart_resize`/`smart_nframes`, M-RoPE; inference with transformers' real classes; a mini video LLM; "
         "LLaVA-Video-178K, emergent abilities, VideoLLaMA3's any-resolution tokens", "vlm",
         formerly=("lab05_vlm_inference",)),
    Unit("06", "adaretake", "AdaReTaKe token compression: chunk redundancy, the capped-simplex projection, layer "
         "allocation, top-k KV eviction in a chunked question-guided prefill, on the real Qwen2-VL classes", "compress"),
    Unit("07", "next_gpt", "NExT-GPT and ImageBind: symmetric InfoNCE and its temperatures, Recall@K, emergent "
         "audio-to-text binding, signal tokens, input and output projectors, a diffusers decoder, LoRA stages", "anyany"),
    Unit("08", "videopoet", "VideoPoet and MAGVIT-v2: causal 3-D convolutions and the latent-frame arithmetic, LFQ "
         "and its bit order, residual-VQ audio tokens, one sequence layout for every task, a prefix LM with its KV "
         "cache", "videopoet"),
    Unit("09", "evaluation", "Evaluating video LLMs: Video-MME, PerceptionTest, MLVU, Video-MMMU and Δknowledge; "
         "answer parsing, baselines, circular evaluation", "eval"),
)


def unit_of_lab(name: str) -> Unit | None:
    """The unit whose lab is called ``name`` now or was called so before; None for no unit."""
    return next((u for u in UNITS if name == u.lab or name in u.formerly), None)


def syllabus_table() -> str:
    """The README's syllabus table (markdown)."""
    rows = ["| # | unit | lecture | lab | package | status |", "|---|---|---|---|---|---|"]
    for u in UNITS:
        if u.ready:
            rows.append(f"| {u.number} | {u.title} | `{u.lecture}` | `{u.lab}` ({u.points} pts) | "
                        f"`videollm/{u.package}/` | **ready** |")
        else:
            root = Path(__file__).resolve().parents[1]
            started = (root / "videollm" / u.package / "__init__.py").exists()
            lecture = (root / u.lecture).exists()
            status = ("planned" if not started else
                      f"in progress: reference code{', lecture' if lecture else ''}; "
                      f"{'lab' if lecture else 'lecture and lab'} to come")
            rows.append(f"| {u.number} | {u.title} | {f'`{u.lecture}`' if lecture else '—'} | — | "
                        f"`videollm/{u.package}/` | {status} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(syllabus_table())
    sys.exit(0)
