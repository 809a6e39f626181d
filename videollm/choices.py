"""Multiple-choice options: option ``i`` is called ``LETTERS[i]`` (A, B, C, ...) in every suite, parser and model."""

import string

LETTERS = string.ascii_uppercase
