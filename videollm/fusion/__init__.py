"""Unit 03 — early fusion (lecture ``03_early_fusion``, lab ``lab03_early_fusion``).

- ``model``  continuous features vs VQ codes fed to one small decoder LM
- ``train``  training and evaluating both fusion styles, cached checkpoints (``python -m videollm.fusion.train``)
- ``plots``  accuracy against token cost
"""
