"""``mlops invoke``: call a deployed online endpoint with a request file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops import payloads
from mlops.metadata import read_json
from mlops.validate import require_valid_name


def check_names(endpoint: str, deployment: str | None) -> None:
    """Endpoint and deployment names follow Azure's rule (exit 2 before anything is sent)."""
    require_valid_name("--endpoint", endpoint, "endpoint")
    if deployment is not None:
        require_valid_name("--deployment", deployment, "endpoint")


def dry_run(endpoint: str, request: Path, deployment: str | None) -> dict[str, Any]:
    body = read_json(request, "--request")
    description = f"score with {deployment or 'the traffic split'} of {endpoint}"
    return payloads.dry_run_document(
        "invoke", [payloads.score_request(endpoint, deployment, body, description)]
    )


def invoke(client: Any, endpoint: str, request: Path, deployment: str | None) -> str:
    read_json(request, "--request")
    response = client.online_endpoints.invoke(
        endpoint_name=endpoint, request_file=str(request), deployment_name=deployment
    )
    try:
        return json.dumps(json.loads(response), indent=2)
    except ValueError:
        return response
