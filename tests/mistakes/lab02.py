"""Typical wrong implementations for lab02 (vector quantisation)."""

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
    for start in range(0, flat.shape[0], chunk):
        part = flat[start:start + chunk]
        d = (part * part).sum(-1, keepdim=True) - 2 * part @ codes.T + (codes * codes).sum(-1)
        parts.append(d.{pick}(dim=-1))
    return torch.cat(parts).reshape(z.shape[:-1])
'''

QUANTIZE = '''
def quantize(z, codebook, beta=0.25, l2=False):
    indices = nearest_codes(z, codebook, l2=l2)
    if l2:
        z, codebook = F.normalize(z, dim=-1), F.normalize(codebook, dim=-1)
    q = codebook[indices]
{losses}
    return {{"quantized": {quantized}, "indices": indices, "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss, "loss": {loss}}}
'''
PAPER_LOSSES = '''    codebook_loss = F.mse_loss(q, z.detach())
    commitment_loss = F.mse_loss(z, q.detach())'''


def quantize_cell(losses=PAPER_LOSSES, quantized="z + (q - z).detach()", loss="codebook_loss + beta * commitment_loss"):
    return QUANTIZE.format(losses=losses, quantized=quantized, loss=loss)


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
        flat = z.detach().reshape(-1, z.shape[-1]).to(self.embed.dtype)
        idx = indices.reshape(-1)
        K = self.embed.shape[0]
        counts = torch.bincount(idx, minlength=K).to(self.embed.dtype)
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

TRAIN = '''
def train_my_vqvae(frames):
    torch.manual_seed(0)
    model = vqvae.VQVAE(vqvae.VectorQuantizer(128, 8, quantize={fn}), hidden=32, latent_dim=8)
    history = vqvae.train(model, frames, steps=300, batch_size=32, seed=0, {options})
    return model, history
'''

MISTAKES = {
    "argmax_not_argmin": Mistake(
        "nearest_codes",
        NEAREST_CHUNKED.format(codes_l2="codes", pick="argmax"),
        ("test_nearest_codes", "test_quantize"),
        "takes the code with the largest distance",
    ),
    "l2_codebook_not_normalised": Mistake(
        "nearest_codes",
        NEAREST_CHUNKED.format(codes_l2="codes", pick="argmin").replace(
            "flat, codes = F.normalize(flat, dim=-1), F.normalize(codes, dim=-1)", "flat = F.normalize(flat, dim=-1)"),
        ("test_nearest_codes",),
        "l2 lookup normalises the latents but not the codes, so long codes still win",
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
    "broadcast_n_k_d": Mistake(
        "nearest_codes",
        NEAREST_HEAD + '''
    if l2:
        flat, codes = F.normalize(flat, dim=-1), F.normalize(codes, dim=-1)
    d = ((flat[:, None, :] - codes[None, :, :]) ** 2).sum(-1)  # the (N, K, D) tensor
    return d.argmin(-1).reshape(z.shape[:-1])
''',
        ("test_nearest_codes",),
        "correct, but builds the (N, K, D) difference tensor: slow and memory-hungry for wide codebooks",
    ),
    "imports_the_reference": Mistake(
        "nearest_codes",
        '''
from videollm.vq import nearest_codes as _nc

def nearest_codes(z, codebook, l2=False, chunk=4096):
    return _nc(z, codebook, l2=l2, chunk=chunk)[0]
''',
        ("test_nearest_codes",),
        "wraps the course's reference instead of writing the lookup",
    ),
    "no_stop_gradient": Mistake(
        "quantize",
        quantize_cell(losses='''    codebook_loss = F.mse_loss(q, z)
    commitment_loss = F.mse_loss(z, q)'''),
        ("test_quantize",),
        "no stop-gradient in the losses: both terms train both the encoder and the codebook",
    ),
    "beta_on_codebook_term": Mistake(
        "quantize",
        quantize_cell(loss="beta * codebook_loss + commitment_loss"),
        ("test_quantize",),
        "taming-transformers' legacy form: beta on the codebook term instead of the commitment term",
    ),
    "no_straight_through": Mistake(
        "quantize",
        quantize_cell(quantized="q"),
        ("test_quantize", "test_train"),
        "returns the codes themselves: the reconstruction gives the encoder no gradient",
    ),
    "straight_through_wrong_side": Mistake(
        "quantize",
        quantize_cell(quantized="q + (z - q).detach()"),
        ("test_quantize", "test_train"),
        "detaches the wrong side: the reconstruction's gradient goes to the codebook instead of the encoder",
    ),
    "ema_without_debiasing": Mistake(
        "ema",
        EMA_CLASS.format(finish='''        count, total = self.hidden_count, self.hidden_sum  # no division by 1 - decay^t
        n = count.sum()
        count = (count + self.eps) / (n + K * self.eps) * n
        self.embed.copy_(total / count[:, None])'''),
        ("test_ema",),
        "reads the zero-initialised moving averages without debiasing them",
    ),
    "ema_without_laplace_smoothing": Mistake(
        "ema",
        EMA_CLASS.format(finish='''        debias = 1 - self.decay ** float(self.steps)
        count, total = self.hidden_count / debias, self.hidden_sum / debias
        self.embed.copy_(total / count[:, None])  # an unused code divides by zero'''),
        ("test_ema",),
        "divides by the raw counts: a code nobody used becomes NaN",
    ),
    "ema_of_codes_not_statistics": Mistake(
        "ema",
        EMA_CLASS.format(finish='''        means = sums / counts.clamp_min(1)[:, None]
        used = (counts > 0)[:, None]
        self.embed.copy_(torch.where(used, self.decay * self.embed + (1 - self.decay) * means, self.embed))'''),
        ("test_ema",),
        "moves each code towards this batch's mean instead of keeping moving averages of counts and sums",
    ),
    "train_collapsed_codebook": Mistake(
        "train",
        TRAIN.format(fn="quantize", options="kmeans_init=False, restart_every=0"),
        ("test_train",),
        "trains from a random codebook without k-means or restarts: most codes die (perplexity too low)",
    ),
    "train_with_the_reference_quantizer": Mistake(
        "train",
        TRAIN.format(fn="vqvae.vq.quantize", options="kmeans_init=True, restart_every=25"),
        ("test_train",),
        "trains with the course's quantize instead of the student's",
    ),
}
