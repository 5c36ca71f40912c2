"""Validate every answer before cookiecutter writes a single file.

Each rule is one function that takes the answer and returns a problem (a sentence naming the
rule) or None. ``main`` reports every problem at once, one line each, and exits 1; cookiecutter then
removes the project folder it created. The rules come from Azure's resource-naming rules.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata

SLUG_MAX_LENGTH = 40
PROSE_MAX_LENGTH = 200
SUPPORTED_PYTHON_VERSIONS = ("3.11", "3.12")
CI_PROVIDERS = ("github-actions", "azure-devops", "both", "none")
DEPLOYMENTS = ("online", "batch", "both", "none")
MAX_NODES_LIMIT = 100
# The fields of a cron expression as Azure ML schedules read it, with the bounds of their numbers.
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 6),
)
# Control characters, line/paragraph separators, surrogates and noncharacters (U+FFFE, U+FFFF):
# YAML and TOML refuse or rewrite them.
UNWRITABLE_CATEGORIES = frozenset({"Cc", "Cs", "Cn", "Zl", "Zp"})

AZURE_LOCATIONS = frozenset(
    """
    australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral
    brazilsouth brazilsoutheast canadacentral canadaeast centralindia centralus chilecentral
    eastasia eastus eastus2 francecentral francesouth germanynorth germanywestcentral
    indonesiacentral israelcentral italynorth japaneast japanwest koreacentral koreasouth
    malaysiawest mexicocentral newzealandnorth northcentralus northeurope norwayeast norwaywest
    polandcentral qatarcentral
    southafricanorth southafricawest southcentralus southindia southeastasia spaincentral
    swedencentral switzerlandnorth switzerlandwest uaecentral uaenorth uksouth ukwest westcentralus
    westeurope westindia westus westus2 westus3 usgovarizona usgovvirginia chinaeast2
    """.split()
)

# Built by concatenation: this file is rendered by Jinja, so it must not contain double braces.
SLUG_PATTERN = "(?=.{1," + str(SLUG_MAX_LENGTH) + "}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
RESOURCE_GROUP_PATTERN = r"[A-Za-z0-9._()-]{0,89}[A-Za-z0-9_()-]"
WORKSPACE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}"
REGISTRY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}"
COMPUTE_PATTERN = r"(?!.*-[0-9]*$)[A-Za-z][A-Za-z0-9-]{2,23}"
ENDPOINT_PATTERN = r"(?=.{3,32}$)[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*"
ASSET_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}"
EXPERIMENT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}"
# One plain address: a dot-separated local part of letters, digits and . _ % + -, then a domain of
# at least two labels of letters, digits and inner '-', ending with a top-level domain of letters.
# No display name, no quotes, no list: the address goes into a spec as it is.
EMAIL_PATTERN = (
    r"(?=.{6,254}$)(?=[^@]{1,64}@)[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
VM_SIZE_PATTERN = r"(?i)(?:standard|basic)_[a-z]+[0-9]+(?:-[0-9]+)?[a-z]*(?:_[a-z0-9]+)*"


def _unless_matching(pattern: str, value: str, rule: str) -> str | None:
    """None when the whole value matches the pattern, else the rule it breaks."""
    return None if re.fullmatch(pattern, value, flags=re.ASCII) else rule


def _prose_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value) > PROSE_MAX_LENGTH:
        return f"must be at most {PROSE_MAX_LENGTH} characters (it has {len(value)})"
    if any(unicodedata.category(char) in UNWRITABLE_CATEGORIES for char in value):
        return (
            "must be a single line of printable text (no tabs, newlines, U+0085, U+2028, "
            "U+FFFF or other control characters)"
        )
    return None


def check_project_name(value: str) -> str | None:
    return _prose_problem(value)


def check_description(value: str) -> str | None:
    return _prose_problem(value)


def check_author(value: str) -> str | None:
    return _prose_problem(value)


def check_project_slug(value: str) -> str | None:
    return _unless_matching(
        SLUG_PATTERN,
        value,
        f"must be 1-{SLUG_MAX_LENGTH} lowercase letters, digits and single '-', "
        "starting with a letter and not ending with '-'",
    )


def check_python_version(value: str) -> str | None:
    if value in SUPPORTED_PYTHON_VERSIONS:
        return None
    return f"must be one of {', '.join(SUPPORTED_PYTHON_VERSIONS)}"


def check_azure_location(value: str) -> str | None:
    if value in AZURE_LOCATIONS:
        return None
    return (
        "must be an Azure region's programmatic name in lower case, such as westeurope or eastus2"
    )


def check_resource_group(value: str) -> str | None:
    return _unless_matching(
        RESOURCE_GROUP_PATTERN,
        value,
        "must be 1-90 letters, digits, '_', '-', '.', '(' or ')' and not end with '.'",
    )


def check_workspace_name(value: str) -> str | None:
    return _unless_matching(
        WORKSPACE_PATTERN,
        value,
        "must be 3-33 letters, digits, '_' or '-', starting with a letter or digit",
    )


def check_registry_name(value: str) -> str | None:
    return _unless_matching(
        REGISTRY_PATTERN,
        value,
        "must be 3-33 letters, digits, '_' or '-', starting with a letter or digit",
    )


def check_compute_name(value: str) -> str | None:
    return _unless_matching(
        COMPUTE_PATTERN,
        value,
        "must be 3-24 letters, digits or '-', starting with a letter, "
        "and a letter must follow the last '-' somewhere (cpu-1 is refused)",
    )


def check_vm_size(value: str) -> str | None:
    return _unless_matching(
        VM_SIZE_PATTERN,
        value,
        "must be an Azure VM size such as Standard_DS3_v2 or Standard_NC6s_v3",
    )


def check_max_nodes(value: str) -> str | None:
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_NODES_LIMIT:
        return None
    return f"must be a whole number from 1 to {MAX_NODES_LIMIT}"


def check_experiment_name(value: str) -> str | None:
    return _unless_matching(
        EXPERIMENT_PATTERN,
        value,
        "must be 1-256 letters, digits, '_' or '-', starting with a letter or digit",
    )


def check_model_name(value: str) -> str | None:
    return _unless_matching(
        ASSET_PATTERN,
        value,
        "must be 1-255 letters, digits, '_' or '-', starting with a letter or digit",
    )


def _endpoint_problem(value: str) -> str | None:
    return _unless_matching(
        ENDPOINT_PATTERN,
        value,
        "must be 3-32 letters, digits and single '-', starting with a letter "
        "and ending with a letter or digit",
    )


def check_online_endpoint_name(value: str) -> str | None:
    return _endpoint_problem(value)


def check_staging_endpoint_name(value: str) -> str | None:
    return _endpoint_problem(value)


def check_ci_provider(value: str) -> str | None:
    if value in CI_PROVIDERS:
        return None
    return f"must be one of {', '.join(CI_PROVIDERS)}"


def check_deployment(value: str) -> str | None:
    if value in DEPLOYMENTS:
        return None
    return f"must be one of {', '.join(DEPLOYMENTS)}"


def _cron_field_problem(field: str, low: int, high: int) -> bool:
    """Whether one field (*, N, N-M, a list of those, each with an optional /STEP) is malformed."""
    for item in field.split(","):
        values, _, step = item.partition("/")
        if step and not (step.isascii() and step.isdigit() and int(step) >= 1):
            return True
        if values == "*":
            continue
        bounds = values.split("-")
        if len(bounds) > 2 or not all(b.isascii() and b.isdigit() for b in bounds):
            return True
        numbers = [int(b) for b in bounds]
        if not all(low <= n <= high for n in numbers) or numbers != sorted(numbers):
            return True
    return False


def check_retrain_cron(value: str) -> str | None:
    fields = value.split(" ")
    if len(fields) == len(CRON_FIELDS) and not any(
        _cron_field_problem(field, low, high)
        for field, (_, low, high) in zip(fields, CRON_FIELDS, strict=True)
    ):
        return None
    return (
        "must be a cron expression of five fields separated by single spaces (minute 0-59, "
        "hour 0-23, day 1-31, month 1-12, weekday 0-6; each *, N, N-M or a list, with /STEP), "
        "such as 0 3 * * 1"
    )


def check_alert_email(value: str) -> str | None:
    return _unless_matching(
        EMAIL_PATTERN,
        value,
        "must be one plain e-mail address such as ml-alerts@example.com (letters, digits and "
        ". _ % + - before the @, a domain after it; no name, spaces, quotes or list)",
    )


def check_endpoints_differ(answers: dict) -> tuple[str, str] | None:
    production = answers["online_endpoint_name"]
    if production.lower() != answers["staging_endpoint_name"].lower():
        return None
    return (
        "staging_endpoint_name",
        "must differ from online_endpoint_name (names are case-insensitive)",
    )


ANSWER_RULES = {
    "project_name": check_project_name,
    "project_slug": check_project_slug,
    "description": check_description,
    "author": check_author,
    "python_version": check_python_version,
    "azure_location": check_azure_location,
    "resource_group": check_resource_group,
    "workspace_name": check_workspace_name,
    "prod_resource_group": check_resource_group,
    "prod_workspace_name": check_workspace_name,
    "registry_name": check_registry_name,
    "compute_name": check_compute_name,
    "vm_size": check_vm_size,
    "max_nodes": check_max_nodes,
    "experiment_name": check_experiment_name,
    "model_name": check_model_name,
    "online_endpoint_name": check_online_endpoint_name,
    "staging_endpoint_name": check_staging_endpoint_name,
    "ci_provider": check_ci_provider,
    "deployment": check_deployment,
    "retrain_cron": check_retrain_cron,
    "alert_email": check_alert_email,
}
COMBINATION_RULES = (check_endpoints_differ,)


def problems_in(answers: dict) -> list[str]:
    """One line per problem: the option, the value it was given, and the rule it breaks."""
    found = [(option, rule(str(answers[option]))) for option, rule in ANSWER_RULES.items()]
    found += [result for rule in COMBINATION_RULES if (result := rule(answers))]
    return [
        f"{option}: {json.dumps(answers[option], ensure_ascii=False)} {problem}"
        for option, problem in found
        if problem
    ]


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    problems = problems_in(answers)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print("No project was generated; answer again with the values corrected.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
