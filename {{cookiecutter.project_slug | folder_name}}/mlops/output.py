"""What the CLI prints: results as JSON on stdout; messages, progress and (with ``--verbose``) the
Azure SDKs' log on stderr."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import click

PROGRESS_INTERVAL_SECONDS = 15
# Set once by configure_logging from `mlops --verbose`.
_VERBOSITY = {"verbose": False}


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=False))


def say(message: str) -> None:
    click.echo(message, err=True)


def configure_logging(verbose: bool) -> None:
    """Quiet SDK logging by default; ``--verbose`` shows the SDKs' own log on stderr."""
    _VERBOSITY["verbose"] = verbose
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
    return _VERBOSITY["verbose"]


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
