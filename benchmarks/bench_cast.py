"""Speed of CAST inference: real-time factor on 2 CPU threads.

Usage: ``python benchmarks/bench_cast.py [--minutes 2] [--contacts 60] [--model FOLDER] [--profile]``

Builds a CAST model (or loads a saved one with ``--model``), decodes
``--contacts`` contacts from the 19 standard 10-20 channels over
``--minutes`` of random scalp EEG at 200 Hz with ``torch.set_num_threads(2)``
(network plus the residual ridge a calibrated model applies),
and prints the real-time factor (seconds of signal per second of compute),
from wall time and from process CPU time / threads (the latter is what an
otherwise idle machine would give when other jobs share the cores).
The weights do not matter for speed, so an untrained model is fine.

``--profile``: the network alone (a patient model: with its own channels and
contacts; otherwise 19 channels, ``--contacts``) on one thread, in batches of 4 windows (the
inference batch): milliseconds of CPU per 2-s window for the encoder and the
decoder, the same under bfloat16 autocast, and ``torch.profiler``'s most
expensive operators (issue #25: what the network costs per hour).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ieegrecon.channels import STANDARD_1020_19
from ieegrecon.models.base import ContactInfo
from ieegrecon.models.cast import CastModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--contacts", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="saved CAST model folder (default: untrained default model)")
    ap.add_argument("--profile", action="store_true", help="per-window cost of the network alone, one thread")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        from ieegrecon.models.io import load_model

        model = load_model(args.model)[0]
    else:
        model = CastModel()
    rng = np.random.default_rng(0)
    if args.profile and model.contacts is not None:  # a patient model: its own channels and contacts
        profile_network(model)
        return
    pos = rng.normal(scale=0.03, size=(args.contacts, 3))
    model.set_targets(ContactInfo([f"c{i}" for i in range(args.contacts)], pos), list(STANDARD_1020_19))
    # a calibrated model also applies its residual ridge (lags ±100 ms): time that path too
    model.res_coef = rng.normal(scale=1e-7, size=(args.contacts, 19 * len(model.res_lags))).astype(np.float32)
    # ... and standardizes with the calibration recording's statistics instead of the input's
    model.scalp_center, model.scalp_scale = np.zeros(19), np.full(19, 20e-6)
    if args.profile:
        profile_network(model)
        return
    n_times = int(args.minutes * 60 * model.sfreq)
    scalp = rng.normal(scale=20e-6, size=(19, n_times))
    model.predict(scalp[:, : int(10 * model.sfreq)])  # warm-up
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = model.predict(scalp)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert out.shape == (args.contacts, n_times)
    best = min(times)
    print(json.dumps({"threads": args.threads, "n_scalp": 19, "n_contacts": args.contacts,
                      "signal_s": n_times / model.sfreq, "compute_s_best": round(best, 3),
                      "compute_s_median": round(float(np.median(times)), 3),
                      "realtime_factor": round(n_times / model.sfreq / best, 1),
                      # CPU seconds spread over the threads: the factor on an otherwise idle machine
                      "cpu_s_best": round(min(cpu), 3),
                      "realtime_factor_from_cpu": round(n_times / model.sfreq / (min(cpu) / args.threads), 1)}))


def profile_network(model: CastModel, batch: int = 4, n_windows: int = 200) -> None:
    """Print the encoder's and decoder's CPU ms per window (one thread), bfloat16's, and the top operators."""
    from torch.profiler import ProfilerActivity, profile

    from ieegrecon.headmodel import scalp_positions

    torch.set_num_threads(1)
    net = model.net.eval()
    pos = torch.as_tensor(scalp_positions(model.scalp_names), dtype=torch.float32)
    with torch.no_grad():
        q = model._queries(model.contacts, "cpu", None if model.adapter is None
                           else torch.as_tensor(model.adapter, dtype=torch.float32))
    x = torch.randn(batch, len(model.scalp_names), model.win)

    def per_window(fn) -> float:
        for _ in range(3):
            fn()
        t0 = time.process_time()
        for _ in range(n_windows // batch):
            fn()
        return (time.process_time() - t0) / (n_windows // batch * batch) * 1e3

    with torch.inference_mode():
        feats = net.encode(x, pos)
        enc = per_window(lambda: net.encode(x, pos))
        dec = per_window(lambda: net.decode(feats, q, x))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = per_window(lambda: net.decode(net.encode(x, pos), q, x))
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(20):
                net.decode(net.encode(x, pos), q, x)
    hour = 3600 / (model.win / model.sfreq - model.infer_overlap_s)  # windows per hour (hop = win - overlap)
    print(json.dumps({"n_scalp": len(model.scalp_names), "n_contacts": len(model.contacts.ch_names),
                      "batch": batch, "encode_ms_per_window": round(enc, 2), "decode_ms_per_window": round(dec, 2),
                      "bf16_ms_per_window": round(bf16, 2), "windows_per_hour": round(hour),
                      "cpu_s_per_hour": round((enc + dec) * hour / 1e3, 2),
                      "bf16_cpu_s_per_hour": round(bf16 * hour / 1e3, 2)}))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
    print(json.dumps(sdpa_layer_times(net, batch, len(model.scalp_names))))


def _sdpa_layer(layer: torch.nn.TransformerEncoderLayer, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` (pre-norm, eval) with ``scaled_dot_product_attention``: the alternative measured, not shipped."""
    import torch.nn.functional as F

    b, t, d = x.shape
    h = layer.self_attn.num_heads
    qkv = F.linear(layer.norm1(x), layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias)
    qkv = qkv.view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
    a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]).transpose(1, 2).reshape(b, t, d)
    x = x + layer.self_attn.out_proj(a)
    return x + layer.linear2(F.gelu(layer.linear1(layer.norm2(x))))


def sdpa_layer_times(net, batch: int, n_scalp: int, reps: int = 100) -> dict:
    """ms per call of the encoder's time and channel layers, as shipped and with SDPA (one thread)."""
    out = {}
    n_tok = sum(net.n_tok)
    for name, layer, shape in (("time_layer", net.time_layers[0], (batch * n_scalp, n_tok, net.d)),
                               ("chan_layer", net.chan_layers[0], (batch * n_tok, n_scalp, net.d))):
        x = torch.randn(*shape)
        with torch.inference_mode():
            assert torch.allclose(layer(x), _sdpa_layer(layer, x), atol=1e-5)
            for key, fn in (("shipped", layer), ("sdpa", lambda z, lay=layer: _sdpa_layer(lay, z))):
                for _ in range(5):
                    fn(x)
                t0 = time.process_time()
                for _ in range(reps):
                    fn(x)
                out[f"{name}_{key}_ms"] = round((time.process_time() - t0) / reps * 1e3, 2)
    return out


if __name__ == "__main__":
    main()
