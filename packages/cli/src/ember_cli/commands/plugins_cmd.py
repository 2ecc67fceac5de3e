"""``ember plugins``: every plugin with its distribution, version and what it registered."""

from __future__ import annotations

import json
import textwrap
import warnings

from ..output import out
from . import add_parser


def configure(subparsers) -> None:
    p = add_parser(subparsers, "plugins", "list plugins and what they registered",
                   "Every ember plugin (built-in, EMBER_PLUGINS, installed entry points) with its distribution,\n"
                   "version and what it registered: backends, layers, optimizers, models, commands.\n"
                   "A plugin that failed to load is listed with its error.",
                   "  ember plugins\n  ember plugins --json\n  EMBER_PLUGINS=my_plugin ember plugins\n")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def collect() -> list[dict]:
    from ember import plugins

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # broken plugins are shown with their error below
        infos = plugins.manager().plugins()
    return [{"name": i.name, "distribution": i.distribution, "version": i.version,
             "registered": {k: list(v) for k, v in i.registered.items()}, "error": i.error} for i in infos]


def run(args) -> int:
    rows = collect()
    if args.json:
        out(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        version = f" {row['version']}" if row["version"] else ""
        status = "  BROKEN" if row["error"] else ""
        out(f"{row['name']}  ({row['distribution']}{version}){status}")
        if row["error"]:
            out(f"    error: {row['error']}")
        for kind, names in row["registered"].items():
            text = f"{kind} ({len(names)}): " + ", ".join(names)
            out(textwrap.fill(text, width=100, initial_indent="    ", subsequent_indent="        "))
        if not row["registered"] and not row["error"]:
            out("    (registered nothing)")
    return 0
