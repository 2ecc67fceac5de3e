"""``ember config show MODEL``: the full default run config as TOML, ready to edit."""

from __future__ import annotations

from .. import config as cfg
from ..output import out
from . import add_parser


def configure(subparsers) -> None:
    p = add_parser(subparsers, "config", "show run configs",
                   "Run configs: TOML files with [model], [optim], [train] and [data] tables.",
                   "  ember config show gpt2 > run.toml\n  ember config show gpt2 --preset tiny\n"
                   "  ember config show gpt2 --config run.toml --set optim.lr=1e-3\n")
    sub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    show = sub.add_parser("show", help="print a model's full run config as TOML",
                          description="Print the full run config of MODEL as TOML (defaults, then --preset, "
                                      "--config and --set, checked as `ember train` checks them).",
                          epilog="examples:\n  ember config show gpt2 > run.toml\n  ember train gpt2 --config run.toml\n",
                          formatter_class=p.formatter_class)
    show.add_argument("model", nargs="?", default=cfg.DEFAULT_MODEL, help=f"a registered model (default {cfg.DEFAULT_MODEL})")
    show.add_argument("--preset", help="start from one of the model's presets")
    show.add_argument("--config", metavar="FILE", help="a TOML run config to apply")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one value")
    show.set_defaults(func=show_config)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def show_config(args) -> int:
    resolved = cfg.resolve(args.model, args.preset, args.config, args.set)
    header = (f"ember run config for {args.model}: edit it and run `ember train {args.model} --config FILE`.\n"
              "model.vocab_size is set from the tokenizer when a language model is trained.")
    out(resolved.to_toml(header).rstrip("\n"))
    return 0
