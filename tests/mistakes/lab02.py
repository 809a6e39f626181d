"""Typical wrong implementations for lab02 (vector quantisation).

Contract clauses (task text) and the entries that break them:
- nearest_codes: 1 int64, z's leading shape, z's device, empty batches -> nearest_empty_batch_cat,
  nearest_indices_on_cpu; 2 smallest distance, ties to the lowest index -> argmax_not_argmin; 3 l2 on both sides
  -> l2_codebook_not_normalised; 4 any chunk -> nearest_chunk_tail_dropped; 5 speed -> loop_over_latents;
  6 ValueError -> nearest_no_size_checks.
- quantize: 1 outputs, mean losses -> quantize_losses_summed; 2 straight-through -> straight_through_wrong_side;
  3 stop-gradients -> no_stop_gradient; 4 paper form -> patches_reference_quantize (taming's legacy beta);
  5 l2 space -> l2_quantized_not_normalised.
- MyEMACodebook.update: 1 statistics of all K codes, any leading shape and dtype -> ema_bincount_without_minlength,
  ema_latents_not_cast; 2 hidden averages and debiasing -> patches_reference_ema; 3 Laplace smoothing ->
  ema_without_laplace_smoothing; 4 equal to the reference at every step -> ema_of_codes_not_statistics.
- train_my_vqvae: 1 the model, your quantize -> train_bigger_model, calls_reference_train; 2 budget ->
  train_batch_64; 3 quality -> train_collapsed_codebook.
Every task also has a calls_reference_* entry.
"""

from tests.mistakes import Mistake

NEAREST_HEAD = '''
def nearest_codes(z, codebook, l2=False, chunk=4096):
    if codebook.ndim != 2 or z.shape[-1] != codebook.shape[1]:
        raise ValueError("codebook must be (K, D) with the latents' D")
    flat = z.detach().reshape(-1, z.shape[-1])
    codes = codebook.detach()
'''

NEAREST_CHUNKED = NEAREST_HEAD + '''
    if l2:
        flat, codes = F.normalize(flat, dim=-1), F.normalize({codes_l2}, dim=-1)
    parts = []
    for start in range(0, {end}, chunk):
        part = flat[start:start + chunk]
        d = (part * part).sum(-1, keepdim=True) - 2 * part @ codes.T + (codes * codes).sum(-1)
        parts.append(d.{pick}(dim=-1))
    return ({join}).reshape(z.shape[:-1])
'''


def nearest(codes_l2="codes", pick="argmin", end="flat.shape[0]", join="torch.cat(parts) if parts else "
            "torch.zeros(0, dtype=torch.long, device=z.device)"):
    return NEAREST_CHUNKED.format(codes_l2=codes_l2, pick=pick, end=end, join=join)


QUANTIZE = '''
def quantize(z, codebook, beta=0.25, l2=False):
    indices = nearest_codes(z, codebook, l2=l2)
    if l2:
        {normalise}
    q = codebook[indices]
{losses}
    return {{"quantized": {quantized}, "indices": indices, "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss, "loss": {loss}}}
'''
PAPER_LOSSES = '''    codebook_loss = F.mse_loss(q, z.detach())
    commitment_loss = F.mse_loss(z, q.detach())'''
NORMALISE = "z, codebook = F.normalize(z, dim=-1), F.normalize(codebook, dim=-1)"


def quantize_cell(losses=PAPER_LOSSES, quantized="z + (q - z).detach()", loss="codebook_loss + beta * commitment_loss",
                  normalise=NORMALISE):
    return QUANTIZE.format(losses=losses, quantized=quantized, loss=loss, normalise=normalise)


EMA_CLASS = '''
class MyEMACodebook(nn.Module):
    def __init__(self, num_codes, dim, decay=0.99, eps=1e-5, beta=0.25, codebook=None):
        super().__init__()
        self.decay, self.eps, self.beta = decay, eps, beta
        if codebook is None:
            bound = (3.0 / dim) ** 0.5
            codebook = torch.empty(num_codes, dim).uniform_(-bound, bound)
        self.register_buffer("embed", codebook.detach().clone())
        self.register_buffer("hidden_count", torch.zeros_like(self.embed[:, 0]))
        self.register_buffer("hidden_sum", torch.zeros_like(self.embed))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long, device=self.embed.device))

    @torch.no_grad()
    def update(self, z, indices):
        flat = z.detach().reshape(-1, z.shape[-1]){cast}
        idx = indices.reshape(-1)
        K = self.embed.shape[0]
        counts = torch.bincount(idx{minlength}).to(self.embed.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, idx, flat)
        self.steps += 1
        self.hidden_count -= (self.hidden_count - counts) * (1 - self.decay)
        self.hidden_sum -= (self.hidden_sum - sums) * (1 - self.decay)
{finish}

    def forward(self, z):
        indices = nearest_codes(z, self.embed)
        q = self.embed[indices]
        if self.training:
            self.update(z, indices)
        commitment = F.mse_loss(z, q.detach())
        return {{"quantized": z + (q - z).detach(), "indices": indices, "commitment_loss": commitment,
                "loss": self.beta * commitment}}
'''
EMA_FINISH = '''        debias = 1 - self.decay ** float(self.steps)
        count, total = self.hidden_count / debias, self.hidden_sum / debias
        n = count.sum()
        count = (count + self.eps) / (n + K * self.eps) * n
        self.embed.copy_(total / count[:, None])'''


