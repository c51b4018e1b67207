"""Torch modules of the CAST model (see :mod:`ieegrecon.models.cast`).

Kept apart from the :class:`~ieegrecon.models.base.ReconModel` wrapper so
that the architecture can be read on its own. Shapes use ``B`` windows,
``C`` scalp channels, ``K`` target contacts, ``W`` samples per window and
``d`` the model width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._threads import configure_torch

configure_torch()  # the thread policy, when one was applied (ieegrecon._threads)


def fourier_features(pos: torch.Tensor, n_freqs: int, unit: float = 0.1) -> torch.Tensor:
    """Sinusoidal features of 3-D positions (NeRF-style positional encoding).

    Parameters
    ----------
    pos : Tensor, shape (N, 3)
        Positions in metres (MNI).
    n_freqs : int
        Octaves ``2**0 .. 2**(n_freqs-1)`` cycles per ``unit``.
    unit : float
        Length in metres of one period at the lowest octave (0.1 m ~ head size).

    Returns
    -------
    Tensor, shape (N, 3 + 6 * n_freqs)
    """
    p = pos / unit
    freqs = (2.0 ** torch.arange(n_freqs, dtype=pos.dtype, device=pos.device)) * math.pi
    ang = p[:, :, None] * freqs[None, None, :]  # (N, 3, F)
    return torch.cat([p, torch.sin(ang).flatten(1), torch.cos(ang).flatten(1)], dim=1)


class PositionMLP(nn.Module):
    """MLP on Fourier features of an MNI position -> an embedding of width ``d``."""

    def __init__(self, d: int, n_freqs: int) -> None:
        super().__init__()
        self.n_freqs = n_freqs
        self.mlp = nn.Sequential(nn.Linear(3 + 6 * n_freqs, d), nn.GELU(), nn.Linear(d, d))

    def forward(self, pos: torch.Tensor) -> torch.Tensor:  # (N, 3) -> (N, d)
        return self.mlp(fourier_features(pos, self.n_freqs))


def _layer(d: int, n_heads: int, dropout: float) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(d, n_heads, dim_feedforward=2 * d, dropout=dropout,
                                      activation="gelu", batch_first=True, norm_first=True)


class ConvBlock(nn.Module):
    """Residual temporal block: depthwise conv (kernel 5) then a pointwise MLP; input (N, n, d)."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.conv = nn.Conv1d(d, d, kernel_size=5, padding=2, groups=d)
        self.mlp = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Dropout(dropout), nn.Linear(d, d))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        y = y + self.conv(self.norm1(y).transpose(1, 2)).transpose(1, 2)
        return y + self.mlp(self.norm2(y))


