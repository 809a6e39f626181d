"""Unit 05 — the mini video LLM: a tiny ``Qwen2VLForConditionalGeneration`` trained the way real video LLMs are.

transformers' real Qwen2-VL class (vision tower, 2x2 patch merger, M-RoPE decoder) with the course's offline
tokenizer and processor (:mod:`videollm.vlm.inference`), trained in three stages, as LLaVA-OneVision, LLaVA-Video
and Qwen2-VL are, scaled down to minutes on a CPU:

1. **The vision tower learns to see** (:mod:`~videollm.vlm.mini.sight`), the course's stand-in for SigLIP/CLIP
   pre-training: per-patch colour, shape, sign and background labels that the renderer knows
   (:func:`videollm.world.scenes.render_truth`), and a merger that maps each object's token onto the language
   model's embeddings of the words that name it. A linear probe on new scenes measures what the tower sees.
2. **Alignment** (:mod:`~videollm.vlm.mini.align`), LLaVA's first stage: the merger and the language model learn
   to write detailed captions that the world writes from its ground truth (:mod:`videollm.world.captions`);
   the vision tower is frozen.
3. **Instruction tuning** (:func:`~videollm.vlm.mini.train.train`) on questions from the suites' generators on
   *new* scenes at every step (:func:`videollm.world.suites.fresh_question`; never a test scene, nothing to
   memorise), 4, 8 or 16 frames a batch (variable length through M-RoPE).

Every example is drawn fresh in background processes (:mod:`~videollm.vlm.mini.data`). Everything that decides
the weights is in :class:`~videollm.vlm.mini.model.MiniVLMConfig`; the trained model is cached
(:func:`videollm.cache.load_or_train`) as a ``save_pretrained`` folder, ``data_dir()/checkpoints/mini_vlm-<hash>/``,
or found committed in ``data/weights/`` (:func:`videollm.cache.committed_dir`), so
``vlm.load_model("qwen2_vl", checkpoint=that folder)`` also loads it.

How it answers, two ways, both scored by :mod:`videollm.eval` (:mod:`~videollm.vlm.mini.evaluate`):

- **option scores**: the summed log-probability of each option's text as the reply; the best option's letter;
- **generation**: the prompt a real video LLM gets (lettered options, "Answer with the option's letter ..."),
  greedy ``model.generate``, and the reply parsed by lmms-eval's parsers, the path a real model's output takes.

What it scores, against random, blind and the frame-limited oracle, with the probe, the ablations and the
accuracy-against-frames curve, is in the README (unit 05) and ``docs/experiments/05_mini_vlm.md``. Where it fails
is tested by :mod:`~videollm.vlm.mini.diagnose`: the same language model learns to read an object's colour within
a few hundred steps through perfect (ground-truth) tokens, and not through the pre-trained tower's. Trained
through perfect tokens on the suites' questions (:func:`~videollm.vlm.mini.diagnose.perfect_eyes`), it still
answers the mix at chance in 400 steps, though one question type alone is learned when each object's words are
at full strength in its tokens: the suites need such tokens and many more steps.

Command line (``make data`` runs the first; it loads the committed weights when they match the config)::

    $ python -m videollm.vlm.mini build [--force]
    $ python -m videollm.vlm.mini info
    $ python -m videollm.vlm.mini evaluate [--split test] [--no-tasks] [--modes scores generate]
    $ python -m videollm.vlm.mini report [--ablations] [--out docs/figures]
    $ python -m videollm.vlm.mini diagnose [--steps 600] [--suites]
    $ python -m videollm.vlm.mini commit

Modules: ``model`` (:class:`~videollm.vlm.mini.model.MiniVLMConfig`, ``build_model``), ``data`` (fresh examples,
the stream, the fixed training questions), ``sight`` (stage 1 and the probe), ``align`` (stage 2), ``batches``
(prompts, option rows and scores, reply rows), ``train`` (stage 3, the three stages chained, ``pretrained``,
``cached_model``), ``optim`` (the stages' schedule and optimiser step), ``evaluate`` (``predict``, ``generate``,
``evaluate``, ``results_table``, ``frames_curve``), ``diagnose`` (eyes or lookup, and the suites through perfect
eyes), ``plots`` (probe, losses, frames curve, the diagnostic's curves), ``__main__`` (the command line).

Lecture: `lectures/05_llava_ov_qwen2_vl.ipynb` §12.
"""
