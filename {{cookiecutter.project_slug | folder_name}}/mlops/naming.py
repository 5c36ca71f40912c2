"""Azure's naming rules for the names this project gives: in specs, and as flags.

The service refuses other names, and azure-ai-ml checks only a few of them before sending. The
template's hook checks the answers that become these names by the same rules (a test of the
template keeps the two in agreement).
"""

from __future__ import annotations

import json
import re

from mlops.errors import InvalidInput

# rule name -> (full-match pattern, the rule in words)
NAME_RULES = {
    "compute": (
        re.compile(r"(?!.*-[0-9]*$)[A-Za-z][A-Za-z0-9-]{2,23}"),
        "3 to 24 letters, digits or '-', starting with a letter, not ending in '-' and digits",
    ),
    "endpoint": (
        re.compile(r"(?=.{3,32}$)[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*"),
        "3 to 32 letters, digits or single '-', starting with a letter, ending in a letter/digit",
    ),
    "asset": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}"),
        "1 to 255 letters, digits, '_' or '-', starting with a letter or digit",
    ),
    "experiment": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}"),
        "1 to 256 letters, digits, '_' or '-', starting with a letter or digit",
    ),
    "registry": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}"),
        "3 to 33 letters, digits, '_' or '-', starting with a letter or digit",
    ),
    # A folder of models/: the endpoint names derived from it must stay within Azure's 32.
    "model": (
        re.compile(r"(?=.{1,16}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*"),
        "1 to 16 lowercase letters, digits or single '-', starting with a letter, "
        "not ending in '-'",
    ),
}
# Job names follow the asset rule.
JOB_RULE = "asset"
# The API sets no pattern for asset versions. These are the characters of generated versions
# ("4") and of dates or semantic versions ("2026.05.1"); none of them means anything to a shell.
ASSET_VERSION = (
    re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"),
    "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
)
MODEL_REFERENCE_RULE = (
    f"NAME:VERSION, the name {NAME_RULES['asset'][1]}, the version {ASSET_VERSION[1]}"
)
ASSET_PREFIX = "azureml:"


def quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def require_valid_name(option: str, value: str, rule_name: str) -> str:
    """``value`` when it follows the naming rule; else a usage error naming the option (exit 2)."""
    pattern, rule = NAME_RULES[rule_name]
    if not pattern.fullmatch(value):
        raise InvalidInput(f"{option}: {quoted(value)} must be {rule}")
    return value


def require_valid_version(option: str, value: str) -> str:
    """``value`` when it is a usable asset version; else a usage error naming the option."""
    pattern, rule = ASSET_VERSION
    if not pattern.fullmatch(value):
        raise InvalidInput(f"{option}: {quoted(value)} must be {rule}")
    return value


def name_problem(value: object, rule_name: str) -> str | None:
    """Why ``value`` (from a spec) is not a valid name, or None."""
    pattern, rule = NAME_RULES[rule_name]
    if isinstance(value, str) and pattern.fullmatch(value):
        return None
    return f"{value!r} is not a valid name: {rule}"


REGISTRY_MODEL = re.compile(r"azureml://registries/([^/]+)/models/([^/]+)/versions/([^/]+)")


def parse_registry_model(option: str, text: str) -> tuple[str, str, str] | None:
    """``azureml://registries/REGISTRY/models/NAME/versions/VERSION`` -> (registry, name,
    version); None for text of another form; exit 2 for such a URI with an invalid part."""
    match = REGISTRY_MODEL.fullmatch(text)
    if match is None:
        return None
    registry, name, version = match.groups()
    require_valid_name(f"{option}: registry", registry, "registry")
    require_valid_name(f"{option}: name", name, "asset")
    return registry, name, require_valid_version(f"{option}: version", version)


def parse_model_reference(option: str, text: str) -> tuple[str, str]:
    """``NAME:VERSION`` (an ``azureml:`` prefix is allowed) -> (name, version); else exit 2.

    The one check of a model reference: pipelines pass the value through, this refuses it here.
    """
    name, sep, version = text.removeprefix(ASSET_PREFIX).rpartition(":")
    name_ok = NAME_RULES["asset"][0].fullmatch(name)
    if not sep or not name_ok or not ASSET_VERSION[0].fullmatch(version):
        raise InvalidInput(f"{option}: {quoted(text)} must be {MODEL_REFERENCE_RULE}")
    return name, version
