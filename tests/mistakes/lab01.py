"""Typical wrong implementations for lab01 (ViT patching)."""

from tests.mistakes import Mistake

PATCHIFY_HEAD = '''
def patchify(images, patch_size):
    B, C, H, W = images.shape
    P = patch_size
    if H % P or W % P:
        raise ValueError("not a multiple of the patch size")
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
        self.tubelet_size = tubelet_size
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=k, stride=k)

    def forward(self, clips):
        B, T, C, H, W = clips.shape
        if T % self.tubelet_size:
            raise ValueError("frames not a multiple of the tubelet size")
        return self.proj({to_channels_first}).flatten(2).transpose(1, 2)
'''

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

MISTAKES = {
    "grid_column_major": Mistake(
        "patchify",
        PATCHIFY_HEAD + '''
    x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 4, 2, 1, 3, 5)  # columns outer
    return x.reshape(B, -1, C * P * P)
''',
        ("test_patchify",),
        "walks the patch grid column by column instead of row by row",
    ),
    "patch_vector_channels_last": Mistake(
        "patchify",
        PATCHIFY_HEAD + '''
    x = images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 3, 5, 1)  # (P, P, C) inside a patch (MAE order)
    return x.reshape(B, -1, C * P * P)
''',
        ("test_patchify",),
        "flattens each patch as (P, P, C), which no longer matches a Conv2d weight",
    ),
    "reshape_without_permute": Mistake(
        "patchify",
        PATCHIFY_HEAD + '''
    return images.reshape(B, (H // P) * (W // P), C * P * P)  # right shape, scrambled content
''',
        ("test_patchify", "test_unpatchify"),
        "reshapes straight to the output shape, so patches are not square regions",
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
    "patch_embed_reshape_not_transpose": Mistake(
        "patch_embed",
        '''
class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.grid_size = (img_size // patch_size, img_size // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)
        return x.reshape(x.shape[0], -1, x.shape[1])  # (B, N, D) shape, but channels and tokens mixed up
''',
        ("test_patch_embed",),
        "reshapes (B, D, N) to (B, N, D) instead of transposing",
    ),
    "tubelet_average_init": Mistake(
        "tubelet",
        '''
def central_frame_init(weight2d, tubelet_size):
    return weight2d.unsqueeze(2).repeat(1, 1, tubelet_size, 1, 1) / tubelet_size  # I3D inflation, not central
''' + TUBELET_CLASS.format(to_channels_first="clips.transpose(1, 2)"),
        ("test_tubelet",),
        "uses filter inflation (average over time) where central-frame initialisation was asked for",
    ),
    "tubelet_channels_as_time": Mistake(
        "tubelet",
        CENTRAL_INIT + TUBELET_CLASS.format(to_channels_first="clips.reshape(B, C, T, H, W)"),  # reshape, not transpose
        ("test_tubelet",),
        "reshapes (B, T, C, H, W) to (B, C, T, H, W), mixing frames and channels",
    ),
    "pos_embed_bilinear": Mistake(
        "resample_pos_embed",
        '''
def resample_pos_embed(posemb, new_size, num_prefix_tokens=1):
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    side, D = int(math.sqrt(grid.shape[1])), grid.shape[-1]
    grid = grid.float().reshape(1, side, side, D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(new_size), mode="bilinear", align_corners=False)
    return torch.cat([prefix, grid.permute(0, 2, 3, 1).reshape(1, -1, D).to(posemb.dtype)], dim=1)
''',
        ("test_resample_pos_embed",),
        "bilinear without antialiasing instead of timm's bicubic with antialiasing",
    ),
    "pos_embed_grid_transposed": Mistake(
        "resample_pos_embed",
        '''
def resample_pos_embed(posemb, new_size, num_prefix_tokens=1):
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    side, D = int(math.sqrt(grid.shape[1])), grid.shape[-1]
    grid = grid.float().reshape(1, D, side, side)  # reshape, not permute: the channels are scrambled
    grid = F.interpolate(grid, size=tuple(new_size), mode="bicubic", antialias=True, align_corners=False)
    return torch.cat([prefix, grid.reshape(1, -1, D).to(posemb.dtype)], dim=1)
''',
        ("test_resample_pos_embed",),
        "reshapes (1, N, D) to (1, D, h, w) without a permute",
    ),
    "qwen_tokens_without_merge": Mistake(
        "count_tokens",
        COUNT_TOKENS.format(qwen="math.ceil(num_frames / 2) * (height // 14) * (width // 14)"),
        ("test_count_tokens",),
        "forgets that Qwen2-VL merges 2x2 patches into one token",
    ),
    "qwen_tokens_odd_frames_floored": Mistake(
        "count_tokens",
        COUNT_TOKENS.format(qwen="(num_frames // 2) * (height // 14) * (width // 14) // 4"),
        ("test_count_tokens",),
        "floors an odd frame count instead of padding it to even",
    ),
    "imports_the_reference": Mistake(
        "patchify",
        '''
from videollm.vit import patchify
''',
        ("test_patchify",),
        "imports the course's reference instead of writing the function",
    ),
}
