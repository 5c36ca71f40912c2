"""A scripted Azure Machine Learning service: the real ``MLClient`` over HTTP answers in the
service's own format, so the SDK's deserialization, enums, long-running-operation polling and
exceptions run as they do against Azure.

The answers are JSON files under ``tests/azure_responses/`` in the format of the Azure SDK test
proxy's recordings (``Entries`` of RequestMethod, RequestUri, StatusCode, ResponseHeaders,
ResponseBody, and ``Variables``), each with its ``Provenance``: copied from a recording, or written
by hand from the service's REST reference (tests/azure_responses/README.md). A test serves the
files its flow needs, in the order the command asks for them::

    azure.serve("jobs/get.json", job_name="quiet_lamp_1234", status="Completed")

Files are steps: a request is answered from the files served up to the first one not fully
answered yet, that one first. It takes the first entry still open with the same method, host (a
recorded ``Sanitized.blob.core.windows.net`` stands for any host of that domain), URL path and
``comp``/``restype`` query parameters (which tell blob operations on one path apart). Other query
parameters (``api-version``, SAS tokens) are not compared.

``Variables`` are recorded values (names, versions) that stand whole in the file's text. A value
the test gives replaces one everywhere; one it does not give matches any path segment, and the
value the request used then replaces it in the answers of that file, as the service answers with
the names it was sent. A variable of ``Patterns`` matches its regex in every request and takes no
value (the paths of a folder's files in an upload). ``Fields`` name places in the file (JSON
pointers) where a JSON value the test gives is put: an endpoint's traffic, the deployments listed.

An entry answers one request, ``"Times": n`` of them, or with ``"Repeat": true`` any number (one
file of a folder upload each), at least one. ``"Failure"`` makes it no answer: ``"connection
reset"`` (the network drops the request) or ``"Ctrl-C"`` (the person waiting presses it).

Every request azure-ai-ml makes reaches this script: the ``MLClient`` gets ``ScriptedTransport``,
and the clients it builds without a transport (the blob clients for uploads and downloads) use
azure-core's default ``RequestsTransport``, whose requests adapter is patched to answer from the
same script. A request the script does not expect fails the test at once, naming its method and
URL; so does any other attempt to open a socket, and an entry left unanswered when the test ends.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests.adapters
import urllib3
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport

RESPONSES = Path(__file__).parent / "azure_responses"
# The workspace of the recordings, as the Azure SDK team's sanitizers left it.
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000"
RESOURCE_GROUP = "00000"
WORKSPACE = "00000"
WORKSPACE_ID = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WORKSPACE}"
)
# Query parameters that tell apart blob operations on the same path.
OPERATION_PARAMETERS = ("comp", "restype")
# Headers that describe the recorded body's encoding, not the body served here.
ENCODING_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
SEGMENT = "[^/]+"
# What an entry's "Failure" makes of its request instead of an answer: the network drops it, or
# the person waiting for it presses Ctrl-C.
CONNECTION_RESET = "connection reset"
CTRL_C = "Ctrl-C"
# The host label the recordings' sanitizers put in place of account and service names.
SANITIZED = "sanitized"


def unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.unsigned"


class FakeCredential:
    """A token credential that signs in to nothing. Its token is an unsigned JWT for the audience
    of the scope asked for: azure-ai-ml reads the audience before it submits a pipeline."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        return AccessToken(unsigned_jwt({"aud": audience}), int(time.time()) + 3600)


