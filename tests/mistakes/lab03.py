"""Typical wrong implementations for lab03 (early fusion: projector, placeholders, scatter, VQ interleaving, masks)."""

from tests.mistakes import Mistake

PROJECTOR = '''
class Projector(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, {mid})
        self.act = {act}
        self.linear_2 = nn.Linear({mid}, out_dim)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))
'''

EXPAND = '''
def expand_placeholders(input_ids, placeholder_id, num_tokens):
    is_pad = input_ids == placeholder_id
    if not bool(is_pad.any()):
        raise ValueError("no placeholder in the prompt")
    return input_ids.repeat_interleave(torch.where(is_pad, {n}, 1))
'''

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
    i = int(where[0])
    visual = {visual}
    return torch.cat([input_ids[:i], visual, input_ids[{after}:]])
'''

MAKE_BATCH = '''
def make_batch(prompts, answers, pad_id):
    rows = [torch.cat([p, a]) for p, a in zip(prompts, answers)]
    L = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), L), pad_id, dtype=torch.long)
    attention_mask = torch.zeros(len(rows), L, dtype=torch.long)
    labels = torch.full((len(rows), L), -100, dtype=torch.long)
    for b, (p, a) in enumerate(zip(prompts, answers)):
        n, m = len(p), len(a)
        input_ids[b, :n + m] = torch.cat([p, a])
        attention_mask[b, :n + m] = 1
        {labels}
    {extra}
    return {{"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}}
'''


def make_batch(labels="labels[b, n:n + m] = a", extra="pass"):
    return MAKE_BATCH.format(labels=labels, extra=extra)


# Each entry costs one execution of the lab (about 15 s) in tests/test_labs.py: keep the catalog to distinct
# mistakes.
MISTAKES = {
    "projector_no_gelu": Mistake(
        "projector", PROJECTOR.format(mid="out_dim", act="nn.Identity()"),
        ("test_projector",),
        "leaves out the nonlinearity: two linear layers collapse into one linear map",
    ),
    "projector_wrong_width": Mistake(
        "projector", PROJECTOR.format(mid="in_dim", act="nn.GELU()"),
        ("test_projector",),
        "makes the hidden layer in_dim wide instead of out_dim (transformers' weights no longer load)",
    ),
    "expand_off_by_one": Mistake(
        "expand_placeholders", EXPAND.format(n="num_tokens - 1"),
        ("test_expand", "test_training"),
        "counts the original placeholder as one of the copies and adds num_tokens - 1",
    ),
    "scatter_patch_major": Mistake(
        "scatter_visual", SCATTER.format(flat="features.transpose(1, 2).reshape(B, T * P, D)"),
        ("test_scatter", "test_training"),
        "flattens patch-major (patch 0 of every frame first) instead of frame-major",
    ),
    "scatter_in_place": Mistake(
        "scatter_visual", SCATTER.format(flat="features.reshape(B, T * P, D)").replace(
            "return inputs_embeds.masked_scatter(", "return inputs_embeds.masked_scatter_("),
        ("test_scatter",),
        "writes into the caller's inputs_embeds in place",
    ),
    "vq_not_offset": Mistake(
        "interleave_vq", INTERLEAVE.format(visual="codes.reshape(-1).long()", after="i + 1"),
        ("test_interleave",),
        "uses the raw codes as ids: code 5 becomes text token 5",
    ),
    "vq_offset_one_short": Mistake(
        "interleave_vq", INTERLEAVE.format(visual="codes.reshape(-1).long() + text_vocab_size - 1", after="i + 1"),
        ("test_interleave",),
        "offsets by text_vocab_size - 1: code 0 collides with the last text token",
    ),
    "vq_keeps_placeholder": Mistake(
        "interleave_vq", INTERLEAVE.format(visual="codes.reshape(-1).long() + text_vocab_size", after="i"),
        ("test_interleave",),
        "inserts the codes but leaves the placeholder id in the sequence",
    ),
    "labels_not_masked": Mistake(
        "make_batch", make_batch(labels="labels[b, :n + m] = torch.cat([p, a])"),
        ("test_make_batch", "test_training"),
        "trains on the prompt and the visual placeholders too (labels not -100 on the prompt)",
    ),
    "labels_shifted": Mistake(
        "make_batch", make_batch(labels="labels[b, n - 1:n + m - 1] = a"),
        ("test_make_batch", "test_training"),
        "shifts the labels by hand although transformers shifts them inside the loss",
    ),
    "mask_hides_visual_tokens": Mistake(
        "make_batch", make_batch(extra="attention_mask[input_ids == VIDEO_PAD_ID] = 0"),
        ("test_make_batch", "test_training"),
        "treats the visual placeholders like padding: attention mask 0, the LM never sees the video",
    ),
    "mask_prompt_only": Mistake(
        "make_batch", make_batch().replace("attention_mask[b, :n + m] = 1", "attention_mask[b, :n] = 1"),
        ("test_make_batch", "test_training"),
        "attention mask over the prompt only, not the answer",
    ),
}
