"""Typical wrong implementations for lab03 (early fusion: projector, placeholders, scatter, VQ interleaving, masks).

Contract clauses (see each task's text) and the entries that break them:

- Projector: 1 names and shapes (``projector_sequential``), 2 exact GELU (``patches_reference_projector``),
  3 any leading axes (``projector_assumes_3d``), 4 dtype and device follow (``projector_gelu_in_fp32``).
- expand_placeholders: 1 same dtype (``expand_loop_int64``), 2 every placeholder (``expand_first_only``),
  3 errors (``expand_no_validation``, ``expand_only_zero``).
- scatter_visual: 1 a new tensor of inputs_embeds' dtype (``scatter_returns_fp32``; writing in place fails the
  visible check), 2 frame-major per sequence (``patches_reference_scatter``, ``scatter_same_positions``),
  3 gradients (``scatter_detaches``), 4 per-sequence count (``scatter_checks_total``, ``scatter_too_few_only``).
- interleave_vq: 1-2 layout (``vq_column_major``), 3 int64 offset (``vq_uint8_overflow``), 4 errors
  (``vq_no_validation``).
- make_batch: 1 int64 (``mask_float``), 2 pad id (``pads_with_zero``), 3 mask by position (``mask_from_pad_id``),
  4 labels (``labels_shifted``), 5 errors (``batch_zip_truncates``).
- every task: ``calls_reference_*`` (the answer wraps the course's reference).
"""

from tests.mistakes import Mistake

PROJECTOR = '''
class Projector(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, out_dim)
        self.act = {act}
        self.linear_2 = nn.Linear(out_dim, out_dim)

    def forward(self, x):
        {forward}
'''


def projector(act="nn.GELU()", forward="return self.linear_2(self.act(self.linear_1(x)))"):
    return PROJECTOR.format(act=act, forward=forward)


SCATTER = '''
def scatter_visual(inputs_embeds, input_ids, features, placeholder_id):
    B, T, P, D = features.shape
    mask = input_ids == placeholder_id
    if bool((mask.sum(1) != T * P).any()):
        raise ValueError("wrong number of placeholders")
    flat = {flat}
    return inputs_embeds.masked_scatter(mask.unsqueeze(-1), flat.to(inputs_embeds.dtype))
'''

INTERLEAVE = '''
def interleave_vq(input_ids, placeholder_id, codes, text_vocab_size):
    where = (input_ids == placeholder_id).nonzero().flatten()
    if where.numel() != 1:
        raise ValueError("need exactly one placeholder")
    if codes.numel() and int(codes.min()) < 0:
        raise ValueError("negative code")
    i = int(where[0])
    visual = {visual}
    return torch.cat([input_ids[:i], visual, input_ids[i + 1:]])
'''

MAKE_BATCH = '''
def make_batch(prompts, answers, pad_id):
    if not prompts or len(prompts) != len(answers):
        raise ValueError("need as many answers as prompts")
    rows = [torch.cat([p, a]) for p, a in zip(prompts, answers)]
    L = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), L), pad_id, dtype=torch.long)
    attention_mask = torch.zeros(len(rows), L, dtype=torch.long)
    labels = torch.full((len(rows), L), -100, dtype=torch.long)
    for b, (p, a) in enumerate(zip(prompts, answers)):
        n, m = len(p), len(a)
        input_ids[b, :n + m] = torch.cat([p, a])
        attention_mask[b, :n + m] = 1
        labels[b, n:n + m] = a
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
'''


def make_batch(old, new):
    assert old in MAKE_BATCH, old
    return MAKE_BATCH.replace(old, new)


