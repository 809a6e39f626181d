"""Unit 04 — LaVIT-style motion (lecture ``04_lavit_motion``, lab ``lab04_lavit_motion``).

- ``estimate``   vectorised block matching, codec motion vectors, end-point error
- ``lavit``      codec motion-vector records -> Video-LaVIT's motion field and its 20x36 input
- ``tokenizer``  a small l2-VQ motion tokenizer and its tokens-per-clip arithmetic
                 (``python -m videollm.motion.tokenizer``)
- ``selector``   the keyframe side: LaVIT's token selector (Gumbel-softmax keep/drop mask) and token merger
- ``keyframe``   keyframe patches of the world and a quick stand-in objective that trains the selector
- ``plots``      motion fields
"""
