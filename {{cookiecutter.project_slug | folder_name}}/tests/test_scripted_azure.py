"""The scripted Azure ML service itself: it refuses what it does not expect, loudly, and its
answers say where they come from and hold no secret."""

from __future__ import annotations

import json
import re
import socket

import pytest
import requests

from tests.scripted_azure import RESPONSES, ScriptedAzure

SECRET_SHAPES = {
    "a SAS signature": re.compile(r"sig=(?!0+(?:&|\"|$))[^&\"\s]+"),
    "a JSON web token": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\."),
    "an account key": re.compile(r'"key":\s*"(?!dGhpcyBpcyBmYWtlIGtleQ==)[^"]+"'),
    "a credential": re.compile(r'"(?:accessToken|primaryKey|secondaryKey)":\s*"(?!Sanitized)'),
}


def answer_files():
    return sorted(RESPONSES.rglob("*.json"))


@pytest.mark.parametrize("path", answer_files(), ids=lambda p: p.relative_to(RESPONSES).as_posix())
def test_every_answer_says_where_it_comes_from_and_holds_no_secret(path):
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)

    provenance = document["Provenance"]
    assert provenance.startswith(("Copied from ", "Adapted from ", "Written by hand"))
    assert document["Entries"]
    found = [what for what, shape in SECRET_SHAPES.items() if shape.search(text)]
    assert found == []


def test_a_request_the_script_does_not_expect_fails_naming_it(monkeypatch):
    service = ScriptedAzure()
    service.install(monkeypatch)
    url = "https://management.azure.com/subscriptions/x/resourceGroups/y?api-version=1"

    with pytest.raises(pytest.fail.Exception, match=f"does not expect: GET {re.escape(url)}"):
        requests.get(url, timeout=5)
    with pytest.raises(pytest.fail.Exception, match="did not happen:\nunexpected request: GET"):
        service.check_finished()


def test_no_other_connection_can_be_opened(monkeypatch):
    ScriptedAzure().install(monkeypatch)

    with pytest.raises(pytest.fail.Exception, match="a connection outside the script"):
        socket.create_connection(("example.com", 443), timeout=1)


def test_an_answer_never_asked_for_fails_the_test(monkeypatch):
    service = ScriptedAzure()
    service.install(monkeypatch)
    service.serve("workspace/get.json")

    with pytest.raises(pytest.fail.Exception, match="never requested: workspace/get.json: GET"):
        service.check_finished()
