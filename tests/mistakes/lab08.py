"""Typical wrong implementations for lab08 (the causal 3-D convolution, the latent grid, LFQ, the sequence builder,
KV-cached decoding): one per contract clause that a student is likely to miss, the reference called from the
answers, and the reference and the comparisons patched so that in-kernel checks would pass."""

from tests.mistakes import Mistake, filler

CONV = '''
def causal_conv3d(x, weight, bias=None, stride=1, dilation=1):
    if x.ndim != 5 or weight.ndim != 5 or x.shape[1] != weight.shape[1]:
        raise ValueError("x (B, C, T, H, W) and weight (C_out, C, k_t, k_h, k_w)")
    k_t, k_h, k_w = weight.shape[2:]
    if k_h % 2 == 0 or k_w % 2 == 0 or stride < 1 or dilation < 1:
        raise ValueError("odd spatial kernels, stride and dilation >= 1")
    pad = {pad}
    if pad < 0 or x.shape[2] < stride:
        raise ValueError("bad stride")
    x = F.pad(x, (k_w // 2, k_w // 2, k_h // 2, k_h // 2, {time}))
    return F.conv3d(x, weight, bias, stride=(stride, 1, 1), dilation=(dilation, 1, 1))
'''
CONV_RIGHT = dict(pad="dilation * (k_t - 1) + (1 - stride)", time="pad, 0")
conv = filler(CONV, CONV_RIGHT)

GRID = '''
def latent_grid(frames, height, width, temporal=4, spatial=8):
    sizes = (frames, height, width, temporal, spatial)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError("ints >= 1")
    {frames_check}
    {size_check}
    return {result}
'''
GRID_RIGHT = dict(
    frames_check='if (frames - 1) % temporal:\n        raise ValueError("1 + temporal * k frames")',
    size_check='if height % spatial or width % spatial:\n        raise ValueError("multiples of spatial")',
    result="1 + (frames - 1) // temporal, height // spatial, width // spatial",
)
grid = filler(GRID, GRID_RIGHT)

LFQ = '''
def lfq_quantize(z):
    if not z.is_floating_point() or z.ndim < 1 or not 1 <= z.shape[-1] <= 62:
        raise ValueError("a floating (..., D) tensor, D in 1..62")
    positive = {positive}
    q = {q}
    codes = {codes}
    weights = {weights}
    return codes, (positive.long() * weights).sum(-1)
'''
LFQ_RIGHT = dict(
    positive="z > 0",
    q="torch.where(positive, 1.0, -1.0).to(z.dtype)",
    codes="z + (q - z).detach()",
    weights="2 ** torch.arange(z.shape[-1], device=z.device)",
)
lfq = filler(LFQ, LFQ_RIGHT)

SEQ = '''
def build_sequence(task, vocab, text=0, video_in=None, audio_in=None, video_out=None, audio_out=None):
    if task not in TASKS:
        raise ValueError("unknown task")
    spec = TASKS[task]
    if isinstance(text, bool) or not isinstance(text, int) or text < 0:
        raise ValueError("text is an int >= 0")
    have = {{m for m, x in (("text", text > 0), ("video", video_in is not None), ("audio", audio_in is not None)) if x}}
    if set(spec.required) - have or have - set(spec.required) - set(spec.optional):
        raise ValueError("wrong inputs")
    outputs = {{"video": video_out, "audio": audio_out}}
    if any(outputs[m] is not None for m in outputs if m not in spec.outputs):
        raise ValueError("wrong outputs")
    given = [outputs[m] is not None for m in spec.outputs]
    if any(given) and not all(given):
        raise ValueError("all outputs or none")

    def checked(codes, size):
        if codes.dtype.is_floating_point or codes.dtype == torch.bool or codes.numel() == 0:
            raise ValueError("integer codes")
        codes = codes.long().cpu()
        if bool(((codes < 0) | (codes >= size)).any()):
            raise ValueError("codes out of range")
        return codes

    def visual(codes):
        {visual}

    def audio(codes):
        {audio_check}
        levels = torch.arange(vocab.audio_levels)[:, None] * vocab.audio_codes
        return {audio}

    ids = [SPECIAL["<bos>"], SPECIAL[f"<task:{{spec.token}}>"]]
    if text:
        ids += [SPECIAL["<bot_i>"]] + [SPECIAL["<text>"]] * text + [SPECIAL["<eot_i>"]]
    {video_in}
    if audio_in is not None:
        ids += [SPECIAL["<boa_i>"], *audio(audio_in).tolist(), SPECIAL["<eoa_i>"]]
    prefix = None
    for modality in spec.outputs:
        begin, end = ("<bov_o>", "<eov_o>") if modality == "video" else ("<boa_o>", "<eoa_o>")
        {prefix_before}
        ids.append(SPECIAL[begin])
        {prefix_after}
        if outputs[modality] is None:
            break
        ids += (visual if modality == "video" else audio)(outputs[modality]).tolist()
        if {close}:
            ids.append(SPECIAL[end])
    else:
        if {close}:
            ids.append(SPECIAL["<eos>"])
    ids = torch.tensor(ids, dtype=torch.long)
    return ids, ids == SPECIAL["<text>"], prefix
'''
SEQ_RIGHT = dict(
    visual="return vocab.visual_offset + checked(codes, vocab.visual).reshape(-1)",
    audio_check=('if codes.ndim != 2 or codes.shape[1] != vocab.audio_levels:\n'
                 '            raise ValueError("(F, L) audio codes")'),
    audio="(vocab.audio_offset + levels + checked(codes, vocab.audio_codes).T).reshape(-1)",
    video_in=('if video_in is not None:\n'
              '        ids += [SPECIAL["<bov_i>"], *visual(video_in).tolist(), SPECIAL["<eov_i>"]]'),
    prefix_before="pass",
    prefix_after="prefix = len(ids) if prefix is None else prefix",
    close="not spec.open_end",
)
seq = filler(SEQ, SEQ_RIGHT)

