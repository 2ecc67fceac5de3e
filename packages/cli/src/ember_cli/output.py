"""Where output goes: data on stdout, messages (and the progress bar) on stderr.

Colour and the live progress bar are used only when stderr is a terminal and ``NO_COLOR``
is unset (https://no-color.org); otherwise progress is printed as plain lines, so CI logs
hold no carriage returns or escape codes.
"""

from __future__ import annotations

import os
import sys
import time


class UsageError(Exception):
    """A bad command line or config: printed as one message, exit status 2."""


class CommandError(Exception):
    """A failure the user can act on: printed as one message, exit status 1."""


def interactive() -> bool:
    """True when stderr is a terminal and NO_COLOR is not set."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _style(text: str, code: str) -> str:
    return f"\033[{code}m{text}\033[0m" if interactive() else text


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(_style("warning:", "33") + " " + message, file=sys.stderr, flush=True)


def error(message: str) -> None:
    print(_style("error:", "31;1") + " " + message, file=sys.stderr, flush=True)


def out(text: str = "") -> None:
    print(text, file=sys.stdout, flush=True)


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain-text table with aligned columns."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_seconds(s: float) -> str:
    s = int(max(0, s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class Progress:
    """A progress bar on stderr: a live bar on a terminal, plain lines every ``every`` steps otherwise.

    ``update(step, **fields)`` shows ``step/total``, the fields (loss, tokens/s) and the ETA.
    """

    def __init__(self, total: int, start: int = 0, every: int = 10, unit: str = "tok/s") -> None:
        self.total, self.start, self.every, self.unit = total, start, max(1, every), unit
        self.live = interactive()
        self.t0 = time.perf_counter()
        self._last_len = 0

    def update(self, step: int, rate: float | None = None, **fields) -> None:
        done = step - self.start
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done * (self.total - step) if done > 0 else 0.0
        parts = [f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items()]
        if rate is not None:
            parts.append(f"{rate:,.0f} {self.unit}")
        parts.append(f"ETA {format_seconds(eta)}")
        text = " | ".join(parts)
        if self.live:
            width = 24
            filled = int(width * step / max(1, self.total))
            bar = "█" * filled + "·" * (width - filled)
            line = f"\r{bar} {step}/{self.total} | {text}"
            pad = max(0, self._last_len - len(line))
            sys.stderr.write(line + " " * pad)
            sys.stderr.flush()
            self._last_len = len(line)
        elif step % self.every == 0 or step == self.total:
            print(f"step {step}/{self.total} | {text}", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        """A line that must not be overwritten by the bar."""
        if self.live and self._last_len:
            sys.stderr.write("\r" + " " * self._last_len + "\r")
            self._last_len = 0
        print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.live and self._last_len:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._last_len = 0
