"""The audio tokenizer: a 4-level residual VQ of fixed spectral frames, its level-major ids, and what it keeps of the
world's notes. Checked against ``vector_quantize_pytorch`` 1.32.0 (``ResidualVQ``) and ``torch.stft``."""

import math

import pytest
import torch

from videollm.cache import committed_dir
from videollm.videopoet import audio
from videollm.videopoet.audio import AudioConfig, AudioTokenizer, spectral_frames
from videollm.videopoet.data import clips, sounds
from videollm.videopoet.tokens import from_level_major
from videollm.world.voices import PITCHES, object_name

CONFIG = AudioConfig()
F, L, K, D = CONFIG.frames, CONFIG.levels, CONFIG.codebook_size, CONFIG.bins


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    # An empty data cache, and training forbidden: only the committed weights can answer.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDEOLLM_DATA", str(tmp_path_factory.mktemp("empty_cache")))
        patch.setattr(audio, "train_config", lambda *a, **k: pytest.fail("the committed checkpoint was not used"))
        tok = audio.pretrained(CONFIG)
    assert tok.meta["cached"] and tok.meta["path"] == str(committed_dir(audio.CHECKPOINT_NAME, audio.spec(CONFIG)))
    return tok


@pytest.fixture(scope="module")
def heldout():
    batch = clips("heldout", 64, start=1000)          # not the 300 clips the checkpoint's meta was measured on
    return batch, sounds(batch)


def test_shapes_dtypes_and_token_count(tokenizer, heldout):
    _, sound = heldout
    x = sound[:5]
    feats, codes, ids = tokenizer.features(x), tokenizer.encode(x), tokenizer.tokens(x)
    assert feats.shape == (5, 17, D) and feats.dtype == torch.float32
    assert codes.shape == (5, 17, 4) and codes.dtype == torch.int64
    assert ids.shape == (5, 68) and ids.dtype == torch.int64     # 17 frames at 8 Hz x 4 levels
    out = tokenizer.decode(codes)
    assert out.shape == (5, 17, D) and out.dtype == torch.float32
    assert torch.equal(tokenizer.decode_tokens(ids), out)
    assert tokenizer.decode(codes[..., :1]).shape == (5, 17, D)
    assert torch.equal(tokenizer.encode(x.double()), codes)      # samples are 16-bit values: exact in both
    assert torch.equal(tokenizer(x), ids)
    assert (tokenizer.levels, tokenizer.codebook_size, tokenizer.frames) == (4, K, 17)
    assert tokenizer.vocab_size == 4 * K


def test_ids_are_level_major_with_a_range_per_level(tokenizer, heldout):
    _, sound = heldout
    codes, ids = tokenizer.encode(sound[:8]), tokenizer.tokens(sound[:8])
    for level in range(L):
        block = ids[:, level * F:(level + 1) * F]                 # all frames of this level, in frame order
        assert bool(((block >= level * K) & (block < (level + 1) * K)).all()), f"level {level} out of its range"
        assert torch.equal(block - level * K, codes[:, :, level])
    assert torch.equal(from_level_major(ids, L, K), codes)


def test_encode_is_the_librarys_residual_vq_on_the_same_features(tokenizer, heldout):
    _, sound = heldout
    x = sound[:16]
    z = (spectral_frames(x, CONFIG) - tokenizer.mean) / tokenizer.scale
    tokenizer.rvq.eval()
    with torch.no_grad():
        quantised, codes, _ = tokenizer.rvq(z)
        summed = tokenizer.rvq.get_output_from_indices(codes)
    assert torch.equal(tokenizer.encode(x), codes)
    torch.testing.assert_close(tokenizer.decode(codes), quantised * tokenizer.scale + tokenizer.mean)
    torch.testing.assert_close(summed, quantised)
    # Encoding never trains the codes, whatever mode the module is in.
    before = tokenizer.rvq.codebooks.clone()
    tokenizer.train()
    try:
        assert torch.equal(tokenizer.encode(x), codes)
    finally:
        tokenizer.eval()
    assert torch.equal(tokenizer.rvq.codebooks, before)


def test_features_agree_with_torch_stft_and_read_a_tones_amplitude():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, audio.SAMPLES, generator=g) - 0.5
    hop, n_fft = CONFIG.hop, CONFIG.n_fft
    # torch.stft centres a short window in each n_fft frame; padding by (n_fft - hop) / 2 puts window f on samples
    # f * hop .. (f + 1) * hop - 1, as spectral_frames cuts them (a shift changes phases, not magnitudes).
    pad = (n_fft - hop) // 2
    stft = torch.stft(torch.nn.functional.pad(x, (pad, pad)), n_fft, hop_length=hop, win_length=hop,
                      window=torch.hann_window(hop, periodic=False), center=False, return_complex=True)
    power = stft.abs().square().transpose(1, 2)                               # (N, F, n_fft / 2 + 1)
    window = torch.hann_window(hop, periodic=False)
    expected = torch.log((power * 4 / (n_fft * window.square().sum()) @ audio.filterbank(CONFIG).T).sqrt()
                         + CONFIG.floor)
    torch.testing.assert_close(spectral_frames(x, CONFIG), expected, rtol=1e-4, atol=1e-4)
    # A 440 Hz sine of amplitude 0.3 peaks at the filter centred nearest 440 Hz and reads about 0.3.
    centres = CONFIG.lowest_hz * 2 ** (torch.arange(D) / CONFIG.bins_per_octave)
    t = torch.arange(audio.SAMPLES) / 16000
    feats = spectral_frames((0.3 * torch.sin(2 * math.pi * 440 * t))[None], CONFIG)
    assert int(feats[0, 8].argmax()) == int((centres / 440).log().abs().argmin())
    assert math.exp(float(feats[0, 8].max())) - CONFIG.floor == pytest.approx(0.3, rel=0.15)