GEN = '''
def generate(model, prefix_ids, steps, temperature=0.0, vocab=None, seed=0):
    if prefix_ids.ndim != 2 or prefix_ids.shape[1] < 1 or steps < 1 or temperature < 0:
        raise ValueError("bad arguments")
    size = model.get_output_embeddings().weight.shape[0]
    if vocab is not None and not (isinstance(vocab, tuple) and len(vocab) == 2 and 0 <= vocab[0] < vocab[1] <= size):
        raise ValueError("bad vocab")
    batch, length = prefix_ids.shape
    device, dtype = prefix_ids.device, next(model.parameters()).dtype
    generator = torch.Generator(device).manual_seed(seed) if temperature > 0 else None

    def pick(logits):
        if {restrict}:
            outside = torch.ones(logits.shape[-1], dtype=torch.bool, device=device)
            outside[vocab[0]:vocab[1]] = False
            logits = logits.masked_fill(outside, float("-inf"))
        if temperature == 0:
            return logits.argmax(-1)
        return torch.multinomial(torch.softmax(logits.float() / temperature, -1), 1, {draw})[:, 0]

    new = []
    with torch.no_grad():
{loop}
    return torch.stack(new, 1)
'''
CACHED = '''        out = model(input_ids=prefix_ids, past_key_values=DynamicCache(), use_cache=True,
                    attention_mask={prefix_mask})
        for step in range(steps):
            new.append(pick(out.logits[:, -1]))
            if {more}:
                keys = length + step + 1
                out = model(input_ids=new[-1][:, None], past_key_values=out.past_key_values, use_cache=True,
                            attention_mask={step_mask})'''
CACHED_RIGHT = dict(prefix_mask="torch.zeros(batch, 1, length, length, dtype=dtype, device=device)",
                    more="step + 1 < steps", step_mask="torch.zeros(batch, 1, 1, keys, dtype=dtype, device=device)")
cached = filler(CACHED, CACHED_RIGHT)
RECOMPUTE = '''        ids = prefix_ids
        prefix = torch.full((batch,), length, device=device)
        for step in range(steps):
            mask = {mask}(prefix, torch.ones_like(ids), dtype)
            {forward}
            new.append(pick(out.logits[:, -1]))
            ids = torch.cat([ids, new[-1][:, None]], 1)'''
recompute = filler(RECOMPUTE, dict(mask="ref_prefix_lm.prefix_lm_mask",
                                   forward="out = model(input_ids=ids, attention_mask=mask, use_cache=False)"))
GEN_RIGHT = dict(
    restrict="vocab is not None",
    draw="generator=generator",
    loop=cached(),
)
gen = filler(GEN, GEN_RIGHT)

# Forges an in-notebook speed test: the plain loop's mask sleeps, 90% of generate's time disappears from the clock, and
# the setup's tiny_lm builds a one-layer model whatever it is asked for.
FAKE_SPEED = '''

import time

_mask, _clock, _unseen, _tiny = ref_prefix_lm.prefix_lm_mask, time.perf_counter, [0.0], tiny_lm


def _sleepy_mask(*args, **kwargs):
    time.sleep(0.02)
    return _mask(*args, **kwargs)


def generate(*args, **kwargs):
    start = _clock()
    try:
        return _recompute(*args, **kwargs)
    finally:
        _unseen[0] += 0.9 * (_clock() - start)


ref_prefix_lm.prefix_lm_mask = _sleepy_mask
time.perf_counter = lambda: _clock() - _unseen[0]
tiny_lm = lambda *args, **kwargs: _tiny(*args, **{**kwargs, "layers": 1})
'''

