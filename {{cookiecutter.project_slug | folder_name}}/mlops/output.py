"""What the CLI prints: results as JSON on stdout, messages and progress on stderr."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import click

PROGRESS_INTERVAL_SECONDS = 15
LOG_SETTINGS = {"verbose": False}


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=False))


def say(message: str) -> None:
    click.echo(message, err=True)


def configure_logging(verbose: bool) -> None:
    """Quiet SDK logging by default; ``--verbose`` shows the SDKs' own log on stderr."""
    LOG_SETTINGS["verbose"] = verbose
    azure_logger = logging.getLogger("azure")
    for handler in [h for h in azure_logger.handlers if getattr(h, "mlops", False)]:
        azure_logger.removeHandler(handler)
    handler = logging.StreamHandler() if verbose else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.mlops = True
    azure_logger.addHandler(handler)
    azure_logger.setLevel(logging.DEBUG if verbose else logging.ERROR)
    azure_logger.propagate = False


def import_azure_ml() -> Any:
    """azure-ai-ml, imported on first use (it takes a second), its logging set to our verbosity.

    On import it gives its own logger an INFO handler, which would print a warning about its
    experimental classes on every spec loaded.
    """
    import azure.ai.ml

    level = logging.INFO if LOG_SETTINGS["verbose"] else logging.ERROR
    logging.getLogger("azure.ai.ml").setLevel(level)
    return azure.ai.ml


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
