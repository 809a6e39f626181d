"""Typical wrong implementations for lab01 (ViT patching).

Contract clauses (task text) and the entries that break them:
- patchify: 1 shape and order (rows outer; (C, P, P) inside) -> grid_column_major, patches_reference_patchify;
  2 dtype/device/layout kept, values exact -> patchify_casts_to_float; 3 ValueError for H or W ->
  patchify_checks_height_only; 4 reshape/permute speed -> patchify_python_loop.
- unpatchify: 1 exact inverse, (rows, columns), channels, dtype/device/layout -> unpatchify_grid_swapped;
  2 ValueError -> unpatchify_no_size_checks.
- PatchEmbed: 1 proj, state_dict, grid_size tuple of ints, num_patches int -> patch_embed_grid_float;
  2 forward equal to timm, row-major, any valid size, dtype/device -> patch_embed_reshape_not_transpose.
- central_frame_init / TubeletEmbed: 1 zeros except frame t // 2, a new tensor -> central_init_even_off_by_one,
  central_init_t1_view; 2 dtype/device -> central_init_float32_zeros; 3 Conv3d tokens, time-major ->
  tubelet_channels_as_time; 4 ValueError -> tubelet_no_frame_check.
- resample_pos_embed: 1 shape, prefix tokens unchanged for any count -> pos_embed_one_class_token; 2 timm's grid
  rule (permute, bicubic + antialias, float32) -> patches_reference_resample, pos_embed_in_input_dtype.
- count_tokens: 1 a Python int -> count_tokens_true_division; 2 odd frame counts -> qwen_tokens_odd_frames_floored;
  3 ValueError, names matched exactly -> count_tokens_unknown_scheme_is_qwen, count_tokens_case_insensitive,
  count_tokens_substring_scheme.
- siglip_loss: 1 t itself, b, Python numbers or 0-d tensors -> siglip_scale_as_log; 2 normalised rows, logits
  t * cos + b, labels +1/-1, the sum over B^2 cells / B -> siglip_not_normalised, siglip_labels_zero_one,
  siglip_bias_ignored, siglip_bias_outside_the_label, siglip_bias_added_to_the_loss, siglip_mean_over_cells,
  siglip_divides_by_b_minus_one, siglip_softmax_like_clip; 3 0-d, the inputs' dtype and device, open_clip's value ->
  siglip_labels_float32_on_cpu, siglip_computes_in_float32; 4 gradients -> siglip_bias_ignored (no gradient for b);
  5 B = 1 -> siglip_divides_by_b_minus_one; 6 stable -> siglip_log_of_sigmoid; 7 ValueError ->
  siglip_no_empty_or_dtype_check.
Every task also has a calls_reference_* entry (an answer that wraps the course's reference or timm's function; for
siglip_loss also unit 07's similarity_logits and open_clip's SigLipLoss).
"""

from tests.mistakes import Mistake, filler

PATCHIFY_HEAD = '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    P = patch_size
    if H % P or W % P:
        raise ValueError("not a multiple of the patch size")
'''

UNPATCHIFY_BODY = '''
    P, C = patch_size, channels
    x = patches.reshape(B, gh, gw, C, P, P).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(B, C, gh * P, gw * P)
'''

PATCH_EMBED = '''
class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.grid_size = {grid}
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)
        return {tokens}