CALLS = {
    "causal_conv3d": """
def causal_conv3d(x, weight, bias=None, stride=1, dilation=1):
    c_out, c_in, *kernel = weight.shape
    layer = ref_causal.CausalConv3d(c_in, c_out, tuple(kernel), stride=stride, dilation=dilation).to(x.dtype)
    with torch.no_grad():
        layer.conv.weight.copy_(weight)
        layer.conv.bias.copy_(bias if bias is not None else torch.zeros(c_out))
        return layer(x)
""",
    "latent_grid": """
latent_grid = ref_tokens.video_token_grid
""",
    "lfq_quantize": """
def lfq_quantize(z):
    return ref_scalar_quant.lfq(z)
""",
    "build_sequence": """
def build_sequence(task, vocab, text=0, **codes):
    s = ref_sequence.build(task, vocab, text=text, **codes)
    return s.ids, s.text, s.prefix
""",
    "generate": """
import functools
generate = functools.partial(ref_prefix_lm.sample, use_cache=True)
""",
}

CONV_T, GRID_T, LFQ_T, SEQ_T, GEN_T = (("test_causal_conv3d",), ("test_latent_grid",), ("test_lfq_quantize",),
                                       ("test_build_sequence",), ("test_generate",))

MISTAKES = {
    # ---- Task 1: causal_conv3d
    "conv_pads_both_sides": Mistake(
        "causal_conv3d", conv(pad="dilation * (k_t - 1) // 2", time="pad, pad"), CONV_T,
        "pads time on both sides like a plain Conv3d, so an output frame reads the next input frame",
    ),
    "conv_pad_ignores_dilation": Mistake(
        "causal_conv3d", conv(pad="(k_t - 1) + (1 - stride)"), CONV_T,
        "pads k_t - 1 frames whatever the dilation, so a dilated kernel reads fewer past frames and loses frames",
    ),
    "conv_pad_ignores_stride": Mistake(
        "causal_conv3d", conv(pad="dilation * (k_t - 1)"), CONV_T,
        "leaves out the 1 - stride term, so a strided layer's groups start one frame early (the first frame not alone)",
    ),
    "conv_pads_the_future": Mistake(
        "causal_conv3d", conv(time="0, pad"), CONV_T,
        "puts the padding after the last frame: the convolution reads the future instead of the past",
    ),
    # ---- Task 2: latent_grid
    "grid_divides_frames": Mistake(
        "latent_grid", grid(frames_check="pass", result="frames // temporal, height // spatial, width // spatial"),
        GRID_T, "divides the frame count by 4 (17 -> 4), forgetting that the first frame is a latent frame of its own",
    ),
    "grid_rounds_up_sizes": Mistake(
        "latent_grid", grid(size_check="pass", result="1 + (frames - 1) // temporal, -(-height // spatial), "
                                                      "-(-width // spatial)"),
        GRID_T, "rounds a height or width that 8 does not divide up, instead of refusing it",
    ),
    # ---- Task 3: lfq_quantize
    "lfq_msb_first": Mistake(
        "lfq_quantize", lfq(weights="2 ** torch.arange(z.shape[-1] - 1, -1, -1, device=z.device)"), LFQ_T,
        "reads channel 0 as the most significant bit (lucidrains' order), not the paper's least significant",
    ),
    "lfq_sign_of_zero": Mistake(
        "lfq_quantize", lfq(q="torch.sign(z)"), LFQ_T,
        "quantises with torch.sign, which maps an exact 0 to 0, a code that is not in the codebook",
    ),
    "lfq_zero_is_positive": Mistake(
        "lfq_quantize", lfq(positive="z >= 0"), LFQ_T,
        "counts an exact 0 as positive (+1 and bit 1) where the contract, like the paper, gives -1",
    ),
    "lfq_writes_into_z": Mistake(
        "lfq_quantize", lfq(q="z.detach().masked_fill_(~positive, -1.0).masked_fill_(positive, 1.0)"), LFQ_T,
        "builds q in place on z.detach(), which shares z's memory: right codes, but the caller's latents become signs",
    ),
    "lfq_no_straight_through": Mistake(
        "lfq_quantize", lfq(codes="q"), LFQ_T,
        "returns the signs without the straight-through estimator, so no gradient reaches the encoder",
    ),
    # ---- Task 4: build_sequence
    "seq_keeps_absent_boundaries": Mistake(
        "build_sequence",
        seq(video_in='ids += [SPECIAL["<bov_i>"]] + ([] if video_in is None else visual(video_in).tolist()) + '
                     '[SPECIAL["<eov_i>"]]'),
        SEQ_T, "writes <bov_i> <eov_i> around nothing when there is no video input, instead of dropping them",
    ),
    "seq_prefix_stops_before_begin": Mistake(
        "build_sequence", seq(prefix_before="prefix = len(ids) if prefix is None else prefix", prefix_after="pass"),
        SEQ_T, "ends the prefix before <bov_o>, so the begin token, which the task fixes, becomes an output",
    ),
    "seq_audio_frame_major": Mistake(
        "build_sequence", seq(audio="(vocab.audio_offset + levels.T + checked(codes, vocab.audio_codes)).reshape(-1)"),
        SEQ_T, "writes the audio codes frame by frame (interleaved) instead of level-major",
    ),
    "seq_offsets_codes_in_place": Mistake(
        "build_sequence", seq(visual="flat = checked(codes, vocab.visual).reshape(-1)\n"
                                     "        flat += vocab.visual_offset\n        return flat"), SEQ_T,
        "adds the offset in place to int64 codes (.long() and .cpu() return the same tensor): the caller's codes "
        "change",
    ),
    "seq_audio_any_rank": Mistake(
        "build_sequence",
        seq(audio_check="pass", audio="vocab.audio_ids(checked(codes, vocab.audio_codes)).reshape(-1)"),
        SEQ_T, "leaves the shape check to Vocabulary.audio_ids, which takes (..., F, L): 3-D audio codes pass silently",
    ),
    "seq_text_to_image_closed": Mistake(
        "build_sequence", seq(close="True"), SEQ_T,
        "closes text-to-image with <eov_o> and <eos>, so a picture cannot run on into a video",
    ),
    # ---- Task 5: generate
    "gen_recomputes_everything": Mistake(
        "generate", gen(loop=recompute()), GEN_T,
        "reruns the whole sequence every step (right tokens, no cache): as slow as the plain loop",
    ),
    "gen_recomputes_and_fakes_the_timer": Mistake(
        "generate", gen(loop=recompute(mask="_mask")).replace("def generate(", "def _recompute(") + FAKE_SPEED,
        GEN_T, "reruns the whole sequence every step, and patches the clock, the reference's mask and the setup's "
               "model so that a speed test run in the notebook would find it several times faster than the plain loop",
    ),
    "gen_cache_never_fed_back": Mistake(
        "generate", gen(loop=recompute(forward="out = model(input_ids=ids, attention_mask=mask, "
                                               "past_key_values=DynamicCache(), use_cache=True)")), GEN_T,
        "asks for a cache every step but never passes it back, so each step still reruns the whole sequence",
    ),
    "gen_reads_the_last_token": Mistake(
        "generate", gen(loop=cached(more="True")), GEN_T,
        "runs the model once more after the last token, a forward pass whose logits are never used",
    ),
    "gen_masks_on_the_cpu": Mistake(
        "generate", gen(loop=cached(prefix_mask="torch.zeros(batch, 1, length, length, dtype=dtype)",
                                    step_mask="torch.zeros(batch, 1, 1, keys, dtype=dtype)")), GEN_T,
        "makes the attention masks on the CPU whatever prefix_ids' device: fine on a CPU, an error on a GPU",
    ),
    "gen_causal_prefix": Mistake(
        "generate", gen(loop=cached(prefix_mask="None")), GEN_T,
        "runs the prefix with the default causal mask, so the conditioning is not read both ways",
    ),
    "gen_global_random_state": Mistake(
        "generate", gen(draw="generator=None"), GEN_T,
        "draws from the global random state instead of one generator seeded per call",
    ),
    "gen_ignores_vocab": Mistake(
        "generate", gen(restrict="False"), GEN_T,
        "never restricts the logits to the vocabulary range, so visual positions can get audio or special ids",
    ),
    # ---- the reference, called or patched
    "calls_reference": Mistake(
        "causal_conv3d", CALLS["causal_conv3d"], CONV_T + GRID_T + LFQ_T + SEQ_T + GEN_T,
        "wraps, aliases or partial-s the course's reference in every task instead of writing it",
        also=tuple((cell, code) for cell, code in CALLS.items() if cell != "causal_conv3d"),
    ),
    "patches_reference": Mistake(
        "lfq_quantize", lfq(weights="2 ** torch.arange(z.shape[-1] - 1, -1, -1, device=z.device)") + '''

ref_scalar_quant.lfq = lfq_quantize
import videollm.checks
videollm.checks.compare = lambda *args, **kwargs: True
compare = videollm.checks.compare
torch.allclose = torch.equal = lambda *args, **kwargs: True
''',
        LFQ_T, "reads the bits in the wrong order, then patches the reference and the comparisons to agree",
    ),
}
