"""Unit 05 — the mini video LLM: a tiny ``Qwen2VLForConditionalGeneration`` trained from scratch on the course's suites.

The proof that the whole stack works end to end: transformers' real Qwen2-VL class (vision tower, 2x2 patch
merger, M-RoPE decoder) with the course's offline tokenizer and processor (:mod:`videollm.vlm.inference`), trained on the
*training* split of the three benchmark suites on a CPU in about three minutes, and scored on their held-out *test*
split with :mod:`videollm.eval` against the random baseline.

How it answers: **option scoring by likelihood**. For a question with options ``o_1 .. o_k`` the model reads the
chat prompt (the video placeholders, then the question) and, as the assistant's reply, each option text in turn;
the score of option ``j`` is the summed log-probability of its tokens (and ``<|im_end|>``), and the prediction is
the best-scoring option's letter. Training maximises the softmax over the ``k`` option scores of the right one
(cross-entropy over options; the loss touches the answer tokens only). A tiny model trained for minutes cannot
learn to bind lettered options to letters inside the prompt; scoring the option texts lets it learn the visual
mapping directly (video -> "red", "a cat", "3"), which is what the questions test.

Frames come from :func:`videollm.world.qa_frames.frame_set` (``num_frames`` uniformly sampled, ``size`` pixels) and go
through the real ``Qwen2VLVideoProcessor``. Everything that decides the weights is in :class:`MiniVLMConfig`; the
trained model is cached (:func:`videollm.cache.load_or_train`) as a ``save_pretrained`` folder
``data_dir()/checkpoints/mini_vlm-<hash>/``, so ``vlm.load_model("qwen2_vl", checkpoint=that folder)`` also loads it.

Measured (default config, 300 steps: 72 s of training on a 2-core CPU; evaluation of all three test splits about
15 s). Test split, headline metric in %, against the random baseline and the blind (question-only) baseline of
:mod:`videollm.eval.oracle`:

=============  ==========  ========  ======  =====  ==========================================================
suite          metric      mini VLM  random  blind  per task (mini VLM / random)
=============  ==========  ========  ======  =====  ==========================================================
``videomme``   accuracy    22.9      25.0    22.2   counting 22.9, attribute 25.0, temporal 25.0, ocr 16.7,
                                                    action 20.8, subtitle 27.1 (/ 25.0 each)
``perception`` accuracy    32.1      33.3    33.3   memory 32.5, physics 35.0, counting 28.7 (/ 33.3)
``mlvu``       M-Avg       30.0      16.7    18.0   count 14.0, order 22.0, needle 18.0, **topic 66.0** (/ 16.7)
=============  ==========  ========  ======  =====  ==========================================================

95% bootstrap intervals (``evaluate`` prints them per suite and task): Video-MME 17.7-27.8, PerceptionTest
26.2-37.9, MLVU M-Avg 24.5-36.0: it beats random clearly on MLVU only, through the one task whose answer fills the
frame (the background). What was tried to do better, and how it came out, is in
``docs/experiments/05_mini_vlm.md``.

Command line (``make data`` should run the first)::

    $ python -m videollm.vlm.mini build [--force]
    $ python -m videollm.vlm.mini info
    $ python -m videollm.vlm.mini evaluate [--split test] [--tasks]

Modules: ``model`` (:class:`~videollm.vlm.mini.model.MiniVLMConfig`, ``build_model``), ``batches`` (prompts, option
rows, option scores), ``data`` (training questions and frames), ``train`` (training, ``pretrained``,
``cached_model``), ``evaluate`` (``predict``, ``evaluate``, ``results_table``), ``__main__`` (the command line).

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""
