"""VideoPoet's token arithmetic against the paper's numbers, and level-major audio ids."""

import pytest
import torch

from videollm.videopoet.sequence import SPECIAL_TOKENS, build
from videollm.videopoet.tokens import Vocabulary, from_level_major, level_major, video_token_grid, video_tokens


def test_the_papers_token_counts():
    assert video_token_grid(17, 128, 128) == (5, 16, 16) and video_tokens(17, 128, 128) == 1280
    assert video_token_grid(17, 224, 128) == (5, 28, 16) and video_tokens(17, 224, 128) == 2240   # portrait
    assert video_tokens(1, 128, 128) == 256                                                        # a picture
    assert video_tokens(17, 896, 512) == 35840          # "making autoregressive sampling highly impractical"
    assert video_tokens(41, 128, 128) == 11 * 256       # the paper's longer clips
    assert Vocabulary().size == 256 + 262144 + 4096


def test_bad_sizes_name_the_fix():
    with pytest.raises(ValueError, match="does not divide .* 8x: .* 120 x 128"):
        video_tokens(17, 125, 128)
    with pytest.raises(ValueError, match="1 \\+ 4k frames"):
        video_tokens(16, 128, 128)


def test_level_major_puts_each_level_after_the_last_and_inverts():
    codes = torch.tensor([[[1, 2, 3], [4, 5, 6]]])       # (B=1, T=2 frames, L=3 levels), codebook of 10
    ids = level_major(codes, 10)
    assert ids.tolist() == [[1, 4, 12, 15, 23, 26]], "level 0 of every frame, then level 1 (+10), then level 2 (+20)"
    assert torch.equal(from_level_major(ids, 3, 10), codes)
    g = torch.Generator().manual_seed(0)
    many = torch.randint(0, 1024, (2, 5, 106, 4), generator=g)
    assert level_major(many, 1024).shape == (2, 5, 424) and torch.equal(from_level_major(level_major(many, 1024), 4,
                                                                                         1024), many)


def test_the_vocabulary_keeps_the_kinds_apart():
    vocab = Vocabulary()
    visual = vocab.visual_ids(torch.tensor([0, 2 ** 18 - 1]))
    audio = vocab.audio_ids(torch.tensor([[0, 0, 0, 1023]]))      # one frame, four levels
    assert visual.tolist() == [256, 256 + 2 ** 18 - 1]
    assert audio.tolist() == [256 + 2 ** 18, 256 + 2 ** 18 + 1024, 256 + 2 ** 18 + 2048, vocab.size - 1]
    with pytest.raises(ValueError, match="visual codes"):
        vocab.visual_ids(torch.tensor([2 ** 18]))
    with pytest.raises(ValueError, match="4 levels"):
        vocab.audio_ids(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="integers in"):
        level_major(torch.tensor([[1.0, 2.0]]), 10)
    with pytest.raises(ValueError, match="positive integer"):
        from_level_major(torch.tensor([[1, 2]]), 0, 10)
    with pytest.raises(ValueError, match="visual codes must be integers"):
        vocab.visual_ids(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="not in its level's range"):
        from_level_major(torch.tensor([[1, 2, 3, 40]]), 2, 10)


def test_a_bool_is_not_a_size():
    with pytest.raises(ValueError, match="positive integers"):
        video_token_grid(True, 32, 32)
    with pytest.raises(ValueError, match="positive integers"):
        video_token_grid(17, 32, True)


def test_a_vocabulary_too_small_for_the_special_tokens_is_refused():
    n = len(SPECIAL_TOKENS)
    with pytest.raises(ValueError, match=f"Vocabulary\\(special=10\\) leaves no id .* {n} special tokens"):
        Vocabulary(special=10, visual=16)
    small = Vocabulary(special=n, visual=16, audio_levels=4, audio_codes=8)   # exactly enough: the last special id
    assert small.visual_offset == n and build("unconditional", small).ids.max() < n
    for bad in (dict(visual=0), dict(audio_levels=-1), dict(audio_codes=8.0), dict(special=True)):
        with pytest.raises(ValueError, match="must be an int >= 1"):
            Vocabulary(**bad)
