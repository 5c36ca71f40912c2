"""What the CLI prints. stdout carries only the command's result (JSON where it prints JSON);
messages, progress, what the Azure SDKs print and (with ``--verbose``) their log go to stderr.

On a terminal the SDKs' progress bars are live. When stderr is not a terminal (a CI log, a file),
what reaches it is plain lines: no colour codes, and a bar redrawn in place with carriage returns
becomes one line, its last state.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import click

from mlops.errors import ESCAPE_SEQUENCE

PROGRESS_INTERVAL_SECONDS = 15
# azure-ai-ml's pollers print one of these per poll; mlops reports progress itself.
POLL_TICK = "."
# Set by configure_logging (from `mlops --verbose`) and by command_output.
_STATE: dict[str, Any] = {"verbose": False, "results": None}


def emit(text: str) -> None:
    """Print the command's result."""
    click.echo(text, file=_STATE["results"] or sys.stdout)


def emit_json(document: Any) -> None:
    emit(json.dumps(document, indent=2, sort_keys=False))


def say(message: str) -> None:
    click.echo(message, err=True)


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class PlainText(io.TextIOBase):
    """A text stream for logs read later: control sequences removed, and of a line redrawn with
    carriage returns only what it said last. Lines are written whole."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.line = ""

    def write(self, text: str) -> int:
        self.line += ESCAPE_SEQUENCE.sub("", text).replace("\r\n", "\n")
        *done, unfinished = self.line.split("\n")
        for line in done:
            self.target.write(last_drawn(line) + "\n")
        # Of an unfinished line, keep what it shows now and what is being drawn over it.
        self.line = "\r".join(unfinished.split("\r")[-2:])
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def close_line(self) -> None:
        """Write what is left of an unfinished line."""
        if last_drawn(self.line):
            self.target.write(last_drawn(self.line) + "\n")
        self.line = ""
        self.flush()

    def isatty(self) -> bool:
        return False


def last_drawn(line: str) -> str:
    """What a line redrawn in place (``"\\r10%\\r100%"``) shows at the end."""
    drawn = [part for part in line.split("\r") if part.strip()]
    return drawn[-1] if drawn else ""


class SdkOutput(io.TextIOBase):
    """Where the SDKs' prints to stdout go while a command runs: stderr, poll ticks left out."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        if text != POLL_TICK:
            self.target.write(text)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()


@contextlib.contextmanager
def command_output() -> Iterator[None]:
    """While a command runs: its result goes to the stdout it started with, all else to stderr."""
    errors: TextIO = sys.stderr if stderr_is_terminal() else PlainText(sys.stderr)
    _STATE["results"] = sys.stdout
    try:
        with contextlib.redirect_stdout(SdkOutput(errors)), contextlib.redirect_stderr(errors):
            yield
    finally:
        _STATE["results"] = None
        if isinstance(errors, PlainText):
            errors.close_line()


def configure_logging(verbose: bool) -> None:
    """Quiet SDK logging by default; ``--verbose`` shows the SDKs' own log on stderr."""
    _STATE["verbose"] = verbose
    azure_logger = logging.getLogger("azure")
    for handler in [h for h in azure_logger.handlers if getattr(h, "mlops", False)]:
        azure_logger.removeHandler(handler)
    handler = logging.StreamHandler() if verbose else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.mlops = True
    azure_logger.addHandler(handler)
    azure_logger.setLevel(logging.DEBUG if verbose else logging.ERROR)
    azure_logger.propagate = False


def is_verbose() -> bool:
    """Whether ``mlops --verbose`` asked for the SDKs' log and the credential lines."""
    return _STATE["verbose"]


def wait_for(poller: Any, what: str, interval: float = PROGRESS_INTERVAL_SECONDS) -> Any:
    """Wait for a long-running Azure operation, reporting every ``interval`` seconds."""
    started = time.monotonic()
    say(f"{what} ...")
    while not poller.done():
        poller.wait(timeout=interval)
        if not poller.done():
            elapsed = int(time.monotonic() - started)
            say(f"{what}: {poller.status()} after {elapsed}s")
    result = poller.result()
    say(f"{what}: done after {int(time.monotonic() - started)}s")
    return result
