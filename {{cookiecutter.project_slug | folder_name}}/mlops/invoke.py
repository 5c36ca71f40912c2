"""``mlops invoke``: call a deployed online endpoint, as ``mlops deploy`` smoke-tests one.

The calls are azure-ai-ml's own for invoking an endpoint (the endpoint and its deployments, its key
or token, then a POST to its scoring URI), except that the answer is kept whatever its status: a
scoring script answers a bad request with 400 and ``{"error": "..."}``, which the SDK's invoke
cannot read, and a refused key is the endpoint's answer, not a failed sign-in to Azure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops import payloads
from mlops.errors import AzureFailure, InvalidInput, one_line
from mlops.metadata import read_json
from mlops.naming import require_valid_name

OK_STATUSES = (200, 201)
# The scoring script refused the request itself.
BAD_REQUEST_STATUSES = (400, 422)
REFUSED_KEY_STATUSES = (401, 403)
SHOWN_BODY_CHARACTERS = 300


@dataclass(frozen=True)
class Answer:
    """What a scoring URI answered."""

    status: int
    text: str

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def document(self) -> Any:
        """The JSON answer (a JSON document encoded as a string is decoded too), or None."""
        try:
            document = json.loads(self.text)
        except ValueError:
            return None
        if isinstance(document, str):
            try:
                return json.loads(document)
            except ValueError:
                return document
        return document

    def error(self) -> str | None:
        """The ``error`` the answer carries (``"..."`` or ``{"code", "message"}``), or None."""
        document = self.document()
        error = document.get("error") if isinstance(document, dict) else None
        if isinstance(error, dict):
            return one_line(str(error.get("message") or error.get("code") or error))
        return one_line(str(error)) if error is not None else None

    def reason(self) -> str:
        """Why the answer is not a result, in one line."""
        said = self.error() or one_line(self.text[:SHOWN_BODY_CHARACTERS]) or "an empty body"
        if self.status in REFUSED_KEY_STATUSES:
            return f"HTTP {self.status}, the endpoint refused its key or token: {said}"
        return f"HTTP {self.status}: {said}"


def check_names(endpoint: str, deployment: str | None) -> None:
    """Endpoint and deployment names follow Azure's rule (exit 2 before anything is sent)."""
    require_valid_name("--endpoint", endpoint, "endpoint")
    if deployment is not None:
        require_valid_name("--deployment", deployment, "endpoint")


def credential_header(keys: Any) -> dict[str, str]:
    """The Authorization header for what ``online_endpoints.get_keys`` returned."""
    secret = getattr(keys, "primary_key", None) or getattr(keys, "access_token", None)
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def post(url: str, body: Any, headers: dict[str, str]) -> Answer:
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import RetryPolicy
    from azure.core.rest import HttpRequest

    # Tried once (a scoring script's 500 is an answer, not a blip), and its body kept as text.
    client = PipelineClient(base_url=url, policies=[RetryPolicy.no_retries()])
    response = client.send_request(HttpRequest("POST", url, json=body, headers=headers))
    return Answer(response.status_code, response.text())


def score(client: Any, endpoint_name: str, body: Any, deployment: str | None) -> Answer:
    """POST ``body`` to the endpoint's scoring URI; with ``deployment``, to that deployment
    whatever the traffic."""
    endpoint = client.online_endpoints.get(name=endpoint_name)
    if deployment is not None and deployment not in (endpoint.traffic or {}):
        known = ", ".join(sorted(endpoint.traffic or {})) or "none"
        raise AzureFailure(
            f"endpoint {endpoint_name} has no deployment {deployment} (deployments: {known})"
        )
    headers = {"Content-Type": "application/json"}
    headers.update(credential_header(client.online_endpoints.get_keys(name=endpoint_name)))
    if deployment is not None:
        headers[payloads.DEPLOYMENT_HEADER] = deployment
    return post(endpoint.scoring_uri, body, headers)


def dry_run(endpoint: str, request: Path, deployment: str | None) -> dict[str, Any]:
    body = read_json(request, "--request")
    description = f"score with {deployment or 'the traffic split'} of {endpoint}"
    return payloads.dry_run_document(
        "invoke", payloads.score_requests(endpoint, deployment, body, description)
    )


def invoke(client: Any, endpoint: str, request: Path, deployment: str | None) -> str:
    """The endpoint's answer, as indented JSON when it is JSON."""
    answer = score(client, endpoint, read_json(request, "--request"), deployment)
    if answer.status in BAD_REQUEST_STATUSES:
        raise InvalidInput(
            f"endpoint {endpoint} refused the request in {request}: {answer.reason()}"
        )
    if not answer.ok:
        raise AzureFailure(f"endpoint {endpoint} answered {answer.reason()}")
    document = answer.document()
    return answer.text if document is None else json.dumps(document, indent=2)
