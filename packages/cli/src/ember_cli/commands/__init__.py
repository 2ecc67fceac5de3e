"""ember-cli's subcommands, one module each; :mod:`ember_cli.plugin` registers them."""

import argparse


def add_parser(subparsers, name: str, help: str, description: str, examples: str) -> argparse.ArgumentParser:
    """A sub-parser with ``--help`` text and an examples epilog, formatted as written."""
    return subparsers.add_parser(name, help=help, description=description, epilog="examples:\n" + examples,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