class CastNet(nn.Module):
    """Multi-scale cross-attention transformer: scalp windows -> contact windows.

    Encoder: per scalp channel, non-overlapping patches of each size in
    ``patch_sizes`` (8/16/32 samples -> 50 + 25 + 12 tokens per 400-sample
    window) are linearly embedded, plus a scale embedding, a learned temporal
    position embedding per scale and a channel embedding (MLP on Fourier
    features of the electrode's MNI position). ``n_layers`` factorized blocks
    alternate attention within a channel (over its tokens) and across
    channels (per token).

    Decoder: one query per contact (MLP on Fourier features of its MNI
    position + atlas-region embedding + depth-class embedding [+ a
    per-contact adapter learned at calibration]). The query attends over the
    scalp channels (multi-head cross-attention whose keys are the channel
    embeddings plus the channel's time-pooled content); the values are each
    channel's per-output-patch features (fine tokens plus upsampled coarse
    tokens). ``n_dec_layers`` residual temporal blocks (depthwise convolution
    + pointwise MLP, cheap enough for many contacts) over the output patches
    then refine each contact's sequence, and a linear head emits
    ``out_patch`` samples per patch.

    Linear readout (ieegrecon's addition): each contact also gets a lagged
    spatial filter of the raw scalp windows, ``sum_c sum_h w[k, h, c] *
    (g_h * x_c)``, where ``g_h`` are ``n_lin`` learned temporal kernels of
    ``lin_taps`` samples (the first starts as a unit impulse) and the
    signed weights ``w[k, h, c]`` are a bilinear form of the contact's
    query and the channel's encoder summary (position + content, after
    attention across channels, so the filter depends on the montage).
    Volume conduction makes iEEG largely a linear mixture of what the scalp
    sees; this path learns that mixture as a function of geometry, so a
    contact never seen in training still gets a physically sensible filter,
    and the transformer path adds what is not linear.
    """

    def __init__(self, *, d_model: int = 48, n_heads: int = 4, n_layers: int = 2, n_dec_layers: int = 1,
                 patch_sizes: tuple[int, ...] = (8, 16, 32), win: int = 400, out_patch: int = 8,
                 n_freqs: int = 6, n_regions: int = 1, n_depth: int = 3, dropout: float = 0.1,
                 n_lin: int = 8, lin_taps: int = 21) -> None:
        super().__init__()
        if win % out_patch or win % patch_sizes[0] or out_patch != patch_sizes[0]:
            raise ValueError("win must be a multiple of out_patch, and out_patch equal the finest patch size")
        self.d, self.h, self.win, self.out_patch = d_model, n_heads, win, out_patch
        self.patch_sizes = tuple(int(p) for p in patch_sizes)
        self.n_tok = [win // p for p in self.patch_sizes]
        self.n_out = win // out_patch
        d = d_model
        # ---- encoder
        self.patch_embed = nn.ModuleList([nn.Linear(p, d) for p in self.patch_sizes])
        self.scale_emb = nn.Parameter(torch.randn(len(self.patch_sizes), d) * 0.02)
        self.pos_emb = nn.ParameterList([nn.Parameter(torch.randn(n, d) * 0.02) for n in self.n_tok])
        self.chan_mlp = PositionMLP(d, n_freqs)
        self.time_layers = nn.ModuleList([_layer(d, n_heads, dropout) for _ in range(n_layers)])
        self.chan_layers = nn.ModuleList([_layer(d, n_heads, dropout) for _ in range(n_layers)])
        self.enc_norm = nn.LayerNorm(d)
        # ---- decoder
        self.contact_mlp = PositionMLP(d, n_freqs)
        self.region_emb = nn.Embedding(n_regions, d)
        self.depth_emb = nn.Embedding(n_depth, d)
        nn.init.normal_(self.region_emb.weight, std=0.02)
        nn.init.normal_(self.depth_emb.weight, std=0.02)
        self.q_norm = nn.LayerNorm(d)
        self.k_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.o_proj = nn.Linear(d, d)
        self.out_pos = nn.Parameter(torch.randn(self.n_out, d) * 0.02)
        self.dec_layers = nn.ModuleList([ConvBlock(d, dropout) for _ in range(n_dec_layers)])
        self.head_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, out_patch)
        # ---- linear readout
        self.n_lin = n_lin
        if n_lin:
            if lin_taps % 2 == 0:
                raise ValueError("lin_taps must be odd (a centred kernel)")
            self.lin_basis = nn.Conv1d(1, n_lin, kernel_size=lin_taps, padding=lin_taps // 2, bias=False)
            with torch.no_grad():
                self.lin_basis.weight.normal_(0.0, 0.05)
                self.lin_basis.weight[0, 0].zero_()
                self.lin_basis.weight[0, 0, lin_taps // 2] = 1.0
            self.lin_q = nn.Linear(d, n_lin * d)
            self.lin_k = nn.Linear(d, n_lin * d)

    # ------------------------------------------------------------- groups
    def encoder_parameters(self) -> list[nn.Parameter]:
        """Parameters of the scalp encoder (frozen during default calibration)."""
        mods = [self.patch_embed, self.chan_mlp, self.time_layers, self.chan_layers, self.enc_norm]
        if self.n_lin:
            mods.append(self.lin_basis)
        return [self.scale_emb, *self.pos_emb] + [p for m in mods for p in m.parameters()]

    def decoder_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not in :meth:`encoder_parameters`."""
        enc = {id(p) for p in self.encoder_parameters()}
        return [p for p in self.parameters() if id(p) not in enc]

    # ------------------------------------------------------------ forward
    def encode(self, x: torch.Tensor, ch_pos: torch.Tensor) -> torch.Tensor:
        """Scalp windows -> per-channel features on the output patch grid.

        Parameters
        ----------
        x : Tensor, shape (B, C, W)
            Standardized scalp windows.
        ch_pos : Tensor, shape (C, 3)
            Electrode MNI positions in metres.

        Returns
        -------
        Tensor, shape (B, C, n_out, d)
        """
        B, C, _W = x.shape
        ch = self.chan_mlp(ch_pos)  # (C, d)
        toks = []
        for s, p in enumerate(self.patch_sizes):
            n = self.n_tok[s]
            pt = x[:, :, : n * p].reshape(B, C, n, p)
            toks.append(self.patch_embed[s](pt) + self.scale_emb[s] + self.pos_emb[s])
        z = torch.cat(toks, dim=2) + ch[None, :, None, :]  # (B, C, T, d)
        T = z.shape[2]
        for tl, cl in zip(self.time_layers, self.chan_layers):
            z = tl(z.reshape(B * C, T, self.d)).reshape(B, C, T, self.d)
            z = cl(z.transpose(1, 2).reshape(B * T, C, self.d)).reshape(B, T, C, self.d).transpose(1, 2)
        z = self.enc_norm(z)
        # back onto the fine (output) grid: fine tokens + upsampled coarse tokens
        feats = z.new_zeros(B, C, self.n_out, self.d)
        off = 0
        for s, p in enumerate(self.patch_sizes):
            n = self.n_tok[s]
            zs = z[:, :, off: off + n]
            off += n
            rep = p // self.out_patch
            up = zs.repeat_interleave(rep, dim=2)
            if up.shape[2] < self.n_out:  # tail not covered by a whole coarse patch
                up = torch.cat([up, up[:, :, -1:].expand(-1, -1, self.n_out - up.shape[2], -1)], dim=2)
            feats = feats + up[:, :, : self.n_out]
        return feats + ch[None, :, None, :]

    def queries(self, pos: torch.Tensor, region: torch.Tensor, depth: torch.Tensor,
                adapter: torch.Tensor | None = None) -> torch.Tensor:
        """Contact queries, shape (K, d), from positions (K, 3), region and depth indices (K,)."""
        q = self.contact_mlp(pos) + self.region_emb(region) + self.depth_emb(depth)
        if adapter is not None:
            q = q + adapter
        return q

    def linear_readout(self, summary: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Lagged spatial filter per contact: summaries (B, C, d), queries (K, d), scalp (B, C, W) -> (B, K, W)."""
        B, C, W = x.shape
        K, H, d = q.shape[0], self.n_lin, self.d
        xb = self.lin_basis(x.reshape(B * C, 1, W)).reshape(B, C, H, W)
        kk = self.lin_k(summary).reshape(B, C, H, d)
        qq = self.lin_q(q).reshape(K, H, d)
        w = torch.einsum("khe,bche->bkhc", qq, kk) / d
        return torch.einsum("bkhc,bchw->bkw", w, xb)

    def decode(self, feats: torch.Tensor, q: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """Channel features (B, C, n_out, d), queries (K, d) [and scalp (B, C, W)] -> waveforms (B, K, W).

        ``x`` (the same standardized scalp windows :meth:`encode` saw) feeds
        the linear readout; it is required when the net has one.
        """
        B, C, n, d = feats.shape
        K, h = q.shape[0], self.h
        dh = d // h
        summary = feats.mean(dim=2)  # (B, C, d)
        keys = self.k_proj(summary)
        qq = self.q_proj(self.q_norm(q))  # (K, d)
        logits = torch.einsum("khe,bche->bhkc", qq.reshape(K, h, dh), keys.reshape(B, C, h, dh)) / math.sqrt(dh)
        att = torch.softmax(logits, dim=-1)  # (B, h, K, C)
        v = self.v_proj(feats).reshape(B, C, n, h, dh)
        mixed = torch.einsum("bhkc,bcnhe->bknhe", att, v).reshape(B, K, n, d)
        y = self.o_proj(mixed) + q[None, :, None, :] + self.out_pos[None, None]
        y = y.reshape(B * K, n, d)
        for layer in self.dec_layers:
            y = layer(y)
        out = self.head(self.head_norm(y)).reshape(B, K, n * self.out_patch)  # (B, K, W)
        if self.n_lin:
            if x is None:
                raise ValueError("this CastNet has a linear readout: decode() needs the scalp windows x")
            out = out + self.linear_readout(summary, q, x)
        return out

    def forward(self, x: torch.Tensor, ch_pos: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """Scalp windows (B, C, W) -> contact windows (B, K, W), standardized units."""
        return self.decode(self.encode(x, ch_pos), q, x)
