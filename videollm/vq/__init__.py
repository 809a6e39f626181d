"""Unit 02 — VQ tokenization (lecture ``02_vq_tokenization``, lab ``lab02_vq_tokenization``).

- ``quantize``      nearest-code lookup (plain and l2), straight-through estimator, VQ-VAE losses
- ``codebook``      EMA codebook updates, k-means initialisation, dead-code restarts
- ``scalar_quant``  FSQ and LFQ (with the MAGVIT-v2 entropy loss)
- ``vqvae``         a small VQ-VAE for video frames with pluggable quantisers, frame sets, PSNR
- ``train``         its training loop and the cached checkpoint the lecture loads (``python -m videollm.vq.train``)
- ``plots``         codebooks and reconstructions
"""