@dataclass
class Sent:
    """A request that reached the script."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Entry:
    method: str
    host: str
    path: str
    operation: tuple[str | None, ...]
    status: int
    headers: dict[str, Any]
    body: Any
    times: int | None
    failure: str | None
    flow: Flow
    answered: int = 0

    @property
    def open(self) -> bool:
        return self.times is None or self.answered < self.times

    @property
    def done(self) -> bool:
        """Answered as often as it says: its times, or at least once if it repeats."""
        return self.answered >= (self.times or 1)


@dataclass
class Flow:
    """The entries of one served file, with the values its variables took."""

    file: str
    recorded: dict[str, str]
    patterns: dict[str, str]
    values: dict[str, str]
    entries: list[Entry] = field(default_factory=list)

    def occurrences(self) -> re.Pattern[str] | None:
        """Where the recorded values of the variables stand whole (not inside a longer name)."""
        names = sorted(self.recorded, key=lambda name: -len(self.recorded[name]))
        if not names:
            return None
        alternatives = "|".join(f"(?P<{name}>{re.escape(self.recorded[name])})" for name in names)
        # Not inside a longer name, nor a number's part of a longer number ("3" of "3.8.5").
        return re.compile(rf"(?<![\w-])(?<!\d\.)(?:{alternatives})(?![\w-]|\.\d)")

    def path_pattern(self, path: str) -> re.Pattern[str]:
        finder = self.occurrences()
        parts, seen, last = [], set(), 0
        for found in finder.finditer(path) if finder else ():
            name = found.lastgroup
            parts.append(re.escape(path[last : found.start()]))
            if name in self.values:
                parts.append(re.escape(self.values[name]))
            elif name in self.patterns:
                parts.append(f"(?:{self.patterns[name]})")
            elif name in seen:
                parts.append(f"(?P={name})")
            else:
                parts.append(f"(?P<{name}>{SEGMENT})")
                seen.add(name)
            last = found.end()
        parts.append(re.escape(path[last:]))
        return re.compile("".join(parts))

    def substitute(self, text: str) -> str:
        finder = self.occurrences()
        if finder is None:
            return text
        return finder.sub(lambda found: self.values.get(found.lastgroup, found.group()), text)


def same_host(recorded: str, host: str) -> bool:
    """Equal hosts; a recorded ``Sanitized.<domain>`` stands for any host of that domain."""
    recorded, host = recorded.lower(), host.lower()
    label, _, domain = recorded.partition(".")
    return host == recorded or (label == SANITIZED and host.endswith("." + domain))


def operation_of(url: str) -> tuple[str | None, ...]:
    query = parse_qs(urlsplit(url).query)
    return tuple((query.get(name) or [None])[0] for name in OPERATION_PARAMETERS)


def set_field(document: Any, pointer: str, value: Any) -> None:
    """Set the value at a JSON pointer (``/Entries/0/ResponseBody/properties/traffic``)."""
    *parents, last = [part for part in pointer.split("/") if part]
    for part in parents:
        document = document[int(part)] if isinstance(document, list) else document[part]
    document[int(last) if isinstance(document, list) else last] = value


def load_flow(file: str, values: dict[str, Any]) -> Flow:
    """The entries of ``file``: ``values`` fix its Variables (strings in its text) and its Fields
    (JSON values at the places the file names)."""
    document = json.loads((RESPONSES / file).read_text(encoding="utf-8"))
    if not document.get("Provenance"):
        raise AssertionError(f"{file}: no Provenance: say where its answers come from")
    fields = dict(document.get("Fields") or {})
    flow = Flow(
        file=file,
        recorded=dict(document.get("Variables") or {}),
        patterns=dict(document.get("Patterns") or {}),
        values={},
    )
    unknown = set(values) - set(flow.recorded) - set(fields)
    if unknown:
        known = sorted([*flow.recorded, *fields])
        raise AssertionError(f"{file}: no variables {sorted(unknown)} (it has {known})")
    for name, value in values.items():
        if name in fields:
            for pointer in fields[name]:
                set_field(document, pointer, value)
        else:
            flow.values[name] = str(value)
    for raw in document["Entries"]:
        flow.entries.append(
            Entry(
                method=raw["RequestMethod"],
                host=urlsplit(raw["RequestUri"]).hostname or "",
                path=urlsplit(raw["RequestUri"]).path,
                operation=operation_of(raw["RequestUri"]),
                status=raw["StatusCode"],
                headers=dict(raw.get("ResponseHeaders") or {}),
                body=raw.get("ResponseBody"),
                times=None if raw.get("Repeat") else int(raw.get("Times", 1)),
                failure=raw.get("Failure"),
                flow=flow,
            )
        )
    return flow


def body_bytes(body: Any) -> bytes:
    """JSON for objects and lists, UTF-8 text for strings, nothing for null."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


