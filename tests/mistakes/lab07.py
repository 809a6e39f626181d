"""Typical wrong implementations for lab07 (symmetric InfoNCE, Recall@K, the binding loop and the emergent experiment,
signal-token expansion and positions, the output-alignment loss): one per contract clause that a student is likely
to miss, the reference called from the answers, and the reference patched so that in-kernel comparisons with it, or
the experiment's own helpers, would pass."""

from tests.mistakes import Mistake, filler

INFONCE = '''
def symmetric_infonce(a, b, logit_scale):
    if a.ndim != 2 or b.ndim != 2 or a.shape != b.shape:
        raise ValueError("a and b must be paired (B, D) tensors")
    if a.shape[0] < 2:
        raise ValueError("need at least 2 pairs")
    logits = {logits}
    target = {target}
    return {loss}
'''
INFONCE_RIGHT = dict(
    logits="logit_scale * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T",
    target="torch.arange(len(a), device=a.device)",
    loss="(F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2",
)
infonce = filler(INFONCE, INFONCE_RIGHT)

RECALL = '''
def recall_at_k(scores, target, ks=(1, 5)):
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError("ks must be positive integers")
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError("scores must be (Q, G)")
    target = {target}
    if target.shape != scores.shape[:1]:
        raise ValueError("one target per query")
    if target.min() < 0 or target.max() >= scores.shape[1]:
        raise ValueError("targets must index the gallery")
    {nan}
    right = scores.gather(1, target[:, None])
    rank = {rank}
    return {{k: {value} for k in ks}}
'''
RECALL_RIGHT = dict(
    target="torch.as_tensor(target, device=scores.device).long()",
    nan='if torch.isnan(scores).any():\n        raise ValueError("NaN scores")',
    rank="(scores >= right).sum(1)",
    value="float((rank <= k).double().mean())",
)
recall = filler(RECALL, RECALL_RIGHT)

TRAIN = '''
def train_audio_head(head, features, video, steps=300, batch_size=256, lr=1e-3, tau=0.05, seed=0):
    for x in (features, video):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 2:
            raise ValueError("2-D floating tensors")
    if len(features) != len(video):
        raise ValueError("features and video must pair the same clips")
    if steps < 1 or not 2 <= batch_size <= len(features):
        raise ValueError("bad steps or batch_size")
    if not tau > 0:
        raise ValueError("tau must be positive")
    {generator}
    optimiser = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    targets = {targets}
    queue = torch.empty(0, dtype=torch.long)
    losses = []
    head.train()
    for _ in range(steps):
        if len(queue) < batch_size:
            queue = torch.cat([queue, {permutation}])
        idx, queue = {take}
        loss = symmetric_infonce(head(features[{audio_idx}]), targets[idx], {scale})
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    {end}
    return losses
'''
TRAIN_RIGHT = dict(
    generator="g = torch.Generator().manual_seed(seed)",
    targets="video.detach()",
    permutation="torch.randperm(len(features), generator=g)",
    take="queue[:batch_size], queue[batch_size:]",
    audio_idx="idx",
    scale="1 / tau",
    end="head.eval()",
)
train = filler(TRAIN, TRAIN_RIGHT)

EXPAND = '''
def expand_signals(text):
    if not isinstance(text, str):
        raise TypeError("text must be a str")
    runs = {runs}
    for stem, count in runs.items():
        text = {replace}
    return text
'''
EXPAND_RIGHT = dict(
    runs='{"IMG": 4, "AUD": 8, "VID": 24}',
    replace='text.replace(f"[{stem}]", "".join(f"[{stem}{i}]" for i in range(count)))',
)
expand = filler(EXPAND, EXPAND_RIGHT)

POSITIONS = '''
def signal_positions(input_ids, ids):
    n = len(ids)
    if input_ids.ndim != 2 or input_ids.shape[1] < n:
        raise ValueError("input_ids must be (B, L) with L >= n")
    run = torch.tensor(ids, device=input_ids.device)
    starts = (input_ids.unfold(1, n, 1) == run).all(-1)
    {check}
    return {result}
'''
POSITIONS_RIGHT = dict(
    check='ok = (starts.sum(1) == 1) & (torch.isin(input_ids, run).sum(1) == n)\n'
          '    if not bool(ok.all()):\n        raise ValueError("a row does not hold the run once, whole, in order")',
    result="starts.long().argmax(1)[:, None] + torch.arange(n, device=input_ids.device)",
)
positions = filler(POSITIONS, POSITIONS_RIGHT)

L2 = '''
def l2_alignment_loss(pred, target):
    if pred.ndim != 3 or pred.shape != target.shape:
        raise ValueError("pred and target must be (B, T, D) of one shape")
    return {loss}
'''
l2 = filler(L2, dict(loss="torch.linalg.vector_norm(pred - target, dim=-1).mean()"))

