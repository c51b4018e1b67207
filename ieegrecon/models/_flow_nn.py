"""Torch modules of the conditional flow model (see :mod:`ieegrecon.models.flow`).

Shapes: ``B`` windows, ``C`` scalp channels, ``K`` contacts, ``L`` scalp
context samples, ``W`` iEEG samples per window, ``S`` posterior samples.
The flow itself is ``zuko.flows.MAF`` with ``passes=2`` (an affine coupling
flow, so that sampling costs two network passes per transform; Papamakarios
et al. 2017, Dinh et al. 2017); nothing here re-implements a flow layer.
"""

from __future__ import annotations

import torch
import zuko
from torch import nn

from ._cast_nn import PositionMLP


class MultiScaleScalpEncoder(nn.Module):
    """Multi-scale self-attention encoder of a scalp context window.

    The window (all channels) is cut into non-overlapping patches of each
    size in ``patch_sizes``; each patch (C x p values) is linearly embedded,
    given a scale and a temporal position embedding, and the tokens of every
    scale attend to each other (``n_layers`` pre-norm transformer layers).
    The normalized tokens are flattened and projected to ``d_out``, keeping
    their temporal order (a pooled summary would lose the timing a waveform
    needs).

    Parameters
    ----------
    n_scalp : int
        Scalp channels C.
    ctx_len : int
        Context samples L (a multiple of every patch size).
    patch_sizes : tuple of int
    d_model, n_heads, n_layers : int
        Token width, attention heads, transformer layers.
    d_out : int
        Width of the encoding.
    """

    def __init__(self, n_scalp: int, ctx_len: int, patch_sizes: tuple[int, ...] = (4, 8, 24),
                 d_model: int = 32, n_heads: int = 4, n_layers: int = 1, d_out: int = 64,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if any(ctx_len % p for p in patch_sizes):
            raise ValueError(f"ctx_len {ctx_len} must be a multiple of every patch size {patch_sizes}")
        self.patch_sizes = tuple(int(p) for p in patch_sizes)
        self.n_tok = [ctx_len // p for p in self.patch_sizes]
        self.embed = nn.ModuleList([nn.Linear(n_scalp * p, d_model) for p in self.patch_sizes])
        self.scale_emb = nn.Parameter(torch.randn(len(self.patch_sizes), d_model) * 0.02)
        self.pos_emb = nn.ParameterList([nn.Parameter(torch.randn(n, d_model) * 0.02) for n in self.n_tok])
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.proj = nn.Linear(sum(self.n_tok) * d_model, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scalp context windows (B, C, L) -> encodings (B, d_out)."""
        B, C, _ = x.shape
        toks = []
        for s, p in enumerate(self.patch_sizes):
            n = self.n_tok[s]
            pt = x.reshape(B, C, n, p).permute(0, 2, 1, 3).reshape(B, n, C * p)
            toks.append(self.embed[s](pt) + self.scale_emb[s] + self.pos_emb[s])
        z = self.norm(self.layers(torch.cat(toks, dim=1)))
        return self.proj(z.flatten(1))


class ContactEmbedding(nn.Module):
    """Contact descriptor: MLP on Fourier features of its MNI position + region + depth-class embeddings."""

    def __init__(self, d: int, n_regions: int, n_depth: int, n_freqs: int = 4) -> None:
        super().__init__()
        self.pos = PositionMLP(d, n_freqs)
        self.region = nn.Embedding(n_regions, d)
        self.depth = nn.Embedding(n_depth, d)
        nn.init.normal_(self.region.weight, std=0.02)
        nn.init.normal_(self.depth.weight, std=0.02)

    def forward(self, pos: torch.Tensor, region: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Positions (K, 3) in metres (NaN -> 0), region and depth indices (K,) -> (K, d)."""
        return self.pos(torch.nan_to_num(pos)) + self.region(region) + self.depth(depth)


class ConditionalWindowFlow(nn.Module):
    """p(contact window | scalp context, contact) as a location + zuko coupling flow.

    ``y = mu(c) + f^{-1}(z; c)``, ``z ~ N(0, I_W)``, with ``c`` the per-contact
    context (scalp encoding and contact embedding through an MLP), ``mu`` a
    linear head (absent, i.e. 0, with ``use_mu=False``: the target is then a
    residual around a location computed elsewhere) and ``f`` a
    ``zuko.flows.MAF(passes=2)`` conditioned on ``c``.
    """

    def __init__(self, *, n_scalp: int, ctx_len: int, win: int, n_regions: int, n_depth: int,
                 d_enc: int = 64, d_contact: int = 32, d_ctx: int = 64, transforms: int = 4,
                 hidden: int = 96, patch_sizes: tuple[int, ...] = (4, 8, 24), use_mu: bool = True) -> None:
        super().__init__()
        self.win = win
        self.encoder = MultiScaleScalpEncoder(n_scalp, ctx_len, patch_sizes, d_out=d_enc)
        self.contact = ContactEmbedding(d_contact, n_regions, n_depth)
        self.ctx_mlp = nn.Sequential(nn.Linear(d_enc + d_contact, 2 * d_ctx), nn.GELU(),
                                     nn.Linear(2 * d_ctx, 2 * d_ctx), nn.GELU(), nn.Linear(2 * d_ctx, d_ctx))
        self.mu = nn.Linear(d_ctx, win) if use_mu else None
        self.flow = zuko.flows.MAF(win, d_ctx, transforms=transforms, hidden_features=(hidden, hidden), passes=2)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Parameters of the scalp encoder (frozen during calibration)."""
        return list(self.encoder.parameters())

    def context(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Scalp encodings (B, d_enc) and contact embeddings (K, d_contact) -> contexts (B, K, d_ctx)."""
        B, K = h.shape[0], e.shape[0]
        hc = torch.cat([h[:, None, :].expand(B, K, -1), e[None].expand(B, K, -1)], dim=-1)
        return self.ctx_mlp(hc)

    def loc(self, c: torch.Tensor) -> torch.Tensor:
        """Location ``mu(c)`` (..., W); zeros without a ``mu`` head."""
        if self.mu is None:
            return c.new_zeros(c.shape[:-1] + (self.win,))
        return self.mu(c)

    def nll(self, c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per sample of windows ``y`` (..., W) given contexts (..., d_ctx)."""
        c2, y2 = c.reshape(-1, c.shape[-1]), y.reshape(-1, self.win)
        return -(self.flow(c2).log_prob(y2 - self.loc(c2))).mean() / self.win

    def latents(self, c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Base-space codes ``z = f(y - mu; c)``, shape like ``y``."""
        c2, y2 = c.reshape(-1, c.shape[-1]), y.reshape(-1, self.win)
        return self.flow(c2).transform(y2 - self.loc(c2)).reshape(y.shape)

    def sample_from(self, c: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Push base noise ``z`` (S, ..., W) through the flow given contexts ``c`` (..., d_ctx).

        Returns the residual ``f^{-1}(z; c)`` (shape of ``z``) and the location ``mu(c)`` (..., W);
        a sample is their sum.
        """
        S = z.shape[0]
        c2 = c.reshape(-1, c.shape[-1])
        mu = self.loc(c2)
        x = self.inverse_shared(c2, z.reshape(S, -1, self.win))
        return x.reshape(z.shape), mu.reshape(c.shape[:-1] + (self.win,))

    def inverse_shared(self, c: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``f^{-1}(z; c)`` for ``S`` draws that share each context: ``z`` (S, N, W), ``c`` (N, d_ctx) -> (S, N, W).

        What ``self.flow(c).transform.inv`` computes on the contexts repeated
        ``S`` times, with half the network passes. zuko inverts each coupling
        transform (``passes=2``) in two passes of its hyper-network, the first
        on ``x = 0``: that pass depends on the context alone, so it is made once
        per context and broadcast over the draws (the elementwise inverse
        ``(z - shift) / scale`` is zuko's own). Equal to zuko's inverse up to the
        BLAS rounding of a matmul over N instead of S x N rows (a test checks).
        """
        S, N, W = z.shape
        cs = c[None].expand(S, N, -1).reshape(S * N, -1)
        zero = c.new_zeros((N, W))
        for t in reversed(self.flow.transform.transforms):  # a composition is inverted last-first
            if t.passes != 2:
                raise ValueError(f"inverse_shared needs coupling transforms (passes=2), got passes={t.passes}")
            x = _inverse(t.meta(c, zero), z)  # first pass: right in the half that depends on the context only
            z = _inverse(t.meta(cs, x.reshape(S * N, W)), z.reshape(S * N, W)).reshape(S, N, W)
        return z


def _inverse(transform: "zuko.transforms.DependentTransform", z: torch.Tensor) -> torch.Tensor:
    """``transform.inv(z)`` without a reference cycle.

    torch's ``Transform.inv`` keeps the inverse on the transform and the
    transform on its inverse: every call left a cycle holding its tensors
    until Python's cyclic collector ran, which worker threads promote to the
    oldest generation (a 10-min, 32-draw reconstruct peaked at 2 GiB with two
    workers). The univariate transform's own ``_inverse`` (the extension point
    torch's transforms implement; zuko's ``(z - shift) / scale``) computes the
    same values and leaves nothing behind.
    """
    return transform.base._inverse(z)
