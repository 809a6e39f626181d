"""Unit 00 — the one synthetic world, its clips and suites (lecture ``00_video_as_data``, lab ``lab00_video_as_data``).

- ``shapes``       what the world is made of: shapes (one ``inside`` test), colours, ``WORLD_VERSION``
- ``backgrounds``  plain, gradient and photograph backgrounds
- ``clips``        shapes sliding by whole pixels: exact motion ground truth, fast (units 00, 02, 04)
- ``scenes``       scripted scenes (actions, camera, signs, cut-ins, subtitles, tones), rendered (the suites)
- ``files``        a clip on disk: ``.mp4`` + ``.npz`` ground truth + ``.srt`` + ``.json``, and their cache
- ``glyphs``       a built-in bitmap font for on-screen text
- ``subtitles``    SubRip files and the subtitle lines a model sees with its sampled frames
- ``audio``        tone tracks and a tone detector (the sound track of the event world)
- ``data``         the clip manifest in ``data/`` and its on-demand cache (``python -m videollm.world.data build``)
- ``scenarios``    one scene + one question per call, for every task of the suites
- ``lessons``      clips that teach a rule (what happens when two shapes meet), three questions each (Video-MMMU)
- ``suites``       the Video-MME-, PerceptionTest-, MLVU- and Video-MMMU-like suites and their manifests in
                   ``data/benchmarks/``
                   (``python -m videollm.world.suites build|check``)
- ``qa_frames``    suite questions with their uniformly sampled frames (the training sets of units 03 and 05)
- ``captions``     detailed descriptions of the frames a model sees, written from the ground truth
- ``voices``       sounding clips: each object sounds its colour's pitch in its shape's timbre (unit 07's binding data)
- ``text_tokenizer`` the course's offline byte-level BPE with Qwen2-VL's and LLaVA's special tokens
- ``plots``        figures of the event world
"""
