"""``python -m ember.testing BACKEND [pytest args...]``: run the conformance suite on a backend."""

import sys

import pytest


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m ember.testing BACKEND [pytest options]", file=sys.stderr)
        return 2
    return int(pytest.main(["--pyargs", "ember.testing", "--ember-backend", argv[0], *argv[1:]]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
