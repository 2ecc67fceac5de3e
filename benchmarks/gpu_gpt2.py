"""GPT-2 training throughput on one GPU: ember (cuda backend) against PyTorch, same run, same GPU.

    python benchmarks/gpu_gpt2.py            # GPT-2 124M: 12 layers, d 768, 12 heads, vocab 50257,
                                             # seq 1024, batch 8, AdamW
    python benchmarks/gpu_gpt2.py --quick    # 4 layers, seq 256, batch 4 (a minute, for smoke runs)
    python benchmarks/gpu_gpt2.py --modes tf32 --only ember

Modes: ``tf32`` = float32 weights and activations with TF32 matmuls (ember:
``ember.cuda.matmul.allow_tf32``; torch: ``torch.backends.cuda.matmul.allow_tf32``), and
``bf16`` = bfloat16. For torch that is autocast (float32 master weights, bf16 matmuls);
ember has no autocast yet, so its bf16 run casts the whole model to bfloat16 (weights,
activations and AdamW state: pure bf16, which moves less memory than autocast does).
Both use fused AdamW (torch ``fused=True``; ember's ``adamw_update`` CUDA kernel) and the
fused attention of each framework (torch SDPA; ember's flash kernel).

Each (framework, mode) runs in its own process, so one failure or out-of-memory does not
take down the rest, and its memory is returned. Prints tokens/s and ms/step, the
ember/torch ratio per mode, and ember's peak memory. ``--json PATH`` writes the results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

FULL = dict(n_layer=12, n_embd=768, n_head=12, vocab=50257, seq=1024, batch=8)
QUICK = dict(n_layer=4, n_embd=768, n_head=12, vocab=50257, seq=256, batch=4)


def _tokens(cfg):
    import numpy as np

    ids = np.random.default_rng(0).integers(0, cfg["vocab"], size=(cfg["batch"], cfg["seq"] + 1))
    return ids[:, :-1], ids[:, 1:]


def run_ember(cfg, mode, warmup, steps):
    import ember

    step = ember_step(cfg, mode)
    return _time(step, lambda: ember.cuda.synchronize(), warmup, steps,
                 peak=lambda: ember.cuda.max_memory_allocated(), loss=lambda l: float(l.item()))


def ember_model(cfg):
    """The configured GPT-2, initialised from seed 0 on the host (both frameworks start from these weights)."""
    import ember
    from ember_models.gpt2 import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=cfg["vocab"], n_positions=cfg["seq"], n_embd=cfg["n_embd"],
                        n_layer=cfg["n_layer"], n_head=cfg["n_head"])
    ember.manual_seed(0)
    return GPT2LMHeadModel(config)


def torch_state_dict(torch, ember_state) -> dict:
    """ember_models' GPT-2 weights under the names of ``zoo_lm_cases.torch_gpt``."""
    out = {}
    for name, value in ember_state.items():
        name = name.replace("transformer.", "").replace(".attn.", ".")
        name = name.replace("mlp.c_proj", "mlp_proj").replace("mlp.c_fc", "c_fc")
        out[name] = torch.tensor(value.numpy())
    return out


def ember_step(cfg, mode):
    """One ember training step (forward, backward, AdamW) of the configured GPT-2 on "cuda"."""
    import ember

    ember.cuda.matmul.allow_tf32 = mode == "tf32"
    model = ember_model(cfg).to("cuda")
    if mode == "bf16":
        model.to(ember.bfloat16)
    opt = ember.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1, fused=True)
    x_np, y_np = _tokens(cfg)
    x, y = ember.tensor(x_np, device="cuda"), ember.tensor(y_np, device="cuda")

    def step():
        loss = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def run_torch(cfg, mode, warmup, steps):
    import torch

    step = torch_step(cfg, mode)
    torch.cuda.reset_peak_memory_stats()
    return _time(step, torch.cuda.synchronize, warmup, steps, peak=torch.cuda.max_memory_allocated,
                 loss=lambda l: float(l.item()))


