"""The continuation benchmark's measuring stick (objects found by colour) and the KV-cache speed measurement."""

import math

import torch

from videollm.videopoet import benchmark
from videollm.videopoet.model import LMConfig, VideoPoetLM


def test_objects_are_found_by_colour_and_missing_ones_are_nan():
    background, red, blue = (40, 40, 40), (230, 25, 75), (0, 130, 200)
    video = torch.tensor(background, dtype=torch.float32).div(255).view(1, 1, 3, 1, 1).repeat(1, 2, 1, 16, 16)
    video[0, 0, :, 2:6, 4:8] = torch.tensor(red).div(255).view(3, 1, 1)          # x 4..7, y 2..5
    video[0, 1, :, 10:12, 0:4] = torch.tensor(red).div(255).view(3, 1, 1) * 0.95  # a little off colour
    found = benchmark.object_centroids(video, [[red, blue]], [background])
    assert found.shape == (1, 2, 2, 2)
    assert found[0, 0, 0].tolist() == [5.5, 3.5] and found[0, 1, 0].tolist() == [1.5, 10.5]
    assert bool(torch.isnan(found[0, :, 1]).all()), "blue is not in the clip"


def test_position_error_counts_only_objects_found_and_reports_the_share():
    truth = torch.tensor([[[[1.0, 1.0], [5.0, 5.0]]]])
    predicted = torch.tensor([[[[4.0, 5.0], [float("nan"), float("nan")]]]])
    error, found = benchmark._position_error(predicted, truth)
    assert math.isclose(error, 5.0) and found == 0.5


def test_the_speed_measurement_decodes_the_same_tokens_both_ways(monkeypatch):
    torch.manual_seed(0)
    model = VideoPoetLM(LMConfig(hidden=32, layers=2, heads=2, intermediate=64, text_width=64, visual_codes=16,
                                 audio_codes=8)).eval()
    monkeypatch.setattr(benchmark, "text_embeddings", lambda captions, device=None: (torch.randn(5, 64), [5]))
    result = benchmark.speed(model, repeats=1)
    assert result["tokens"] == 80 and result["prefix"] == 2 + 7 + 1, "<bos> <task> <bot_i> 5 x text <eot_i> <bov_o>"
    assert result["ratio"] > 0 and result["cached_tokens_per_s"] == 80 / result["cached_s"]


def test_the_token_table_has_the_papers_numbers_and_the_courses():
    tokens = {row["clip"]: row["tokens"] for row in benchmark.token_table()}
    assert tokens["VideoPoet clip"] == 1280 and tokens["VideoPoet after super-resolution"] == 35840
    assert tokens["the course's clip"] == 80 and tokens["the course's continuation context"] == 48