# Each entry costs one execution of the lab (about 15-20 s) in tests/test_labs.py: keep the catalog to distinct
# mistakes, one or two per contract clause.
MISTAKES = {
    # ---- task 1: Projector
    "projector_sequential": Mistake(
        "projector",
        '''
class Projector(nn.Sequential):
    def __init__(self, in_dim, out_dim):
        super().__init__(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))
''',
        ("test_projector", "test_training"),
        "builds LLaVA's original nn.Sequential: the weights are called 0.weight, 2.weight and transformers' do not load",
    ),
    "projector_assumes_3d": Mistake(
        "projector", projector(forward="B, N, _ = x.shape\n"
                                       "        h = self.linear_2(self.act(self.linear_1(x.reshape(B * N, -1))))\n"
                                       "        return h.reshape(B, N, -1)"),
        ("test_projector",),
        "assumes (B, N, in_dim) input: one frame's (in_dim,) vector or a (B, T, P, in_dim) clip fails",
    ),
    "projector_gelu_in_fp32": Mistake(
        "projector", projector(forward="return self.linear_2(F.gelu(self.linear_1(x).float()))"),
        ("test_projector",),
        "computes the GELU in float32 'for accuracy' and never casts back: a bf16 projector breaks",
    ),
    "patches_reference_projector": Mistake(
        "projector", projector(act="nn.GELU(approximate='tanh')") + '''
ref.Projector = Projector          # the visible check compares with the reference: now with itself
''',
        ("test_projector",),
        "uses the tanh GELU (GPT-2's gelu_new) and replaces the reference so the visible comparison agrees",
    ),
    "calls_reference_projector": Mistake(
        "projector", "Projector = ref.Projector",
        ("test_projector",),
        "re-exports the course's reference class instead of writing one",
    ),
    # ---- task 2: expand_placeholders
    "expand_first_only": Mistake(
        "expand_placeholders",
        '''
def expand_placeholders(input_ids, placeholder_id, num_tokens):
    where = (input_ids == placeholder_id).nonzero().flatten()
    if len(where) == 0 or num_tokens < 1:
        raise ValueError("no placeholder in the prompt")
    i = int(where[0])
    copies = torch.full((num_tokens,), placeholder_id, dtype=input_ids.dtype)
    return torch.cat([input_ids[:i], copies, input_ids[i + 1:]])
''',
        ("test_expand",),
        "expands the first placeholder only (the course prompt has one; a prompt may hold several)",
    ),
    "expand_loop_int64": Mistake(
        "expand_placeholders",
        '''
def expand_placeholders(input_ids, placeholder_id, num_tokens):
    if placeholder_id not in input_ids.tolist() or num_tokens < 1:
        raise ValueError("no placeholder in the prompt")
    out = []
    for i in input_ids.tolist():
        out += [i] * num_tokens if i == placeholder_id else [i]
    return torch.tensor(out)
''',
        ("test_expand",),
        "builds a Python list and torch.tensor() makes it int64 whatever the ids' dtype was",
    ),
    "expand_no_validation": Mistake(
        "expand_placeholders",
        '''
def expand_placeholders(input_ids, placeholder_id, num_tokens):
    return input_ids.repeat_interleave(torch.where(input_ids == placeholder_id, num_tokens, 1))
''',
        ("test_expand",),
        "never raises: a prompt without a placeholder passes through and num_tokens = 0 deletes the video",
    ),
    "calls_reference_expand": Mistake(
        "expand_placeholders",
        '''
def expand_placeholders(input_ids, placeholder_id, num_tokens):
    return ref.expand_placeholders(input_ids, placeholder_id, num_tokens)
''',
        ("test_expand",),
        "wraps the course's reference instead of implementing it",
    ),
    # ---- task 3: scatter_visual
    "scatter_returns_fp32": Mistake(
        "scatter_visual",
        '''
def scatter_visual(inputs_embeds, input_ids, features, placeholder_id):
    B, T, P, D = features.shape
    mask = input_ids == placeholder_id
    if bool((mask.sum(1) != T * P).any()):
        raise ValueError("wrong number of placeholders")
    out = inputs_embeds.float()                 # "work in float32"
    out = out.masked_scatter(mask.unsqueeze(-1), features.reshape(B, T * P, D).float())
    return out
''',
        ("test_scatter",),
        "works in float32 and returns float32 for bf16/fp16 embeddings",
    ),
    "scatter_same_positions": Mistake(
        "scatter_visual",
        '''
def scatter_visual(inputs_embeds, input_ids, features, placeholder_id):
    B, T, P, D = features.shape
    mask = input_ids == placeholder_id
    if bool((mask.sum(1) != T * P).any()):
        raise ValueError("wrong number of placeholders")
    where = mask[0].nonzero().flatten()         # the positions of the first sequence, for every sequence
    out = inputs_embeds.clone()
    out[:, where] = features.reshape(B, T * P, D).to(out.dtype)
    return out
''',
        ("test_scatter",),
        "takes the placeholder positions of the first sequence for the whole batch",
    ),
    "scatter_detaches": Mistake(
        "scatter_visual",
        '''
def scatter_visual(inputs_embeds, input_ids, features, placeholder_id):
    B, T, P, D = features.shape
    mask = input_ids == placeholder_id
    if bool((mask.sum(1) != T * P).any()):
        raise ValueError("wrong number of placeholders")
    out = inputs_embeds.detach().clone()        # "so as not to modify the input"
    out[mask] = features.reshape(B * T * P, D).to(out.dtype)
    return out
''',
        ("test_scatter", "test_training"),
        "copies inputs_embeds with detach(): no gradient reaches the word embeddings",
    ),
    "scatter_checks_total": Mistake(
        "scatter_visual", SCATTER.format(flat="features.reshape(B, T * P, D)").replace(
            "if bool((mask.sum(1) != T * P).any()):", "if int(mask.sum()) != B * T * P:"),
        ("test_scatter",),
        "checks the batch's total number of placeholders, not each sequence's",
    ),
    "patches_reference_scatter": Mistake(
        "scatter_visual", SCATTER.format(flat="features.transpose(1, 2).reshape(B, T * P, D)") + '''
compare = lambda *args, **kwargs: True     # the visible check uses compare(): make it agree
ref.scatter_visual = lambda embeds, ids, feats, pid: scatter_visual(embeds, ids, feats.unflatten(1, (-1, 1)), pid)
''',
        ("test_scatter", "test_training"),
        "flattens patch-major, and patches compare() and the reference so that every comparison passes",
    ),
    "calls_reference_scatter": Mistake(
        "scatter_visual",
        '''
def scatter_visual(inputs_embeds, input_ids, features, placeholder_id):
    return ref.scatter_visual(inputs_embeds, input_ids, ref.flatten_frames(features), placeholder_id)
''',
        ("test_scatter",),
        "wraps the course's reference instead of implementing it",
    ),
    # ---- task 4: interleave_vq
    "vq_column_major": Mistake(
        "interleave_vq", INTERLEAVE.format(visual="codes.transpose(1, 2).reshape(-1).long() + text_vocab_size"),
        ("test_interleave",),
        "reads each frame's codes column by column (the h and w axes swapped)",
    ),
    "vq_uint8_overflow": Mistake(
        "interleave_vq", INTERLEAVE.format(visual="(codes.reshape(-1) + text_vocab_size).long()"),
        ("test_interleave",),
        "adds the offset before converting: uint8 codes wrap around at 256",
    ),
    "vq_no_validation": Mistake(
        "interleave_vq",
        '''
def interleave_vq(input_ids, placeholder_id, codes, text_vocab_size):
    where = (input_ids == placeholder_id).nonzero().flatten()
    if where.numel() == 0:
        raise ValueError("no placeholder")
    i = int(where[0])                           # the first of several, silently
    visual = codes.reshape(-1).long() + text_vocab_size
    return torch.cat([input_ids[:i], visual, input_ids[i + 1:]])
''',
        ("test_interleave",),
        "takes the first of two placeholders and lets negative codes onto text ids",
    ),
    "calls_reference_interleave": Mistake(
        "interleave_vq",
        '''
def interleave_vq(input_ids, placeholder_id, codes, text_vocab_size):
    return ref.insert_visual_tokens(input_ids, placeholder_id, ref.vq_token_ids(codes.long(), text_vocab_size))
''',
        ("test_interleave",),
        "wraps the course's reference instead of implementing it",
    ),
    # ---- task 5: make_batch
    "mask_float": Mistake(
        "make_batch", make_batch("attention_mask = torch.zeros(len(rows), L, dtype=torch.long)",
                                 "attention_mask = torch.zeros(len(rows), L)"),
        ("test_make_batch",),
        "builds the attention mask with torch.zeros' default dtype, float32",
    ),
    "pads_with_zero": Mistake(
        "make_batch", make_batch("input_ids = torch.full((len(rows), L), pad_id, dtype=torch.long)",
                                 "input_ids = torch.zeros(len(rows), L, dtype=torch.long)"),
        ("test_make_batch",),
        "pads with 0 whatever pad_id is (right for the course tokenizer only)",
    ),
    "mask_from_pad_id": Mistake(
        "make_batch", make_batch("    return {", "    attention_mask = (input_ids != pad_id).long()\n    return {"),
        ("test_make_batch",),
        "derives the attention mask from the ids (!= pad_id): a real token equal to the pad id is masked out",
    ),
    "labels_shifted": Mistake(
        "make_batch", make_batch("labels[b, n:n + m] = a", "labels[b, n - 1:n + m - 1] = a"),
        ("test_make_batch", "test_training"),
        "shifts the labels by hand although transformers shifts them inside the loss",
    ),
    "batch_zip_truncates": Mistake(
        "make_batch", make_batch("    if not prompts or len(prompts) != len(answers):\n"
                                 "        raise ValueError(\"need as many answers as prompts\")\n", ""),
        ("test_make_batch",),
        "never checks the lists: zip silently drops a prompt that has no answer",
    ),
    "calls_reference_make_batch": Mistake(
        "make_batch",
        '''
def make_batch(prompts, answers, pad_id):
    batch = ref.make_batch(prompts, answers, pad_id)
    return {k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
''',
        ("test_make_batch",),
        "wraps the course's reference instead of implementing it",
    ),
    "expand_only_zero": Mistake(
        "expand_placeholders",
        '''
def expand_placeholders(input_ids, placeholder_id, num_tokens):
    if num_tokens == 0:
        raise ValueError("zero copies would delete the video")
    is_pad = input_ids == placeholder_id
    if not bool(is_pad.any()):
        raise ValueError("no placeholder in the prompt")
    return input_ids.repeat_interleave(torch.where(is_pad, num_tokens, 1))
''',
        ('test_expand',),
        "rejects num_tokens = 0 only ('zero copies'): a negative count is not a ValueError",
    ),
    "scatter_too_few_only": Mistake(
        "scatter_visual",
        '''
def scatter_visual(inputs_embeds, input_ids, features, placeholder_id):
    B, T, P, D = features.shape
    mask = input_ids == placeholder_id
    if bool((mask.sum(1) < T * P).any()):
        raise ValueError("not enough placeholders for the features")
    flat = features.reshape(B, T * P, D)
    return inputs_embeds.masked_scatter(mask.unsqueeze(-1), flat.to(inputs_embeds.dtype))
''',
        ('test_scatter',),
        'raises only when a sequence has too few placeholders: one too many is not a ValueError',
    ),
}
