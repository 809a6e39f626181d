"""The course's benchmark suites (unit 09): multiple-choice questions about scenes of the event world.

- ``videollm.benchmarks.scenarios``  one scene + one question per call, for every task
- ``videollm.benchmarks.suites``     the suites (Video-MME-, PerceptionTest- and MLVU-like), their manifests in
                                     ``data/benchmarks/``, loading questions, rendering a question's clip
- ``videollm.benchmarks.oracle``     annotation oracles (all frames, or N sampled frames) and a blind baseline
- ``python -m videollm.benchmarks``  build / check the manifests, print the baseline table
"""

from videollm.benchmarks.suites import SUITES, clip_path, load_questions, scene_for

__all__ = ["SUITES", "clip_path", "load_questions", "scene_for"]