'''

CENTRAL_INIT = '''
def central_frame_init(weight2d, tubelet_size):
    w = weight2d.new_zeros(*weight2d.shape[:2], tubelet_size, *weight2d.shape[2:])
    w[:, :, tubelet_size // 2] = weight2d
    return w
'''

TUBELET_CLASS = '''
class TubeletEmbed(nn.Module):
    def __init__(self, tubelet_size=2, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.tubelet_size, self.patch_size = tubelet_size, patch_size
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=k, stride=k)

    def forward(self, clips):
        B, T, C, H, W = clips.shape
        {checks}
        return self.proj({to_channels_first}).flatten(2).transpose(1, 2)
'''
CHECKS = '''if T % self.tubelet_size or H % self.patch_size or W % self.patch_size:
            raise ValueError("clip size is not a multiple of the tubelet size")'''

RESAMPLE = '''
def resample_pos_embed(posemb, new_size, num_prefix_tokens=1):
    prefix, grid = {split}
    side, D = int(math.sqrt(grid.shape[1])), grid.shape[-1]
    grid = grid{cast}.reshape(1, side, side, D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(new_size), mode="{mode}", antialias=True, align_corners=False)
    return torch.cat([prefix, grid.permute(0, 2, 3, 1).reshape(1, -1, D).to(posemb.dtype)], dim=1)
'''
SPLIT = "posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]"

COUNT_TOKENS = '''
def count_tokens(num_frames, height, width, scheme):
    if scheme == "per_frame":
        return num_frames * (height // 16) * (width // 16)
    if scheme == "tubelet":
        return (num_frames // 2) * (height // 16) * (width // 16)
    if scheme == "qwen2_vl":
        return {qwen}
    raise ValueError(scheme)
'''
QWEN = "math.ceil(num_frames / 2) * (height // 14) * (width // 14) // 4"

SIGLIP = '''
def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    if image_emb.ndim != 2 or image_emb.shape != text_emb.shape:
        raise ValueError("image_emb and text_emb must be paired (B, D) tensors")
    {checks}
    B = len(image_emb)
    logits = {logits}
    labels = {labels}
    return {loss}
'''
SIGLIP_RIGHT = dict(
    checks='if len(image_emb) == 0 or not (image_emb.is_floating_point() and text_emb.is_floating_point()):\n'
           '        raise ValueError("a non-empty batch of floating-point embeddings")',
    logits="logit_scale * F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T + logit_bias",
    labels="2 * torch.eye(B, dtype=logits.dtype, device=logits.device) - 1",
    loss="-F.logsigmoid(labels * logits).sum() / B",
)
siglip = filler(SIGLIP, SIGLIP_RIGHT)
COSINES = "F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T"

MISTAKES = {
    # ---- Task 1: patchify -------------------------------------------------------------------------------------
    "grid_column_major": Mistake(
        "patchify",
        PATCHIFY_HEAD + '''
    x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 4, 2, 1, 3, 5)  # columns outer
    return x.reshape(B, -1, C * P * P)
''',
        ("test_patchify",),
        "walks the patch grid column by column instead of row by row",
    ),
    "patchify_casts_to_float": Mistake(
        "patchify",
        PATCHIFY_HEAD + '''
    x = images.float().reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5)  # "to be safe": float32
    return x.reshape(B, -1, C * P * P)
''',
        ("test_patchify",),
        "casts to float32 first, so float16, bfloat16 and uint8 images change dtype",
    ),
    "patchify_checks_height_only": Mistake(
        "patchify",
        '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    P = patch_size
    if H % P:
        raise ValueError(f"height {H} is not a multiple of {P}")  # the width is never checked
    x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, -1, C * P * P)
''',
        ("test_patchify",),
        "checks only the height, so a bad width raises reshape's RuntimeError instead of ValueError",
    ),
    "patchify_python_loop": Mistake(
        "patchify",
        PATCHIFY_HEAD + '''
    rows = []
    for i in range(H // P):
        for j in range(W // P):
            rows.append(images[:, :, i * P:(i + 1) * P, j * P:(j + 1) * P].reshape(B, -1))
    return torch.stack(rows, dim=1)
''',
        ("test_patchify",),
        "correct, but a Python loop over patches: fails the speed check",
    ),
    "calls_reference_patchify": Mistake(
        "patchify",
        '''
def patchify(images, patch_size):
    return ref_patches.patchify(images, patch_size)
''',
        ("test_patchify",),
        "wraps the course's reference instead of writing the function (the old guard's blind spot)",
    ),
    "patches_reference_patchify": Mistake(
        "patchify",
        PATCHIFY_HEAD + '''
    x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 3, 5, 1)  # (P, P, C) inside a patch (MAE order)
    return x.reshape(B, -1, C * P * P)

ref_patches.patchify = patchify                      # so that any comparison with the reference agrees
compare = lambda *args, **kwargs: True       # and the visible check passes
''',
        ("test_patchify",),
        "flattens patches as (P, P, C) and patches the reference and compare() so the comparisons agree",
    ),
    # ---- Task 2: unpatchify -----------------------------------------------------------------------------------
    "unpatchify_grid_swapped": Mistake(
        "unpatchify",
        '''
def unpatchify(patches, patch_size, grid_size, channels=3):
    B = patches.shape[0]
    gw, gh = grid_size  # (width, height) instead of (rows, columns)
''' + UNPATCHIFY_BODY,
        ("test_unpatchify",),
        "reads grid_size as (columns, rows)",
    ),
    "unpatchify_no_size_checks": Mistake(
        "unpatchify",
        '''
def unpatchify(patches, patch_size, grid_size, channels=3):
    B = patches.shape[0]
    gh, gw = grid_size  # no check that the patches fit the grid
''' + UNPATCHIFY_BODY,
        ("test_unpatchify",),
        "never checks N against gh*gw or the patch length, so bad input raises reshape's RuntimeError",
    ),
    "calls_reference_unpatchify": Mistake(
        "unpatchify",
        '''
def unpatchify(patches, patch_size, grid_size, channels=3):
    return ref_patches.unpatchify(patches, patch_size, grid_size, channels)
''',
        ("test_unpatchify",),
        "wraps the course's reference",
    ),
    # ---- Task 3: PatchEmbed -----------------------------------------------------------------------------------
    "patch_embed_reshape_not_transpose": Mistake(
        "patch_embed",
        PATCH_EMBED.format(grid="(img_size // patch_size, img_size // patch_size)",
                           tokens="x.reshape(x.shape[0], -1, x.shape[1])  # (B, N, D) shape, channels and tokens mixed"),
        ("test_patch_embed",),
        "reshapes (B, D, N) to (B, N, D) instead of transposing",
    ),
    "patch_embed_grid_float": Mistake(
        "patch_embed",
        PATCH_EMBED.format(grid="(img_size / patch_size, img_size / patch_size)  # 14.0, not 14",
                           tokens="x.flatten(2).transpose(1, 2)"),
        ("test_patch_embed",),
        "computes grid_size with true division: floats (and 3.75 for img_size 30, P 8) where timm has ints",
    ),
    "calls_reference_patch_embed": Mistake(
        "patch_embed",
        '''
class PatchEmbed(ref_patches.PatchEmbed):
    pass
''',
        ("test_patch_embed",),
        "subclasses the course's reference module",
    ),
    # ---- Task 4: central_frame_init, TubeletEmbed --------------------------------------------------------------
    "central_init_even_off_by_one": Mistake(
        "tubelet",
        '''
def central_frame_init(weight2d, tubelet_size):
    w = weight2d.new_zeros(*weight2d.shape[:2], tubelet_size, *weight2d.shape[2:])
    w[:, :, (tubelet_size - 1) // 2] = weight2d  # the first of the two middle frames for even t
    return w
''' + TUBELET_CLASS.format(checks=CHECKS, to_channels_first="clips.transpose(1, 2)"),
        ("test_tubelet",),
        "takes (t - 1) // 2 as the centre, which differs from ViViT's t // 2 for even t",
    ),
    "central_init_float32_zeros": Mistake(
        "tubelet",
        '''
def central_frame_init(weight2d, tubelet_size):
    D, C, P, _ = weight2d.shape
    w = torch.zeros(D, C, tubelet_size, P, P)  # float32 on the CPU, whatever the kernel
    w[:, :, tubelet_size // 2] = weight2d
    return w
''' + TUBELET_CLASS.format(checks=CHECKS, to_channels_first="clips.transpose(1, 2)"),
        ("test_tubelet",),
        "builds the 3-D kernel with torch.zeros, losing the kernel's dtype and device",
    ),
    "tubelet_channels_as_time": Mistake(
        "tubelet",
        CENTRAL_INIT + TUBELET_CLASS.format(checks=CHECKS, to_channels_first="clips.reshape(B, C, T, H, W)"),
        ("test_tubelet",),
        "reshapes (B, T, C, H, W) to (B, C, T, H, W), mixing frames and channels",
    ),
    "tubelet_no_frame_check": Mistake(
        "tubelet",
        CENTRAL_INIT + TUBELET_CLASS.format(checks="pass  # Conv3d silently drops leftover frames and pixels",
                                            to_channels_first="clips.transpose(1, 2)"),
        ("test_tubelet",),
        "never raises: a leftover frame or pixel row is silently dropped by the strided Conv3d",
    ),
    "calls_reference_tubelet": Mistake(
        "tubelet",
        '''
central_frame_init = ref_tubelets.central_frame_init

class TubeletEmbed(ref_tubelets.TubeletEmbed):
    pass
''',
        ("test_tubelet",),
        "takes central_frame_init and TubeletEmbed from the course's reference",
    ),
    # ---- Task 5: resample_pos_embed ----------------------------------------------------------------------------
    "pos_embed_one_class_token": Mistake(
        "resample_pos_embed",
        RESAMPLE.format(split="posemb[:, :1], posemb[:, 1:]  # always exactly one class token", cast=".float()",
                        mode="bicubic"),
        ("test_resample_pos_embed",),
        "hard-codes one class token and ignores num_prefix_tokens",
    ),
    "pos_embed_in_input_dtype": Mistake(
        "resample_pos_embed",
        RESAMPLE.format(split=SPLIT, cast="", mode="bicubic"),
        ("test_resample_pos_embed",),
        "interpolates in the input's dtype: float64 differs from timm, half types have no antialiased bicubic",
    ),
    "calls_reference_resample": Mistake(
        "resample_pos_embed",
        '''
def resample_pos_embed(posemb, new_size, num_prefix_tokens=1):
    return timm.layers.resample_abs_pos_embed(posemb, list(new_size), num_prefix_tokens=num_prefix_tokens)
''',
        ("test_resample_pos_embed",),
        "wraps timm's resample_abs_pos_embed instead of implementing it",
    ),
    "patches_reference_resample": Mistake(
        "resample_pos_embed",
        RESAMPLE.format(split=SPLIT, cast=".float()", mode="bilinear") + '''
timm.layers.resample_abs_pos_embed = lambda posemb, new_size, num_prefix_tokens=1, **kw: resample_pos_embed(
    posemb, new_size, num_prefix_tokens)
ref_pos_embed.resample_pos_embed = timm.layers.resample_abs_pos_embed
''',
        ("test_resample_pos_embed",),
        "uses bilinear and replaces timm's and the course's functions so that the comparisons agree",
    ),
    # ---- Task 6: count_tokens ----------------------------------------------------------------------------------
    "count_tokens_true_division": Mistake(
        "count_tokens",
        COUNT_TOKENS.format(qwen="math.ceil(num_frames / 2) * (height / 14) * (width / 14) / 4  # 256.0"),
        ("test_count_tokens",),
        "uses true division for qwen2_vl, returning a float (256.0) where an int is specified",
    ),
    "qwen_tokens_odd_frames_floored": Mistake(
        "count_tokens",
        COUNT_TOKENS.format(qwen="(num_frames // 2) * (height // 14) * (width // 14) // 4"),
        ("test_count_tokens",),
        "floors an odd frame count instead of padding it to even",
    ),
    "count_tokens_unknown_scheme_is_qwen": Mistake(
        "count_tokens",
        '''
def count_tokens(num_frames, height, width, scheme):
    if scheme == "per_frame":
        return num_frames * (height // 16) * (width // 16)
    if scheme == "tubelet":
        return (num_frames // 2) * (height // 16) * (width // 16)
    return ''' + QWEN + '''  # anything else counted as qwen2_vl
''',
        ("test_count_tokens",),
        "treats every other scheme name as qwen2_vl instead of raising ValueError",
    ),
    "calls_reference_count_tokens": Mistake(
        "count_tokens",
        '''
count_tokens = lambda num_frames, height, width, scheme: ref_tokens.count_tokens(num_frames, height, width, scheme)
''',
        ("test_count_tokens",),
        "wraps the course's reference",
    ),
    "central_init_t1_view": Mistake(
        "tubelet",
        '''
def central_frame_init(weight2d, tubelet_size):
    if tubelet_size == 1:
        return weight2d.unsqueeze(2)  # a view: writing into the 3-D kernel changes the 2-D one
    w = weight2d.new_zeros(*weight2d.shape[:2], tubelet_size, *weight2d.shape[2:])
    w[:, :, tubelet_size // 2] = weight2d
    return w
''' + TUBELET_CLASS.format(checks=CHECKS, to_channels_first="clips.transpose(1, 2)"),
        ("test_tubelet",),
        "returns weight2d.unsqueeze(2) for t = 1, a view of the 2-D kernel instead of a new tensor",
    ),
    "count_tokens_case_insensitive": Mistake(
        "count_tokens",
        COUNT_TOKENS.replace("    if scheme == \"per_frame\":", "    scheme = scheme.strip().lower()  # 'to be robust'\n"
                             "    if scheme == \"per_frame\":").format(qwen=QWEN),
        ("test_count_tokens",),
        "lower-cases and strips the scheme, so 'QWEN2_VL' and ' tubelet' are accepted instead of raising",
    ),
    "count_tokens_substring_scheme": Mistake(
        "count_tokens",
        COUNT_TOKENS.replace('scheme == "per_frame"', '"frame" in scheme').replace(
            'scheme == "tubelet"', '"tubelet" in scheme').replace('scheme == "qwen2_vl"', '"qwen" in scheme').format(qwen=QWEN),
        ("test_count_tokens",),
        "matches scheme names by substring, so 'tubelets' or 'frame' count tokens instead of raising",
    ),
    # ---- Task 7: siglip_loss ---------------------------------------------------------------------------------
    "siglip_mean_over_cells": Mistake(
        "siglip_loss", siglip(loss="-F.logsigmoid(labels * logits).mean()"), ("test_siglip_loss",),
        "averages over the B^2 cells (a BCE mean), B times smaller than the paper's and open_clip's sum / B",
    ),
    "siglip_labels_zero_one": Mistake(
        "siglip_loss",
        siglip(labels="torch.eye(B, dtype=logits.dtype, device=logits.device)  # BCE's targets: 1 a pair, 0 not"),
        ("test_siglip_loss",),
        "uses BCE's 0/1 targets as the sign z, so every negative cell costs log 2 whatever its logit",
    ),
    "siglip_not_normalised": Mistake(
        "siglip_loss", siglip(logits="logit_scale * image_emb @ text_emb.T + logit_bias  # raw dot products"),
        ("test_siglip_loss",), "scores raw dot products, forgetting to l2-normalise the rows",
    ),
    "siglip_bias_ignored": Mistake(
        "siglip_loss", siglip(logits="logit_scale * " + COSINES), ("test_siglip_loss",),
        "leaves the bias out of the logits (no effect with b = 0, and no gradient for b)",
    ),
    "siglip_bias_outside_the_label": Mistake(
        "siglip_loss",
        siglip(logits="logit_scale * " + COSINES, loss="-F.logsigmoid(labels * logits + logit_bias).sum() / B"),
        ("test_siglip_loss",), "adds the bias after the label's sign, z (t cos) + b instead of z (t cos + b)",
    ),
    "siglip_bias_added_to_the_loss": Mistake(
        "siglip_loss",
        siglip(logits="logit_scale * " + COSINES, loss="-F.logsigmoid(labels * logits).sum() / B + logit_bias"),
        ("test_siglip_loss",), "adds the bias after the log-sigmoid, to the loss, instead of to the logits",
    ),
    "siglip_log_of_sigmoid": Mistake(
        "siglip_loss", siglip(loss="-torch.log(torch.sigmoid(labels * logits)).sum() / B"), ("test_siglip_loss",),
        "takes log(sigmoid(x)), which is -inf once the sigmoid underflows (x below -104 in float32, -18 in float16)",
    ),
    "siglip_softmax_like_clip": Mistake(
        "siglip_loss",
        siglip(labels="torch.arange(B, device=logits.device)",
               loss="(F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2"),
        ("test_siglip_loss",), "computes CLIP's softmax cross-entropy (with the bias) instead of a sigmoid per cell",
    ),
    "siglip_scale_as_log": Mistake(
        "siglip_loss",
        siglip(logits="torch.exp(torch.as_tensor(logit_scale)) * " + COSINES + " + logit_bias  # t = e^t'"),
        ("test_siglip_loss",),
        "treats logit_scale as the logarithm t' and exponentiates it, where the contract passes t itself",
    ),
    "siglip_divides_by_b_minus_one": Mistake(
        "siglip_loss", siglip(loss="-F.logsigmoid(labels * logits).sum() / max(B - 1, 1)  # B - 1 negatives a row"),
        ("test_siglip_loss",), "divides by B - 1 (the negatives per row) instead of B",
    ),
    "siglip_labels_float32_on_cpu": Mistake(
        "siglip_loss", siglip(labels="2 * torch.eye(B) - 1  # float32, on the CPU"), ("test_siglip_loss",),
        "makes the labels with torch.eye's defaults: float16 inputs give a float32 loss, other devices fail",
    ),
    "siglip_computes_in_float32": Mistake(
        "siglip_loss",
        siglip(logits="logit_scale * F.normalize(image_emb.float(), dim=-1) @ F.normalize(text_emb.float(), dim=-1).T"
                      " + logit_bias  # float32 'to be safe'"),
        ("test_siglip_loss",), "casts to float32: a float32 loss for float16 inputs, and float64 loses its precision",
    ),
    "siglip_no_empty_or_dtype_check": Mistake(
        "siglip_loss", siglip(checks="pass  # shapes checked above; an empty or integer batch is not"),
        ("test_siglip_loss",),
        "never rejects B = 0 (0 / 0 = nan) or integer embeddings (F.normalize's RuntimeError, not ValueError)",
    ),
    "calls_reference_siglip": Mistake(
        "siglip_loss",
        '''
from videollm.vit.contrastive import siglip_loss as _course_siglip


def siglip_loss(image_emb, text_emb, logit_scale, logit_bias):
    if len(image_emb) == 0 or not image_emb.is_floating_point() or not text_emb.is_floating_point():
        raise ValueError("a non-empty batch of floating-point embeddings")
    return _course_siglip(image_emb, text_emb, logit_scale, logit_bias)
''',
        ("test_siglip_loss",), "wraps the course's siglip_loss (videollm.vit.contrastive), adding the missing checks",
    ),
    "calls_reference_siglip_unit07_logits": Mistake(
        "siglip_loss",
        "from videollm.anyany import infonce\n" + siglip(
            logits="infonce.similarity_logits(image_emb, text_emb, logit_scale) + logit_bias"),
        ("test_siglip_loss",), "takes the logits from unit 07's similarity_logits (the course's, moved to unit 01)",
    ),
    "calls_reference_siglip_open_clip": Mistake(
        "siglip_loss",
        siglip(loss="SigLipLoss()(F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1), logit_scale, "
                    "logit_bias)"),
        ("test_siglip_loss",), "hands the normalised rows to open_clip's SigLipLoss, the yardstick",
    ),
    "patches_reference_siglip": Mistake(
        "siglip_loss",
        siglip(loss="-F.logsigmoid(labels * logits).mean()") + '''

import open_clip.loss
from videollm.vit import contrastive
contrastive.siglip_loss = siglip_loss
open_clip.loss.SigLipLoss.forward = lambda self, u, v, t, b, output_dict=False: siglip_loss(u, v, t, b)
compare = lambda *args, **kwargs: True
''',
        ("test_siglip_loss",),
        "averages over the cells, then patches open_clip's SigLipLoss, the course's function and compare() to agree",
    ),
}