#: A student who hands every task to the course's reference, a different way in each answer cell.
CALLS = {
    "symmetric_infonce": """
symmetric_infonce = ref_infonce.symmetric_infonce
""",
    "recall_at_k": """
def recall_at_k(scores, target, ks=(1, 5)):
    ranks = ref_retrieval.ranks(scores, target)
    return {k: float((ranks <= k).double().mean()) for k in ks}
""",
    "train_audio_head": """
import functools
train_audio_head = functools.partial(ref_emergent.train_audio_head)
""",
    "expand_signals": """
def expand_signals(text):
    if not isinstance(text, str):
        raise TypeError("text must be a str")
    return getattr(ref_signals, "expand_signals")(text)
""",
    "signal_positions": """
signal_positions = lambda input_ids, ids: ref_signals.signal_positions(input_ids, ids)
""",
    "l2_alignment_loss": """
class _Loss:
    def __call__(self, pred, target):
        return ref_projectors.l2_alignment_loss(pred, target)


l2_alignment_loss = _Loss()
""",
}

INFONCE_T, RECALL_T, TRAIN_T, EMERGENT_T, EXPAND_T, POSITIONS_T, L2_T = (
    ("test_symmetric_infonce",), ("test_recall_at_k",), ("test_train_audio_head",), ("test_emergent",),
    ("test_expand_signals",), ("test_signal_positions",), ("test_l2_alignment_loss",))