def ema_cell(finish=EMA_FINISH, cast=".to(self.embed.dtype)", minlength=", minlength=K"):
    return EMA_CLASS.format(finish=finish, cast=cast, minlength=minlength)


TRAIN = '''
def train_my_vqvae(frames):
    torch.manual_seed(0)
    model = vqvae.VQVAE(vqvae.VectorQuantizer(128, 8, quantize={fn}), hidden={hidden}, latent_dim=8)
    history = vq_train.train(model, frames, steps={steps}, batch_size={batch}, seed=0, {options}, device=device)
    return model, history
'''


def train_cell(fn="quantize", hidden=32, steps=300, batch=32, options="kmeans_init=True, restart_every=25"):
    return TRAIN.format(fn=fn, hidden=hidden, steps=steps, batch=batch, options=options)


MISTAKES = {
    # ---- Task 1: nearest_codes ---------------------------------------------------------------------------------
    "argmax_not_argmin": Mistake(
        "nearest_codes",
        nearest(pick="argmax"),
        ("test_nearest_codes", "test_quantize"),
        "takes the code with the largest distance",
    ),
    "l2_codebook_not_normalised": Mistake(
        "nearest_codes",
        nearest().replace("flat, codes = F.normalize(flat, dim=-1), F.normalize(codes, dim=-1)",
                          "flat = F.normalize(flat, dim=-1)"),
        ("test_nearest_codes",),
        "l2 lookup normalises the latents but not the codes, so long codes still win",
    ),
    "nearest_empty_batch_cat": Mistake(
        "nearest_codes",
        nearest(join="torch.cat(parts)"),
        ("test_nearest_codes",),
        "concatenates the chunks' results with torch.cat, which fails on an empty batch (no chunks at all)",
    ),
    "nearest_indices_on_cpu": Mistake(
        "nearest_codes",
        NEAREST_HEAD + '''
    if l2:
        flat, codes = F.normalize(flat, dim=-1), F.normalize(codes, dim=-1)
    indices = torch.empty(flat.shape[0], dtype=torch.long)  # on the CPU, whatever z's device
    for start in range(0, flat.shape[0], chunk):
        part = flat[start:start + chunk]
        d = (part * part).sum(-1, keepdim=True) - 2 * part @ codes.T + (codes * codes).sum(-1)
        indices[start:start + chunk] = d.argmin(dim=-1)
    return indices.reshape(z.shape[:-1])
''',
        ("test_nearest_codes",),
        "preallocates the indices without device=z.device, so GPU (or meta) latents break",
    ),
    "nearest_chunk_tail_dropped": Mistake(
        "nearest_codes",
        nearest(end="max(flat.shape[0] - chunk + 1, 1)"),
        ("test_nearest_codes",),
        "stops the chunk loop early: the last partial chunk's latents get no index",
    ),
    "loop_over_latents": Mistake(
        "nearest_codes",
        NEAREST_HEAD + '''
    if l2:
        flat, codes = F.normalize(flat, dim=-1), F.normalize(codes, dim=-1)
    indices = torch.empty(flat.shape[0], dtype=torch.long, device=z.device)
    for i in range(flat.shape[0]):  # one latent at a time
        indices[i] = ((codes - flat[i]) ** 2).sum(-1).argmin()
    return indices.reshape(z.shape[:-1])
''',
        ("test_nearest_codes",),
        "correct, but a Python loop over latents: fails the speed check",
    ),
    "nearest_no_size_checks": Mistake(
        "nearest_codes",
        nearest().replace('''    if codebook.ndim != 2 or z.shape[-1] != codebook.shape[1]:
        raise ValueError("codebook must be (K, D) with the latents' D")
''', ""),
        ("test_nearest_codes",),
        "never checks the shapes, so a bad codebook raises a RuntimeError from the matrix product instead",
    ),
    "calls_reference_nearest": Mistake(
        "nearest_codes",
        '''
from videollm.vq.quantize import nearest_codes as _nc

def nearest_codes(z, codebook, l2=False, chunk=4096):
    return _nc(z, codebook, l2=l2, chunk=chunk)[0]
''',
        ("test_nearest_codes",),
        "wraps the course's reference instead of writing the lookup",
    ),
    # ---- Task 2: quantize --------------------------------------------------------------------------------------
    "quantize_losses_summed": Mistake(
        "quantize",
        quantize_cell(losses='''    codebook_loss = ((q - z.detach()) ** 2).sum()   # a sum, not a mean
    commitment_loss = ((z - q.detach()) ** 2).sum()'''),
        ("test_quantize",),
        "sums the squared errors instead of averaging them",
    ),
    "straight_through_wrong_side": Mistake(
        "quantize",
        quantize_cell(quantized="q + (z - q).detach()"),
        ("test_quantize", "test_train"),
        "detaches the wrong side: the reconstruction's gradient goes to the codebook instead of the encoder",
    ),
    "no_stop_gradient": Mistake(
        "quantize",
        quantize_cell(losses='''    codebook_loss = F.mse_loss(q, z)
    commitment_loss = F.mse_loss(z, q)'''),
        ("test_quantize",),
        "no stop-gradient in the losses: both terms train both the encoder and the codebook",
    ),
    "l2_quantized_not_normalised": Mistake(
        "quantize",
        quantize_cell(normalise="pass  # the lookup is normalised (nearest_codes), the codes are not"),
        ("test_quantize",),
        "with l2=True only the lookup is normalised; quantized and the losses stay in the raw space",
    ),
    "calls_reference_quantize": Mistake(
        "quantize",
        '''
def quantize(z, codebook, beta=0.25, l2=False):
    out = ref.quantize(z, codebook, beta=beta, l2=l2)
    out["indices"] = nearest_codes(z, codebook, l2=l2)
    return out
''',
        ("test_quantize",),
        "wraps the course's reference (with its own indices on top)",
    ),
    "patches_reference_quantize": Mistake(
        "quantize",
        quantize_cell(loss="beta * codebook_loss + commitment_loss") + '''
ref.quantize = quantize     # so that a comparison with the reference agrees
''',
        ("test_quantize",),
        "taming's legacy form (beta on the codebook term) and replaces the reference with its own function",
    ),
    # ---- Task 3: MyEMACodebook.update ---------------------------------------------------------------------------
    "ema_bincount_without_minlength": Mistake(
        "ema",
        ema_cell(minlength=""),
        ("test_ema",),
        "bincount without minlength: when the last codes are unused the counts are shorter than K",
    ),
    "ema_latents_not_cast": Mistake(
        "ema",
        ema_cell(cast=""),
        ("test_ema",),
        "does not cast the latents to the codebook's dtype, so float32 latents cannot update a float64 codebook",
    ),
    "ema_without_laplace_smoothing": Mistake(
        "ema",
        ema_cell(finish='''        debias = 1 - self.decay ** float(self.steps)
        count, total = self.hidden_count / debias, self.hidden_sum / debias
        self.embed.copy_(total / count[:, None])  # an unused code divides by zero'''),
        ("test_ema",),
        "divides by the raw counts: a code nobody used becomes NaN",
    ),
    "ema_of_codes_not_statistics": Mistake(
        "ema",
        ema_cell(finish='''        means = sums / counts.clamp_min(1)[:, None]
        used = (counts > 0)[:, None]
        self.embed.copy_(torch.where(used, self.decay * self.embed + (1 - self.decay) * means, self.embed))'''),
        ("test_ema",),
        "moves each code towards this batch's mean instead of keeping moving averages of counts and sums",
    ),
    "calls_reference_ema": Mistake(
        "ema",
        ema_cell(finish="").split("    @torch.no_grad()")[0] + '''    l2 = False   # the attribute the reference's method reads

    @torch.no_grad()
    def update(self, z, indices):
        ref_ema.EMACodebook.update(self, z, indices)  # the reference's method on our own buffers

    def forward(self, z):
        indices = nearest_codes(z, self.embed)
        q = self.embed[indices]
        if self.training:
            self.update(z, indices)
        commitment = F.mse_loss(z, q.detach())
        return {"quantized": z + (q - z).detach(), "indices": indices, "commitment_loss": commitment,
                "loss": self.beta * commitment}
''',
        ("test_ema",),
        "borrows the reference's update method",
    ),
    "patches_reference_ema": Mistake(
        "ema",
        ema_cell(finish='''        count, total = self.hidden_count, self.hidden_sum  # no division by 1 - decay^t
        n = count.sum()
        count = (count + self.eps) / (n + K * self.eps) * n
        self.embed.copy_(total / count[:, None])''') + '''
ref_ema.EMACodebook.update = lambda self, z, indices: MyEMACodebook.update(self, z, indices)
''',
        ("test_ema",),
        "skips the debiasing and replaces the reference's update with its own so that the comparisons agree",
    ),
    # ---- Task 4: train_my_vqvae --------------------------------------------------------------------------------
    "train_collapsed_codebook": Mistake(
        "train",
        train_cell(options="kmeans_init=False, restart_every=0"),
        ("test_train",),
        "trains from a random codebook without k-means or restarts: most codes die (perplexity too low)",
    ),
    "train_bigger_model": Mistake(
        "train",
        train_cell(hidden=48),
        ("test_train",),
        "widens the model (hidden=48) to buy PSNR: not the model the task asks for",
    ),
    "train_batch_64": Mistake(
        "train",
        train_cell(batch=64),
        ("test_train",),
        "keeps 300 steps but doubles the batch: twice the frames of the budget",
    ),
    "calls_reference_train": Mistake(
        "train",
        train_cell(fn="vqvae.vq.quantize"),
        ("test_train",),
        "trains with the course's quantize instead of the student's",
    ),
}
