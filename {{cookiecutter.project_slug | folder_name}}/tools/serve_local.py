"""Serve a model on this machine with the Azure ML inference server, as an online endpoint would.

    python tools/serve_local.py --entry-script models/model1/score.py \
        --model-dir outputs/model1/model --request REQUEST.json
        start the server, POST the request file to /score, print the answer, stop the server
    python tools/serve_local.py --entry-script models/model1/score.py \
        --model-dir outputs/model1/model [--port 5001]
        serve until Ctrl+C

`make score-local` and `make serve-local` run it for the model named by MODEL.

Only the standard library is used for HTTP, so nothing beyond the inference server is needed.
Exit codes: 0 answered 200, 1 the server failed or answered another status, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 30.0
POLL_INTERVAL_SECONDS = 0.2
LOG_TAIL_LINES = 40
# gunicorn (Linux, macOS) logs this once it holds the port, which proves that this server and not
# another one answers there; waitress (Windows) logs no such line.
LISTENING_LINE = None if sys.platform == "win32" else "Listening at: http://"


class ServerError(RuntimeError):
    """The inference server did not start or stopped; the message includes its output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def gunicorn_args() -> str:
    """Extra gunicorn flags for a throwaway local server.

    gunicorn 25.1+ opens a control socket in the home folder by default, one path shared by every
    server of the user; a local server needs none. (On Windows the server uses waitress instead.)
    """
    inherited = os.environ.get("GUNICORN_CMD_ARGS", "")
    try:
        version = importlib.metadata.version("gunicorn")
    except importlib.metadata.PackageNotFoundError:
        return inherited
    major_minor = re.match(r"(\d+)\.(\d+)", version)
    if major_minor and tuple(map(int, major_minor.groups())) >= (25, 1):
        return f"{inherited} --no-control-socket".strip()
    return inherited


def server_command(model_dir: Path, entry_script: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "azureml_inference_server_http",
        "--entry_script",
        str(entry_script),
        "--model_dir",
        str(model_dir),
        "--port",
        str(port),
    ]


def http_request(
    url: str, body: bytes | None = None, method: str | None = None
) -> tuple[int, bytes]:
    """Send a request (POST with a JSON body when ``body`` is given); return status and body."""
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def is_healthy(base_url: str) -> bool:
    try:
        status, _ = http_request(f"{base_url}/")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return status == 200


def read_log(log, lines: int | None = None) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) if lines else text


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(
    model_dir: Path,
    *,
    entry_script: Path,
    port: int | None = None,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Start ``azmlinfsrv`` for ``model_dir``, wait until it is healthy, yield its base URL.

    The server is stopped (terminate, then kill) when the block ends. Raises ServerError with the
    server's output when it exits early or is not healthy within ``startup_timeout`` seconds.
    """
    model_dir, entry_script = Path(model_dir).resolve(), Path(entry_script).resolve()
    if not model_dir.is_dir():
        raise ServerError(f"model folder does not exist: {model_dir}")
    if not entry_script.is_file():
        raise ServerError(f"scoring script does not exist: {entry_script}")
    port = port or free_port()
    base_url = f"http://{HOST}:{port}"
    environment = {**os.environ, "GUNICORN_CMD_ARGS": gunicorn_args(), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            server_command(model_dir, entry_script, port),
            cwd=entry_script.parent,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(process, log, base_url, startup_timeout)
            yield base_url
        finally:
            stop(process)


def wait_until_healthy(process: subprocess.Popen, log, base_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the inference server exited with code {process.returncode} before it was "
                f"healthy; its output:\n{read_log(log, LOG_TAIL_LINES)}"
            )
        listening = LISTENING_LINE is None or LISTENING_LINE in read_log(log)
        if listening and is_healthy(base_url):
            return
        time.sleep(POLL_INTERVAL_SECONDS)
    stop(process)
    raise ServerError(
        f"the inference server was not healthy at {base_url}/ within {timeout:.0f} s; "
        f"its output:\n{read_log(log, LOG_TAIL_LINES)}"
    )


def pretty(body: bytes) -> str:
    try:
        return json.dumps(json.loads(body), indent=2)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Serve the model locally with the Azure ML inference server."
    )
    parser.add_argument(
        "--entry-script", type=Path, required=True, help="the model's scoring script (score.py)"
    )
    parser.add_argument(
        "--model-dir", type=Path, required=True, help="folder holding the trained model"
    )
    parser.add_argument(
        "--request", type=Path, help="JSON file to POST to /score; without it, serve until Ctrl+C"
    )
    parser.add_argument("--port", type=int, help="port to listen on (default: a free one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.model_dir.is_dir():
        print(f"error: model folder does not exist: {args.model_dir}", file=sys.stderr)
        return 2
    if not args.entry_script.is_file():
        print(f"error: scoring script does not exist: {args.entry_script}", file=sys.stderr)
        return 2
    if args.request is not None and not args.request.is_file():
        print(f"error: request file does not exist: {args.request}", file=sys.stderr)
        return 2
    try:
        with running_server(
            args.model_dir, entry_script=args.entry_script, port=args.port
        ) as base_url:
            if args.request is None:
                print(f"serving {base_url}/score (health: {base_url}/); Ctrl+C stops", flush=True)
                while True:
                    time.sleep(1)
            status, body = http_request(f"{base_url}/score", args.request.read_bytes())
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    print(pretty(body))
    if status != 200:
        print(f"error: /score answered HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