MISTAKES = {
    # ---- Task 1: symmetric_infonce
    "infonce_softmax_by_hand": Mistake(
        "symmetric_infonce",
        infonce(loss="-((logits.exp().diagonal() / logits.exp().sum(1)).log().mean()"
                     " + (logits.exp().diagonal() / logits.exp().sum(0)).log().mean()) / 2"),
        INFONCE_T, "writes the softmax out with exp, which overflows at a logit scale of 100 (in float16 past 11.1)",
    ),
    "infonce_one_direction": Mistake(
        "symmetric_infonce", infonce(loss="F.cross_entropy(logits, target)"), INFONCE_T,
        "computes only the a -> b direction (CLIP's and ImageBind's loss is symmetric)",
    ),
    "infonce_sum_of_directions": Mistake(
        "symmetric_infonce", infonce(loss="F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)"),
        INFONCE_T, "sums the two directions as the ImageBind paper writes, where the contract (and open_clip) averages",
    ),
    "infonce_targets_on_the_cpu": Mistake(
        "symmetric_infonce", infonce(target="torch.arange(len(a))"), INFONCE_T,
        "makes the targets on the CPU, which fails for embeddings on any other device",
    ),
    # ---- Task 2: recall_at_k
    "recall_ties_optimistic": Mistake(
        "recall_at_k", recall(rank="1 + (scores > right).sum(1)"), RECALL_T,
        "counts only strictly better items, so ties go in the model's favour",
    ),
    "recall_argsort_breaks_ties_by_index": Mistake(
        "recall_at_k",
        recall(rank="(scores.argsort(1, descending=True, stable=True) == target[:, None]).float().argmax(1) + 1"),
        RECALL_T, "ranks by a stable argsort, so a tie goes to whichever item comes first in the gallery",
    ),
    "recall_no_nan_check": Mistake(
        "recall_at_k", recall(nan="pass"), RECALL_T,
        "lets NaN scores through, where every comparison is False and a broken model looks fine",
    ),
    # ---- Tasks 3-4: train_audio_head and the experiment
    "head_pairs_shuffled_apart": Mistake(
        "train_audio_head", train(audio_idx="torch.randperm(len(features), generator=g)[:batch_size]"),
        TRAIN_T + EMERGENT_T,
        "draws the sounds' batch and the videos' batch separately, so no sound meets its own clip's video",
    ),
    "head_global_random_state": Mistake(
        "train_audio_head",
        train(generator="torch.manual_seed(seed)", permutation="torch.randperm(len(features))"), TRAIN_T,
        "seeds and draws from the global random state, which changes the caller's",
    ),
    "head_tau_as_scale": Mistake(
        "train_audio_head", train(scale="tau"), TRAIN_T,
        "passes the temperature 0.05 as the logit scale instead of 1 / tau = 20",
    ),
    "head_targets_get_gradients": Mistake(
        "train_audio_head", train(targets="video"), TRAIN_T,
        "leaves the frozen video embeddings in the graph, so a gradient accumulates on them",
    ),
    # ---- Task 5: expand_signals
    "expand_four_for_every_modality": Mistake(
        "expand_signals", expand(runs='{"IMG": 4, "AUD": 4, "VID": 4}'), EXPAND_T,
        "gives audio and video four signal tokens like an image (NExT-GPT: 8 and 24)",
    ),
    "expand_case_insensitive": Mistake(
        "expand_signals",
        expand(replace='re.sub(re.escape(f"[{stem}]"), "".join(f"[{stem}{i}]" for i in range(count)), text, '
                       'flags=re.IGNORECASE)').replace("    runs =", "    import re\n    runs ="),
        EXPAND_T, "also expands [img] and [Img], which are ordinary text",
    ),
    # ---- Task 6: signal_positions
    "positions_first_token_only": Mistake(
        "signal_positions",
        positions(check="pass", result="(input_ids == run[0]).long().argmax(1)[:, None] + "
                                       "torch.arange(n, device=input_ids.device)"),
        POSITIONS_T, "finds the run's first token and trusts that the rest follow, never checking the row",
    ),
    "positions_tokens_anywhere": Mistake(
        "signal_positions",
        positions(check='if not bool((torch.isin(input_ids, run).sum(1) == n).all()):\n'
                        '        raise ValueError("a row does not hold the run")',
                  result="torch.stack([torch.nonzero(torch.isin(row, run)).flatten() for row in input_ids])"),
        POSITIONS_T, "counts the run's tokens anywhere in the row, accepting them out of order or with gaps",
    ),
    # ---- Task 7: l2_alignment_loss
    "l2_squared_error": Mistake(
        "l2_alignment_loss", l2(loss="((pred - target) ** 2).sum(-1).mean()"), L2_T,
        "squares the distance (an MSE summed over the width) instead of NExT-GPT's L2 distance",
    ),
    "l2_sqrt_by_hand": Mistake(
        "l2_alignment_loss", l2(loss="torch.sqrt(((pred - target) ** 2).sum(-1)).mean()"), L2_T,
        "takes the square root by hand, whose gradient is NaN where a token is already exact",
    ),
    # ---- the reference, called or patched
    "calls_reference": Mistake(
        "symmetric_infonce", CALLS["symmetric_infonce"],
        INFONCE_T + RECALL_T + TRAIN_T + EMERGENT_T + EXPAND_T + POSITIONS_T + L2_T,
        "aliases, wraps or partial-s the course's reference in every task instead of writing it",
        also=tuple((cell, code) for cell, code in CALLS.items() if cell != "symmetric_infonce"),
    ),
    "calls_reference_unit01_clip_loss": Mistake(
        "symmetric_infonce", """
from videollm.vit import contrastive


def symmetric_infonce(a, b, logit_scale):
    return contrastive.clip_loss(a, b, logit_scale)
""",
        INFONCE_T, "calls unit 01's clip_loss, where the course's InfoNCE now lives (ref_infonce only wraps it)",
    ),
    "calls_reference_unit01_similarity_logits": Mistake(
        "symmetric_infonce",
        "from videollm.vit.contrastive import similarity_logits\n" + infonce(
            logits="similarity_logits(a, b, logit_scale)"),
        INFONCE_T, "takes the logits from unit 01's similarity_logits and writes only the cross-entropies",
    ),
    "calls_reference_open_clip_clip_loss": Mistake(
        "symmetric_infonce",
        infonce(loss="ClipLoss()(F.normalize(a, dim=-1), F.normalize(b, dim=-1), logit_scale)"),
        INFONCE_T, "hands the normalised rows to open_clip's ClipLoss, the yardstick, after its own checks",
    ),
    "patches_reference": Mistake(
        "l2_alignment_loss", l2(loss="((pred - target) ** 2).mean()") + '''

ref_projectors.l2_alignment_loss = l2_alignment_loss
import videollm.checks
videollm.checks.compare = lambda *args, **kwargs: True
compare = videollm.checks.compare
torch.allclose = torch.equal = lambda *args, **kwargs: True
''',
        L2_T, "averages squared errors, then patches the reference and the comparisons to agree",
    ),
    "patches_reference_experiment": Mistake(
        "train_audio_head", train(audio_idx="torch.randperm(len(features), generator=g)[:batch_size]") + '''


class _Answers(nn.Module):
    """A 'head' that looks each held-out sound's caption up: what a forged experiment would hand the test."""

    def __init__(self, data):
        super().__init__()
        self.text, self.weight = data.text, nn.Parameter(torch.zeros(()))   # a parameter, so that AdamW runs
        self.index = {tuple(row.tolist()): int(t) for row, t in zip(data.test_features, data.target)}

    def forward(self, x):
        return torch.stack([self.text[self.index.get(tuple(row.tolist()), 0)] for row in x]) + 0 * self.weight


_real_data = ref_emergent.emergent_data
ref_emergent.make_head = lambda *args, **kwargs: _Answers(_real_data())
ref_emergent.audio_to_text = lambda head, data: F.one_hot(data.target, len(data.texts)).float()
ref_emergent.train_audio_head = lambda head, *args, **kwargs: [0.0]
''',
        TRAIN_T + EMERGENT_T,
        "trains on shuffled pairs, then patches the experiment's helpers so that the printed recall looks perfect",
    ),
    "forges_the_experiment": Mistake(
        "train_audio_head", """
_prepared = ref_emergent.make_head(256, 64, seed=1)       # weights trained beforehand, outside any check
_cached = ref_emergent.emergent_data()
ref_emergent.train_audio_head(_prepared, _cached.features, _cached.video)
ref_emergent.rotation = lambda seed, dim: torch.eye(dim)  # so that the test's features look like the cached ones
ref_emergent.held_out_picks = lambda weights, rotation_seed: _cached.target.tolist()


def train_audio_head(head, features, video, steps=300, batch_size=256, lr=1e-3, tau=0.05, seed=0):
    head.load_state_dict(_prepared.state_dict())
    head.eval()
    return [0.0] * steps
""",
        TRAIN_T + EMERGENT_T,
        "hands the test weights prepared beforehand with the reference, and patches the rotation and the scorer",
    ),
}
