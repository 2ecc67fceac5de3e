"""The ``ember`` command: an argparse program whose subcommands come from the commands hook.

Every subcommand, ember-cli's own included, is registered by a plugin through
``ember_register_commands``: ``register(name, configure)``, where ``configure(subparsers)``
adds a sub-parser whose ``func`` default runs the command and returns its exit status.

Exit status: 0 success, 1 failure, 2 usage error (bad arguments or config), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings

from . import __version__
from .output import CommandError, UsageError, error, warn

EXAMPLES = """\
examples:
  ember train                     train the default model (a small GPT-2 on Shakespeare)
  ember train gpt2 --preset tiny --set train.steps=50
  ember train vit                 a ViT on Fashion-MNIST (also: resnet, bert on fortunes, clip, llama)
  ember generate runs/gpt2-... --prompt "ROMEO:"
  ember eval runs/gpt2-...        perplexity; accuracy for vit/resnet/bert; recall@k for clip
  ember bench vit --compare torch
  ember devices
  ember plugins
  ember config show gpt2 > run.toml

Run `ember COMMAND --help` for a command's options and examples.
"""


def build_parser() -> argparse.ArgumentParser:
    """The full parser: ember's options plus every registered subcommand."""
    from ember import plugins

    parser = argparse.ArgumentParser(prog="ember", description="Ember: train, sample, evaluate and benchmark models.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ember-cli {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, entry in sorted(plugins.registry("commands").items()):
        try:
            entry.obj(sub)
        except Exception as exc:  # a broken plugin's command must not take the others down
            warn(f"command {name!r} from plugin {entry.plugin!r} could not be set up: {type(exc).__name__}: {exc}")
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    warn(str(message))  # one line, no source location: the message names the plugin


def main(argv: list[str] | None = None) -> int:
    """Run the ``ember`` command; returns (and, as a script, exits with) its status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    warnings.showwarning = _show_warning
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return 2
        status = func(args)
        return int(status or 0)
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except UsageError as exc:
        error(str(exc))
        return 2
    except CommandError as exc:
        error(str(exc))
        return 1
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:  # `ember ... | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except Exception as exc:
        if os.environ.get("EMBER_DEBUG"):
            traceback.print_exc()
        error(f"{type(exc).__name__}: {exc}" + ("" if os.environ.get("EMBER_DEBUG") else
                                               "  (EMBER_DEBUG=1 shows the traceback)"))
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
