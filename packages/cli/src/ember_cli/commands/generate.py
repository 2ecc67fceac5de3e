"""``ember generate RUN_OR_CHECKPOINT --prompt TEXT``: sample from a trained language model."""

from __future__ import annotations

from .. import config as cfgmod
from .. import runs
from ..output import UsageError, out
from . import add_parser

EXAMPLES = """\
  ember generate runs/gpt2-20250101-120000 --prompt "Ham."
  ember generate runs/my-run/checkpoint.safetensors --prompt "To be" --max-new-tokens 100 --temperature 0
  ember generate runs/my-run --prompt "King." --top-p 0.9 --num-samples 3 --seed 1
"""


def configure(subparsers) -> None:
    p = add_parser(subparsers, "generate", "sample text from a trained language model",
                   "Continue --prompt with a model trained by `ember train` (a run folder, or a checkpoint\n"
                   "inside one). The text goes to stdout.", EXAMPLES)
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a run folder or a checkpoint file in one")
    p.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    p.add_argument("--max-new-tokens", type=int, default=200, help="tokens to add (default 200)")
    p.add_argument("--temperature", type=float, default=0.8, help="softmax temperature; 0 is greedy (default 0.8)")
    p.add_argument("--top-k", type=int, default=None, help="sample only among the k most likely tokens")
    p.add_argument("--top-p", type=float, default=None, help="sample only from the nucleus of mass p")
    p.add_argument("--num-samples", type=int, default=1, help="how many continuations (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed the sampler for reproducible output")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: cpu)")
    p.set_defaults(func=run)


def run(args) -> int:
    import ember

    if args.max_new_tokens < 0:
        raise UsageError(f"--max-new-tokens must be >= 0, got {args.max_new_tokens}")
    if args.temperature < 0:
        raise UsageError(f"--temperature must be >= 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise UsageError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.num_samples < 1:
        raise UsageError(f"--num-samples must be >= 1, got {args.num_samples}")
    run_dir, ckpt = runs.locate(args.run)
    cfg = cfgmod.load(run_dir / runs.CONFIG)
    if cfgmod.TASKS.get(cfg.model_name) != "lm":
        raise UsageError(f"{run_dir} holds a {cfg.model_name} run; `ember generate` needs a language model")
    device = _device(args.device)
    cfg, tok, model = runs.load_model(run_dir, ckpt, device)
    try:
        ids = tok.encode(args.prompt)
    except ValueError as exc:
        raise UsageError(f"--prompt: {exc}") from None
    if not ids:
        raise UsageError("--prompt encodes to no tokens")
    if args.seed is not None:
        ember.manual_seed(args.seed)
    from ember_models.generation import generate

    for i in range(args.num_samples):
        if args.num_samples > 1:
            out(f"--- sample {i + 1} ---")
        result = generate(model, ember.tensor(ids, device=device), args.max_new_tokens,
                          temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
        out(tok.decode(result.numpy().tolist()))
    return 0


def _device(name):
    import ember

    if name is None:
        return ember.device("cpu")
    try:
        dev = ember.device(name)
        dev.backend
        return dev
    except Exception as exc:
        raise UsageError(f"--device: {exc}") from None