def test_each_level_refines_the_reconstruction(tokenizer, heldout):
    _, sound = heldout
    feats = tokenizer.features(sound)
    codes = tokenizer.encode(sound)
    errors = [float((feats - tokenizer.mean).square().mean())]               # no tokens: the mean frame
    errors += [float((tokenizer.decode(codes[..., :level]) - feats).square().mean()) for level in range(1, L + 1)]
    assert all(a > b for a, b in zip(errors, errors[1:])), f"squared error by number of levels: {errors}"
    assert errors[4] < errors[1] / 2, f"the residual levels refine too little: {errors}"


def _notes(batch, feats):
    """Per starting note (a loop, unlike the module): whether its pitch is among the m loudest of the 8 pitches
    in its frame (m = notes starting there), and the chance of that for a random ranking (m / 8)."""
    centres = CONFIG.lowest_hz * 2 ** (torch.arange(D) / CONFIG.bins_per_octave)
    names = list(PITCHES)
    pitch_bin = [int((centres / PITCHES[name]).log().abs().argmin()) for name in names]
    hits, chances = [], []
    for n, clip in enumerate(batch):
        starting = {}
        for obj, onsets in zip(clip.objects, clip.onsets):
            for frame in onsets:
                starting.setdefault(frame, set()).add(names.index(object_name(obj).split()[0]))
        for frame, colours in starting.items():
            loudness = feats[n, frame, pitch_bin]
            top = set(loudness.argsort(descending=True)[:len(colours)].tolist())
            for colour in colours:
                hits.append(colour in top)
                chances.append(len(colours) / 8)
    return sum(hits) / len(hits), sum(chances) / len(chances)


def test_the_committed_tokenizer_keeps_the_notes(tokenizer, heldout):
    batch, sound = heldout
    feats = tokenizer.features(sound)
    decoded = tokenizer.decode(tokenizer.encode(sound))
    recovered, chance = _notes(batch, decoded)
    ceiling, _ = _notes(batch, feats)
    assert chance < 0.25 and ceiling > 0.95, (chance, ceiling)     # the features know the pitch; guessing does not
    assert recovered > 0.9 and recovered > ceiling - 0.05, (recovered, ceiling, chance)
    # The module's vectorised measure counts the same thing.
    targets, bins = audio.note_targets(batch, CONFIG), audio.pitch_bins(CONFIG)
    assert audio.note_recovery(decoded, targets, bins) == pytest.approx((recovered, chance))
    # The checkpoint's stored figures say the same: levels refine, notes survive.
    held = tokenizer.meta["heldout"]
    assert held["levels"] == [1, 2, 3, 4] and held["snr_db"] == sorted(held["snr_db"])
    assert held["note_recovery"][-1] > 0.9 > held["chance"]


def test_training_is_seeded_and_leaves_the_global_generator_alone():
    config = AudioConfig(steps=3, batch_size=256, codebook_size=16, seed=3)
    feats = spectral_frames(sounds(clips("train", 12)), config)
    state = torch.random.get_rng_state()
    first, second = AudioTokenizer(config), AudioTokenizer(config)
    history = audio.train(first, feats)
    audio.train(second, feats)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first.rvq.codebooks, second.rvq.codebooks)
    assert history["step"] == [1, 2, 3] and len(history["usage"][0]) == config.levels
    torch.testing.assert_close(first.mean, feats.reshape(-1, D).mean(0))
    assert first.encode(sounds(clips("train", 2))).max() < 16


def test_errors_name_the_fix(tokenizer):
    sound = torch.zeros(2, audio.SAMPLES)
    with pytest.raises(ValueError, match=r"sound\[None\]"):
        tokenizer.encode(sound[0])
    with pytest.raises(ValueError, match="divide by 32768"):
        tokenizer.encode(sound.to(torch.int16))
    with pytest.raises(ValueError, match="34000 samples .* got 33000"):
        tokenizer.tokens(sound[:, :33000])
    with pytest.raises(ValueError, match="torch.as_tensor"):
        tokenizer.features(sound.numpy())
    with pytest.raises(ValueError, match="whole number of 2000-sample frames"):
        spectral_frames(sound[:, :1999], CONFIG)
    codes = torch.zeros(2, 17, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="integers"):
        tokenizer.decode(codes.float())
    with pytest.raises(ValueError, match="1 to 4 levels"):
        tokenizer.decode(torch.zeros(2, 17, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(N, F, levels\)"):
        tokenizer.decode(codes[0])
    with pytest.raises(ValueError, match=r"\[0, 128\).*from_level_major"):
        tokenizer.decode(codes + 128)
    with pytest.raises(ValueError, match="not in its level's range"):
        tokenizer.decode_tokens(torch.full((1, 68), 600))
    with pytest.raises(ValueError, match="no note starts"):
        audio.note_recovery(torch.zeros(1, 17, D), torch.zeros(1, 17, 8, dtype=torch.bool), audio.pitch_bins())