def torch_step(cfg, mode):
    """The same step in PyTorch, from the same weights: SDPA, fused AdamW, autocast for bf16."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    from zoo_lm_cases import torch_gpt

    F = torch.nn.functional
    model = torch_gpt(torch, cfg["vocab"], cfg["seq"], cfg["n_embd"], cfg["n_head"], cfg["n_layer"])
    # ember's initial weights (GPT-2's initialisation), so the two loss curves can be compared
    model.load_state_dict(torch_state_dict(torch, ember_model(cfg).state_dict()))
    model = model.cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1, fused=True)
    x_np, y_np = _tokens(cfg)
    x, y = torch.tensor(x_np, device="cuda"), torch.tensor(y_np, device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode == "bf16"):
            logits = model(x)
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def _time(step, sync, warmup, steps, peak, loss):
    first = None
    for _ in range(warmup):
        value = step()
        first = first if first is not None else loss(value)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        value = step()
    sync()
    seconds = (time.perf_counter() - start) / steps
    return {"ms_per_step": seconds * 1e3, "first_loss": first, "last_loss": loss(value), "peak_bytes": peak()}


def _child(args) -> int:
    cfg = QUICK if args.quick else FULL
    fn = run_ember if args.child_impl == "ember" else run_torch
    result = fn(cfg, args.child_mode, args.warmup, args.steps)
    result["tokens_per_s"] = cfg["batch"] * cfg["seq"] / (result["ms_per_step"] / 1e3)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 layers, seq 256, batch 4")
    parser.add_argument("--modes", default="tf32,bf16", help="comma-separated: tf32, bf16")
    parser.add_argument("--only", choices=("ember", "torch"), help="run one framework")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=240, help="seconds per (framework, mode) process")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--child-impl", help=argparse.SUPPRESS)
    parser.add_argument("--child-mode", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_impl:
        return _child(args)

    cfg = QUICK if args.quick else FULL
    print(f"GPT-2 training, {cfg['n_layer']} layers, d {cfg['n_embd']}, {cfg['n_head']} heads, vocab "
          f"{cfg['vocab']}, batch {cfg['batch']} x seq {cfg['seq']}, AdamW; {args.warmup} warm-up + "
          f"{args.steps} timed steps", flush=True)
    impls = [args.only] if args.only else ["ember", "torch"]
    results = {}
    for mode in args.modes.split(","):
        for impl in impls:
            cmd = [sys.executable, __file__, "--child-impl", impl, "--child-mode", mode, "--warmup", str(args.warmup),
                   "--steps", str(args.steps)] + (["--quick"] if args.quick else [])
            started = time.perf_counter()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
                lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
                if proc.returncode == 0 and lines:
                    results[(impl, mode)] = json.loads(lines[-1][7:])
                else:
                    lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines()
                             if "note #" not in line and line.strip() != "^"]  # NVRTC's overload notes
                    tail = lines[-25:]
                    results[(impl, mode)] = {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
            except subprocess.TimeoutExpired:
                results[(impl, mode)] = {"error": f"timed out after {args.timeout:.0f}s"}
            r = results[(impl, mode)]
            took = time.perf_counter() - started
            if "error" in r:
                print(f"  {impl:5s} {mode:4s}  FAILED ({took:.0f}s): {r['error'][:2000]}", flush=True)
            else:
                print(f"  {impl:5s} {mode:4s}  {r['tokens_per_s']:>10,.0f} tokens/s  {r['ms_per_step']:8.1f} ms/step  "
                      f"loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}  peak {r['peak_bytes'] / 2**30:.2f} GiB  "
                      f"({took:.0f}s)", flush=True)
    print("\nmode   ember tokens/s   torch tokens/s   ember/torch")
    for mode in args.modes.split(","):
        e, t = results.get(("ember", mode), {}), results.get(("torch", mode), {})
        et, tt = e.get("tokens_per_s"), t.get("tokens_per_s")
        ratio = f"{et / tt:.2f}" if et and tt else "-"
        print(f"{mode:5s}  {et or 0:>14,.0f}   {tt or 0:>14,.0f}   {ratio:>11s}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{i}/{m}": r for (i, m), r in results.items()}, f, indent=2)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