class ScriptedAzure:
    """The script of one test: what it serves, and every request it received."""

    def __init__(self) -> None:
        self.flows: list[Flow] = []
        self.entries: list[Entry] = []
        self.sent: list[Sent] = []
        self.unexpected: list[str] = []
        self.sleeps: list[float] = []
        self.ctrl_c_in_sleep_of: float | None = None
        self.lock = threading.Lock()

    def serve(self, file: str, **values: Any) -> None:
        """Answer the next requests from ``file``; ``values`` fix its variables and fields."""
        flow = load_flow(file, values)
        self.flows.append(flow)
        self.entries.extend(flow.entries)

    def requests(self, method: str | None = None, path_part: str = "") -> list[Sent]:
        """The requests received, in order: all, or those of ``method`` with ``path_part`` in
        their path."""
        return [
            sent
            for sent in self.sent
            if (method is None or sent.method == method) and path_part in sent.path
        ]

    def answer(self, method: str, url: str, headers: dict[str, str], body: bytes):
        with self.lock:
            self.sent.append(Sent(method, url, headers, body))
            entry, captured = self.match(method, url)
            if entry is None:
                self.unexpected.append(f"{method} {url}")
                pytest.fail(f"a request the script does not expect: {method} {url}", pytrace=False)
            entry.answered += 1
            entry.flow.values.update(captured)
        if entry.failure == CONNECTION_RESET:
            raise requests.exceptions.ConnectionError(
                "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
            )
        if entry.failure == CTRL_C:
            raise KeyboardInterrupt
        flow = entry.flow
        text = flow.substitute(json.dumps(entry.body))
        return entry.status, headers_of(entry), body_bytes(json.loads(text))

    def reachable(self) -> list[Entry]:
        """The entries a request may be answered from: those of the files served up to the first
        not fully answered (files are steps, in order; within one, any order). That file's come
        first, so that an earlier file's repeating entry takes only what it does not."""
        flows: list[Flow] = []
        for flow in self.flows:
            flows.insert(0, flow)
            if not all(entry.done for entry in flow.entries):
                break
        return [entry for flow in flows for entry in flow.entries]

    def match(self, method: str, url: str) -> tuple[Entry | None, dict[str, str]]:
        parts = urlsplit(url)
        path, operation = parts.path, operation_of(url)
        for entry in self.reachable():
            if not entry.open or entry.method != method or entry.operation != operation:
                continue
            if not same_host(entry.flow.substitute(entry.host), parts.hostname or ""):
                continue
            found = entry.flow.path_pattern(entry.path).fullmatch(path)
            if found:
                return entry, {k: v for k, v in found.groupdict().items() if v is not None}
        return None, {}

    def press_ctrl_c_in_a_sleep_of(self, seconds: float) -> None:
        """Press Ctrl-C during the first sleep of ``seconds`` from now on."""
        self.ctrl_c_in_sleep_of = seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds == self.ctrl_c_in_sleep_of:
            self.ctrl_c_in_sleep_of = None
            raise KeyboardInterrupt

    def unanswered(self) -> list[str]:
        return [
            f"{entry.flow.file}: {entry.method} {entry.path}"
            for entry in self.entries
            if not entry.done
        ]

    def check_finished(self) -> None:
        problems = [f"unexpected request: {line}" for line in self.unexpected]
        problems += [f"never requested: {line}" for line in self.unanswered()]
        if problems:
            received = [
                f"  {sent.method} {urlsplit(sent.url).netloc}{sent.path}" for sent in self.sent
            ]
            pytest.fail(
                "the scripted conversation did not happen:\n"
                + "\n".join(problems)
                + "\nrequests received, in order:\n"
                + "\n".join(received)
            )

    # wiring

    def send(self, adapter: requests.adapters.HTTPAdapter, request, **kwargs) -> Any:
        """requests' ``HTTPAdapter.send``: the answer as requests builds it from urllib3."""
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
        status, headers, content = self.answer(
            request.method, request.url, dict(request.headers), bytes(body)
        )
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(content),
            headers={**headers, "Content-Length": str(len(content))},
            status=status,
            preload_content=False,
            decode_content=False,
        )
        return adapter.build_response(request, raw)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Answer every HTTP request of this process from the script; refuse every socket."""
        service = self

        def send(adapter, request, **kwargs):
            return service.send(adapter, request, **kwargs)

        def refuse(*args, **kwargs):
            pytest.fail(f"a connection outside the script: {args[1:] or kwargs}", pytrace=False)

        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
        monkeypatch.setattr(socket.socket, "connect", refuse)
        monkeypatch.setattr(socket, "getaddrinfo", refuse)
        monkeypatch.setattr(time, "sleep", self.sleep)


def headers_of(entry: Entry) -> dict[str, str]:
    """The entry's response headers, its flow's variables put in, without encoding headers."""
    headers = {}
    for name, value in entry.headers.items():
        if name.lower() in ENCODING_HEADERS:
            continue
        text = ", ".join(value) if isinstance(value, list) else str(value)
        headers[name] = entry.flow.substitute(text)
    return headers


class ScriptedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter that answers from the script instead of opening a connection."""

    def __init__(self, service: ScriptedAzure) -> None:
        super().__init__()
        self.service = service

    def send(self, request, **kwargs):
        return self.service.send(self, request, **kwargs)


class ScriptedTransport(RequestsTransport):
    """azure-core's requests transport (MLClient's default), answering from the script."""

    def __init__(self, service: ScriptedAzure) -> None:
        super().__init__()
        self.service = service

    def _init_session(self, session) -> None:
        super()._init_session(session)
        for protocol in self._protocols:
            session.mount(protocol, ScriptedAdapter(self.service))
