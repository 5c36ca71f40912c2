"""CI/CD in the generated project, for every `ci_provider` choice: the exact files; every workflow,
action and pipeline valid against its schema; no zizmor finding; and the flow the YAML encodes
(triggers, permissions, environments, pinned actions, sign-in, the make targets and mlops commands
it runs, per model), read from the YAML as the providers compile it. How the flow handles a second
model is in test_models.py."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ci_pipelines import (
    FlowEvent,
    Job,
    all_keys,
    all_steps,
    azure_devops_flow,
    github_flow,
    jobs_of,
    load_pipeline,
    load_workflow,
    local_path,
    make_calls,
    make_targets,
    never_runs,
    pipeline_files,
    pipeline_variables,
    run_steps,
    runs_make,
    script_of,
    step_index,
    steps_of,
    uses_action,
    uses_login,
    workflows,
)
from ci_providers import CI_FILES_BY_PROVIDER, is_ci_file
from hook_modules import pre_gen
from locations import TEMPLATE_DIR, TEST_DATA_DIR
from matrix import SUPPORTED, TEMPLATE_CONTEXT

DEFAULT_CI_PROVIDER = TEMPLATE_CONTEXT["ci_provider"]
CI_PROVIDERS = list(pre_gen.CI_PROVIDERS)
PINNED_ACTIONS = {
    name: entry
    for name, entry in json.loads(
        (TEST_DATA_DIR / "pinned-actions.json").read_text(encoding="utf-8")
    ).items()
    if not name.startswith("_")
}
GITHUB_PROVIDERS = [
    p for p in CI_PROVIDERS if ".github/workflows/ci.yml" in CI_FILES_BY_PROVIDER[p]
]
AZURE_DEVOPS_PROVIDERS = [
    p for p in CI_PROVIDERS if ".azure-pipelines/ci.yml" in CI_FILES_BY_PROVIDER[p]
]
# What every provider must run: the CI checks, training, registration, the staging rollout, the
# promotion and the production rollout.
FLOW_TARGETS = {
    "setup",
    "lint",
    "test",
    "validate",
    "apply",
    "train-remote",
    "register",
    "deploy-staging",
    "promote",
    "deploy-production",
}
DEPLOYING_TARGETS = {"deploy-staging", "promote", "deploy-production"}
AZURE_TARGETS = FLOW_TARGETS - {"setup", "lint", "test", "validate"}
MODEL_TARGETS = AZURE_TARGETS
# An mlops command as make prints it: `python -m mlops [--env ENV] COMMAND ...`.
MLOPS_CALL = re.compile(
    r"(?<![\w./-])mlops(?:[ \t]+--env[ \t]+\"?(?P<env>[\w-]+)\"?)?[ \t]+(?P<command>[a-z][\w-]*)"
)
# Settings the environments of pyproject.toml give, which CI/CD must no longer set.
WORKSPACE_VARIABLES = ("AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME")
# The stages of the flow, in order: what each make target belongs to, and the environment whose
# protection rules (GitHub) or approvals and checks (Azure DevOps) are the approval.
FLOW_STAGES = ["ci", "train+register", "staging", "approval", "promote", "production"]
STAGE_OF_TARGET = {
    "lint": "ci",
    "test": "ci",
    "validate": "ci",
    "apply": "train+register",
    "train-remote": "train+register",
    "register": "train+register",
    "deploy-staging": "staging",
    "promote": "promote",
    "deploy-production": "production",
}
APPROVAL_ENVIRONMENT = "production"
# Who each stage signs in as: dev's identity or connection, or prod's.
IDENTITY_OF_STAGE = {
    "train+register": "dev",
    "staging": "dev",
    "promote": "prod",
    "production": "prod",
}
# The environment of pyproject.toml each Azure target works in, as `mlops --env` names it.
MLOPS_ENV_OF_TARGET = {
    "apply": "dev",
    "train-remote": "dev",
    "register": "dev",
    "deploy-staging": "dev",
    "promote": "dev",
    "deploy-production": "prod",
}
SWALLOWED_FAILURE = re.compile(r"\|\|\s*(true|:)(\s|$)")
ACTION_FILE = ".github/actions/setup/action.yml"
# Extras of the generated pyproject.toml a CI/CD job may install.
EXTRAS = {"cli", "ops", "dev"}
# The training jobs CI/CD offers, the default first, and the spec `make train-remote` submits for
# each.
TRAIN_JOB_SPECS = {
    "pipeline": "train-pipeline.yml",
    "sweep": "sweep.yml",
    "command": "train-amlcompute.yml",
}
DEFAULT_TRAIN_JOB = "pipeline"


def tool(name: str) -> str:
    """A command-line tool installed beside the interpreter running the tests."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed beside {sys.executable}"
    return found


def run_tool(command: list, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def bake_id_for(provider: str) -> str:
    """The plainest supported bake of tests/matrix.py that selects this provider."""
    candidates = [
        b for b in SUPPORTED if b.answers.get("ci_provider", DEFAULT_CI_PROVIDER) == provider
    ]
    assert candidates, f"tests/matrix.py has no supported bake with ci_provider={provider!r}"
    return min(candidates, key=lambda b: len(b.answers)).id


@pytest.fixture(params=GITHUB_PROVIDERS)
def github_project(request, bake) -> Path:
    return bake(bake_id_for(request.param))


@pytest.fixture(params=AZURE_DEVOPS_PROVIDERS)
def azure_devops_project(request, bake) -> Path:
    return bake(bake_id_for(request.param))


def all_jobs(project: Path) -> list[Job]:
    """Every job of every workflow, as the workflows that GitHub starts run them."""
    callers = [name for name, flow in workflows(project).items() if not only_called(flow)]
    return [job for name in callers for job in jobs_of(project, name)]


def only_called(workflow: dict) -> bool:
    return set(workflow["on"]) == {"workflow_call"}


def ci_make_calls(project: Path) -> list[list[str]]:
    """Every make command of every workflow and pipeline of the project."""
    calls = []
    if (project / ".github").is_dir():
        for job in all_jobs(project):
            for step, env in run_steps(project, job):
                calls.extend(make_calls(step["run"], env))
    if (project / ".azure-pipelines").is_dir():
        for path in pipeline_files(project):
            for step in all_steps(load_pipeline(path)):
                calls.extend(make_calls(script_of(step), step.get("env", {})))
    return calls


def mlops_calls(make_output: str) -> list[tuple[str | None, str]]:
    """(environment, command) of each mlops command in the output of `make --dry-run`."""
    return [(m["env"], m["command"]) for m in MLOPS_CALL.finditer(make_output)]


def mlops_commands(project: Path, project_python: Path) -> set[str]:
    result = run_tool([project_python, "-m", "mlops", "--help"], cwd=project)
    assert result.returncode == 0, result.stderr
    commands_section = result.stdout.split("Commands:", 1)[1]
    return {line.split()[0] for line in commands_section.splitlines() if line.strip()}


# --- every provider ------------------------------------------------------------------------------


def test_the_file_table_covers_every_provider_choice():
    assert set(CI_FILES_BY_PROVIDER) == set(CI_PROVIDERS)


@pytest.mark.parametrize("provider", CI_PROVIDERS)
def test_bake_holds_exactly_the_ci_files_of_its_provider(bake, provider):
    project = bake(bake_id_for(provider))
    files = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert {f for f in files if is_ci_file(f)} == CI_FILES_BY_PROVIDER[provider]


@pytest.mark.parametrize("provider", [p for p in CI_PROVIDERS if CI_FILES_BY_PROVIDER[p]])
def test_files_copied_without_rendering_are_byte_identical(bake, provider):
    project = bake(bake_id_for(provider))
    patterns = TEMPLATE_CONTEXT["_copy_without_render"]
    verbatim = [
        name
        for name in CI_FILES_BY_PROVIDER[provider]
        if any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
    ]
    assert verbatim, "no CI file is listed in _copy_without_render"
    for name in verbatim:
        assert (project / name).read_bytes() == (TEMPLATE_DIR / name).read_bytes(), name


@pytest.mark.parametrize("provider", [p for p in CI_PROVIDERS if CI_FILES_BY_PROVIDER[p]])
def test_pipelines_run_the_whole_flow_with_make_targets_and_mlops_commands_that_exist(
    bake, provider, project_python
):
    project = bake(bake_id_for(provider))
    calls = ci_make_calls(project)
    targets = {arg for call in calls for arg in call if "=" not in arg}
    assert targets >= FLOW_TARGETS
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    for variable in {arg.split("=", 1)[0] for call in calls for arg in call if "=" in arg}:
        assert re.search(rf"^{variable}\s*[?:+]?=", makefile, re.MULTILINE), (
            f"Makefile has no {variable}"
        )
    for call in calls:
        assert set(call) & MODEL_TARGETS == set() or any(a.startswith("MODEL=") for a in call), (
            f"a model's target without MODEL=: {call}"
        )
        extras = [a.split("=", 1)[1] for a in call if a.startswith("EXTRAS=")]
        assert set(extras) <= EXTRAS, call
    mlops_called = set()
    for target in sorted(targets):
        dry_run = run_tool(["make", "--dry-run", target, "MODEL=model1"], cwd=project)
        assert dry_run.returncode == 0, f"make {target}: {dry_run.stderr}"
        calls = mlops_calls(dry_run.stdout)
        mlops_called |= {command for _, command in calls}
        if target in MLOPS_ENV_OF_TARGET:
            assert calls, f"make {target} runs no mlops command"
            assert {env for env, _ in calls} == {MLOPS_ENV_OF_TARGET[target]}, (target, calls)
    assert mlops_called, "the Azure targets run no mlops command"
    assert mlops_called <= mlops_commands(project, project_python)


# --- the flow: train and register (dev) -> staging (dev) -> approval -> promote -> production ---


def flow_stages(events: list[FlowEvent]) -> list[tuple[str, list[FlowEvent]]]:
    """The events grouped into the stages of FLOW_STAGES, in the order they run. A job bound to
    the approval environment starts the approval; setup and the other environments belong to no
    stage."""
    stages: list[tuple[str, list[FlowEvent]]] = []
    for event in events:
        if event.kind == "environment":
            name = "approval" if event.name == APPROVAL_ENVIRONMENT else None
        else:
            name = STAGE_OF_TARGET.get(event.name)
        if name is None:
            continue
        if stages and stages[-1][0] == name:
            stages[-1][1].append(event)
        else:
            stages.append((name, [event]))
    return stages


def check_flow(project: Path, events: list[FlowEvent], identity_of, expected: list[str]) -> None:
    """The stages run in the expected order, each only once the one before it finished (or in the
    same job), the approval gates the one job that promotes and deploys to production, each stage
    signs in as the identity it must, and every make target a step runs exists in the project."""
    stages = flow_stages(events)
    assert [name for name, _ in stages] == expected
    for (earlier, before), (later, after) in zip(stages, stages[1:], strict=False):
        for event in after:
            for prior in before:
                assert event.job == prior.job or prior.job in event.after, (
                    f"{later} ({event.job}) may start before {earlier} ({prior.job}) finished"
                )
    by_name = dict(stages)
    if "approval" in by_name:
        (gate,) = by_name["approval"]
        for name in ("promote", "production"):
            assert {e.job for e in by_name[name]} == {gate.job}, (
                f"{name} must run in the job the approval gates, so reviewers approve once"
            )
    for name, stage_events in stages:
        if name in IDENTITY_OF_STAGE:
            identities = {identity_of(e.signs_in_as) for e in stage_events}
            assert identities == {IDENTITY_OF_STAGE[name]}, (name, stage_events)
    for event in events:
        assert not set(WORKSPACE_VARIABLES) & set(event.env or {}), (event.job, event.name)
    for target in sorted({e.name for e in events if e.kind == "make"}):
        dry_run = run_tool(["make", "--dry-run", target, "MODEL=model1"], cwd=project)
        assert dry_run.returncode == 0, f"make {target}: {dry_run.stderr}"


def setup_lines(page: str) -> list[str]:
    """The lines of the page's bash blocks, each command's continuation lines joined to it."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", page, re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if line.endswith("\\"):
                pending += line[:-1]
                continue
            lines.append((pending + line).strip())
            pending = ""
    return lines


def shell_settings(page: str) -> dict[str, str]:
    """NAME=value of each variable the setup page's shell commands set (values as written)."""
    settings = {}
    for line in setup_lines(page):
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            settings[match[1]] = match[2].strip('"')
    return settings


def setup_commands(page: str, *words: str) -> list[list[str]]:
    """The page's shell commands that start with ``words``, as their arguments."""
    return [
        shlex.split(line) for line in setup_lines(page) if line.split()[: len(words)] == list(words)
    ]


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def federated_credentials(page: str) -> list[tuple[str, str, str]]:
    """(identity, issuer, subject) of each federated credential the setup page creates."""
    return [
        (option(c, "--identity-name"), option(c, "--issuer"), option(c, "--subject"))
        for c in setup_commands(page, "az", "identity", "federated-credential", "create")
        if option(c, "--audiences") == "api://AzureADTokenExchange"
    ]


def role_assignments(page: str) -> set[tuple[str, str, str]]:
    return {
        (option(c, "--assignee-object-id"), option(c, "--role"), option(c, "--scope"))
        for c in setup_commands(page, "az", "role", "assignment", "create")
    }


def environment_of(variable: str) -> str:
    """dev or prod, the environment a setup page's shell variable ($DEV_..., $PROD_...) is of."""
    return variable.strip("$").split("_", 1)[0].lower()


# What each identity may do: dev in the dev workspace; prod in the prod workspace, in the registry,
# and reading the dev workspace for the promotion.
EXPECTED_ROLES = {
    ("$DEV_PRINCIPAL_ID", "AzureML Data Scientist", "$DEV_SCOPE"),
    ("$DEV_PRINCIPAL_ID", "AzureML Compute Operator", "$DEV_SCOPE"),
    ("$PROD_PRINCIPAL_ID", "AzureML Data Scientist", "$PROD_SCOPE"),
    ("$PROD_PRINCIPAL_ID", "AzureML Registry User", "$REGISTRY_SCOPE"),
    ("$PROD_PRINCIPAL_ID", "Reader", "$DEV_SCOPE"),
}


def check_setup_names_match_the_environments(project: Path, settings: dict) -> None:
    """The setup page's names are those of pyproject.toml's environments and of the registry, and
    each identity, principal and scope it uses is the one of its environment."""
    environments = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "mlops"
    ]["environments"]
    for env in ("dev", "prod"):
        prefix = env.upper()
        assert settings[f"{prefix}_RESOURCE_GROUP"] == environments[env]["resource-group"]
        assert settings[f"{prefix}_WORKSPACE"] == environments[env]["workspace-name"]
        assert f'--name "${prefix}_IDENTITY"' in settings[f"{prefix}_PRINCIPAL_ID"]
        assert f'--name "${prefix}_IDENTITY"' in settings[f"{prefix}_CLIENT_ID"]
        scope = settings[f"{prefix}_SCOPE"]
        assert f'--name "${prefix}_WORKSPACE"' in scope
        assert "Microsoft.MachineLearningServices/workspaces" in scope
    registry = yaml.safe_load((project / "aml/registry.yml").read_text(encoding="utf-8"))
    assert settings["REGISTRY"] == registry["name"]
    assert '--name "$REGISTRY"' in settings["REGISTRY_SCOPE"]
    assert "Microsoft.MachineLearningServices/registries" in settings["REGISTRY_SCOPE"]
    assert settings["DEV_IDENTITY"] != settings["PROD_IDENTITY"]


def test_the_setup_pages_name_each_environments_own_workspace(bake):
    """With a production workspace of its own (hostile-prose), each page's dev and prod names are
    those of pyproject.toml's dev and prod environments, not the same names twice."""
    project = bake("hostile-prose")
    environments = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "mlops"
    ]["environments"]
    assert environments["dev"]["resource-group"] != environments["prod"]["resource-group"]
    for page_name in ("ci-cd-github.md", "ci-cd-azure-devops.md"):
        page = (project / "docs" / page_name).read_text(encoding="utf-8")
        check_setup_names_match_the_environments(project, shell_settings(page))
        assert role_assignments(page) == EXPECTED_ROLES, page_name


# --- GitHub Actions ---------------------------------------------------------------------------


def test_github_files_pass_their_schemas(github_project):
    checker = tool("check-jsonschema")
    workflow_files = sorted((github_project / ".github/workflows").glob("*.yml"))
    result = run_tool([checker, "--builtin-schema", "vendor.github-workflows", *workflow_files])
    assert result.returncode == 0, result.stdout + result.stderr
    action = github_project / ACTION_FILE
    result = run_tool([checker, "--builtin-schema", "vendor.github-actions", action])
    assert result.returncode == 0, result.stdout + result.stderr
    dependabot = github_project / ".github/dependabot.yml"
    result = run_tool([checker, "--builtin-schema", "vendor.dependabot", dependabot])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_schema_check_can_fail(github_project, tmp_path):
    broken = load_workflow(github_project / ".github/workflows/ci.yml")
    del broken["jobs"]["checks"]["runs-on"]
    (tmp_path / "ci.yml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    checker = tool("check-jsonschema")
    result = run_tool([checker, "--builtin-schema", "vendor.github-workflows", tmp_path / "ci.yml"])
    assert result.returncode == 1


def zizmor_findings(github_dir: Path) -> list[dict]:
    result = run_tool(
        [
            tool("zizmor"),
            "--offline",
            "--no-config",
            "--no-ignores",
            "--persona",
            "pedantic",
            "--format",
            "json",
            github_dir,
        ]
    )
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr
    return json.loads(result.stdout)


def test_zizmor_finds_nothing(github_project):
    assert zizmor_findings(github_project / ".github") == []


def test_zizmor_audits_every_workflow(github_project, tmp_path):
    """A copy whose checkouts keep their credentials: zizmor must flag every workflow with one."""
    copy = tmp_path / ".github"
    shutil.copytree(github_project / ".github", copy)
    checking_out = set()
    for path in (copy / "workflows").glob("*.yml"):
        workflow = load_workflow(path)
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if uses_action("actions/checkout")(step):
                    assert step["with"].pop("persist-credentials") is False, path.name
                    checking_out.add(path.name)
        path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    assert checking_out
    flagged = {
        Path(location["symbolic"]["key"]["Local"]["verbatim_path"]).name
        for finding in zizmor_findings(copy)
        if finding["ident"] == "artipacked"
        for location in finding["locations"]
    }
    assert flagged == checking_out


def test_workflow_triggers(github_project):
    flows = workflows(github_project)
    assert set(flows) == {"ci.yml", "train.yml", "deploy.yml", "rollout.yml"}

    ci = flows["ci.yml"]["on"]
    assert {"pull_request", "push", "workflow_call"} <= set(ci)
    assert (ci["push"] or {}).get("branches") is None, "CI must run on pushes to every branch"

    train = flows["train.yml"]["on"]
    assert set(train) == {"push", "workflow_dispatch"}
    assert train["push"]["branches"] == ["main"]
    shared = {"aml/**", "mlops/**", "sample-data/**", "pyproject.toml"}
    assert {"models/**"} | shared <= set(train["push"]["paths"])
    assert train["workflow_dispatch"]["inputs"]["model"]["required"] is True
    job = train["workflow_dispatch"]["inputs"]["job"]
    assert job["type"] == "choice"
    assert job["options"] == list(TRAIN_JOB_SPECS)
    assert job["default"] == DEFAULT_TRAIN_JOB

    deploy = flows["deploy.yml"]["on"]
    assert set(deploy) == {"workflow_call", "workflow_dispatch"}
    assert {name for name, i in deploy["workflow_dispatch"]["inputs"].items() if i["required"]} == {
        "model",
        "version",
    }
    assert deploy["workflow_call"]["inputs"]["model"]["required"] is True
    assert deploy["workflow_call"]["inputs"]["version"]["required"] is False

    rollout = flows["rollout.yml"]["on"]
    assert set(rollout) == {"workflow_call"}
    assert set(rollout["workflow_call"]["inputs"]) == {"model", "version", "stage"}


def test_local_workflows_and_actions_are_called_with_the_self_repository_syntax(github_project):
    for name, workflow in workflows(github_project).items():
        for job in workflow["jobs"].values():
            uses = [job.get("uses", "")] + [s.get("uses", "") for s in job.get("steps", [])]
            for target in uses:
                if "@" not in target and target:
                    assert target.startswith("$/"), f"{name}: {target}"
                    assert local_path(github_project, target).is_file(), f"{name}: {target}"


def permissions_needed(project: Path, workflow_name: str) -> dict:
    """The permissions the jobs of a workflow need, those of the workflows it calls included."""
    needed: dict = {}
    for job in load_workflow(project / ".github/workflows" / workflow_name)["jobs"].values():
        if "uses" in job:
            needed |= permissions_needed(project, local_path(project, job["uses"]).name)
        else:
            needed |= job["permissions"]
    return needed


def test_permissions_grant_nothing_but_what_each_job_needs(github_project):
    for name, workflow in workflows(github_project).items():
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            if "uses" in job:
                callee = local_path(github_project, job["uses"]).name
                expected = permissions_needed(github_project, callee)
            else:
                expected = {"contents": "read"}
                if uses_login(github_project, job):
                    expected["id-token"] = "write"
            assert job["permissions"] == expected, f"{name}: {job_id}"


def test_azure_sign_in_is_oidc_from_variables_only(github_project):
    logins = 0
    for name in workflows(github_project):
        text = (github_project / ".github/workflows" / name).read_text(encoding="utf-8")
        assert "secrets." not in text, name
    for job in all_jobs(github_project):
        for step in steps_of(github_project, job.body):
            if uses_action("azure/login")(step):
                logins += 1
                assert step["with"] == {
                    "client-id": "${{ vars.AZURE_CLIENT_ID }}",
                    "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                    "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
                }
        if uses_login(github_project, job.body):
            for setting in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"):
                assert job.env[setting] == f"${{{{ vars.{setting} }}}}", job.path
    assert logins


def action_steps(project: Path) -> list[tuple[str, dict]]:
    """(file, step) of every step of every workflow and of the local action."""
    found = [
        (name, step)
        for name, workflow in workflows(project).items()
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
    ]
    action = yaml.safe_load((project / ACTION_FILE).read_text(encoding="utf-8"))
    found += [(ACTION_FILE, step) for step in action["runs"]["steps"]]
    return found


def test_every_action_is_pinned_to_its_recorded_sha_with_its_version(github_project):
    used = set()
    for name, step in action_steps(github_project):
        if "uses" not in step or step["uses"].startswith("$/"):
            continue
        path = github_project / (name if "/" in name else f".github/workflows/{name}")
        action, _, sha = step["uses"].partition("@")
        assert action in PINNED_ACTIONS, f"{name}: {action} is not in pinned-actions.json"
        pinned = PINNED_ACTIONS[action]
        assert sha == pinned["sha"], f"{name}: {action}@{sha}"
        assert f"uses: {step['uses']} # {pinned['tag']}\n" in path.read_text("utf-8"), name
        used.add(action)
    assert {"actions/checkout", "actions/setup-python", "azure/login"} <= used


def test_checkouts_keep_no_credentials_and_every_job_sets_up_through_the_action(github_project):
    for job in all_jobs(github_project):
        steps = job.body["steps"]
        (checkout,) = step_index(steps, uses_action("actions/checkout"))
        assert steps[checkout]["with"]["persist-credentials"] is False, job.path
        setups = step_index(steps, lambda s: s.get("uses") == "$/.github/actions/setup")
        assert len(setups) == 1 and setups[0] > checkout, job.path
        assert steps[setups[0]]["with"]["extras"] in EXTRAS, job.path


def test_no_expression_in_shell_and_no_failure_swallowed(github_project):
    for name, workflow in workflows(github_project).items():
        assert "continue-on-error" not in set(all_keys(workflow)), name
    action = yaml.safe_load((github_project / ACTION_FILE).read_text(encoding="utf-8"))
    for step in [*action["runs"]["steps"], *[s for _, s in action_steps(github_project)]]:
        if "run" in step:
            assert "${{" not in step["run"], step["run"]
            assert not SWALLOWED_FAILURE.search(step["run"]), step["run"]


def jobs_by_path(project: Path, workflow: str) -> dict[str, Job]:
    return {job.path: job for job in jobs_of(project, workflow)}


def test_models_of_a_run_come_from_mlops_and_feed_the_matrices(github_project):
    jobs = load_workflow(github_project / ".github/workflows/train.yml")["jobs"]
    models = jobs["models"]
    (select,) = [s for s in models["steps"] if "run" in s]
    assert shlex.split(select["run"])[:4] == ["python", "-m", "mlops", "models"]
    assert select["run"].endswith('>> "$GITHUB_OUTPUT"')
    assert select["env"]["SELECTION"] == "${{ inputs.model || 'changed' }}"
    assert select["env"]["BEFORE"] == "${{ github.event.before }}"
    assert models["outputs"]["models"] == f"${{{{ steps.{select['id']}.outputs.models }}}}"
    assert models["steps"][0]["with"]["fetch-depth"] == 0, "the commit before the push is needed"
    for job_id in ("train", "deploy"):
        assert jobs[job_id]["strategy"]["matrix"] == {
            "model": "${{ fromJSON(needs.models.outputs.models) }}"
        }
        assert jobs[job_id]["strategy"]["fail-fast"] is False, "one model's failure stops no other"


def test_training_runs_after_ci_per_model_signs_in_again_and_hands_over_to_deployment(
    github_project,
):
    jobs = load_workflow(github_project / ".github/workflows/train.yml")["jobs"]
    assert jobs["checks"]["uses"] == "$/.github/workflows/ci.yml"
    assert set(jobs["train"]["needs"]) == {"checks", "models"}
    assert set(jobs["deploy"]["needs"]) == {"models", "train"}
    assert jobs["deploy"]["uses"] == "$/.github/workflows/deploy.yml"
    assert jobs["deploy"]["with"] == {"model": "${{ matrix.model }}"}
    train = jobs["train"]
    assert train["concurrency"] == {
        "group": "train-${{ matrix.model }}",
        "cancel-in-progress": False,
    }
    assert train["env"]["MODEL"] == "${{ matrix.model }}"
    # A push has no inputs: it trains through the pipeline.
    assert train["env"]["TRAIN_JOB"] == f"${{{{ inputs.job || '{DEFAULT_TRAIN_JOB}' }}}}"

    steps = train["steps"]
    logins = step_index(steps, uses_action("azure/login"))
    (apply,) = step_index(steps, runs_make("apply"))
    (train_step,) = step_index(steps, runs_make("train-remote"))
    (register,) = step_index(steps, runs_make("register"))
    assert logins[0] < apply < train_step < register
    assert any(train_step < login < register for login in logins), "no new sign-in after training"
    assert all("if" not in steps[i] for i in logins), "a sign-in must not be skipped"
    for index in (apply, register):
        (call,) = make_calls(steps[index]["run"], {})
        assert call[1:] == ["MODEL=$MODEL"], call
    (call,) = make_calls(steps[train_step]["run"], {})
    assert call[1:] == ["MODEL=$MODEL", "TRAIN_JOB=$TRAIN_JOB"], call

    uploads = {
        step["with"]["name"]: step["with"]["path"]
        for step in steps
        if uses_action("actions/upload-artifact")(step)
    }
    assert uploads == {
        "run-metadata-${{ matrix.model }}": "outputs/${{ matrix.model }}/run.json",
        "model-metadata-${{ matrix.model }}": "outputs/${{ matrix.model }}/model.json",
    }


def test_deployment_goes_to_staging_then_production_through_environments(github_project):
    deploy = load_workflow(github_project / ".github/workflows/deploy.yml")["jobs"]
    assert set(deploy) == {"staging", "production"}
    assert deploy["production"]["needs"] == "staging"
    for stage, job in deploy.items():
        assert job["uses"] == "$/.github/workflows/rollout.yml"
        assert job["with"] == {
            "model": "${{ inputs.model }}",
            "version": "${{ inputs.version }}",
            "stage": stage,
        }

    jobs = jobs_by_path(github_project, "deploy.yml")
    assert list(jobs) == [
        "deploy.yml:staging/rollout.yml:rollout",
        "deploy.yml:production/rollout.yml:rollout",
    ]
    for stage, job in zip(("staging", "production"), jobs.values(), strict=True):
        body = job.body
        assert body["environment"] == stage
        assert body["concurrency"] == {
            "group": f"deploy-{stage}-${{{{ inputs.model }}}}",
            "cancel-in-progress": False,
        }
        assert job.env["MODEL"] == "${{ inputs.model }}"
        assert job.env["MODEL_REF"] == "${{ inputs.version }}"
        steps = body["steps"]
        (rollout,) = step_index(
            steps,
            lambda s, env=job.env, target=f"deploy-{stage}": (
                target in make_targets(s.get("run", ""), env)
            ),
        )
        assert "if" not in steps[rollout]
        (call,) = make_calls(steps[rollout]["run"], {"STAGE": job.env["STAGE"]})
        assert call == [f"deploy-{stage}", "MODEL=$MODEL", "MODEL_REF=$MODEL_REF"]
        (download,) = step_index(steps, uses_action("actions/download-artifact"))
        assert steps[download]["with"] == {
            "name": "model-metadata-${{ inputs.model }}",
            "path": "outputs/${{ inputs.model }}",
        }
        assert steps[download]["if"] == "${{ inputs.version == '' }}"
        login = step_index(steps, uses_action("azure/login"))
        assert login and download < login[-1] < rollout
        # Production promotes the version (the model-metadata artifact's, or the one asked for)
        # before it rolls it out; staging never does.
        (promote,) = step_index(steps, runs_make("promote"))
        assert steps[promote]["if"] is (stage == "production")
        assert login[-1] < promote < rollout
        (call,) = make_calls(steps[promote]["run"], {})
        assert call == ["promote", "MODEL=$MODEL", "MODEL_REF=$MODEL_REF"]
        # It reads the dev workspace: dev's subscription when production's is another.
        dev_subscription = "${{ vars.DEV_AZURE_SUBSCRIPTION_ID || vars.AZURE_SUBSCRIPTION_ID }}"
        assert steps[promote]["env"] == {"AZURE_SUBSCRIPTION_ID": dev_subscription}
        (record,) = [
            i for i in step_index(steps, uses_action("actions/upload-artifact")) if promote < i
        ]
        assert steps[record]["if"] is (stage == "production")
        assert steps[record]["with"] == {
            "name": "promoted-${{ inputs.model }}",
            "path": "outputs/${{ inputs.model }}/promoted.json",
            "if-no-files-found": "error",
        }
        assert record < rollout


def github_identity_by_subject(project: Path) -> dict[str, str]:
    """dev or prod for each OIDC subject (after `repo:<owner>/<name>:`) the setup page federates,
    after checking the issuer of each and that each subject has one identity."""
    page = (project / "docs/ci-cd-github.md").read_text(encoding="utf-8")
    identities: dict[str, str] = {}
    for identity, issuer, subject in federated_credentials(page):
        assert issuer == "https://token.actions.githubusercontent.com", subject
        assert subject.startswith("repo:${REPO}:"), subject
        claim = subject.removeprefix("repo:${REPO}:")
        assert claim not in identities, f"{claim} is federated twice"
        identities[claim] = environment_of(identity)
    return identities


def test_the_flow_trains_stages_approves_promotes_and_deploys_in_order_on_github(github_project):
    identities = github_identity_by_subject(github_project)
    assert identities == {
        "ref:refs/heads/main": "dev",
        "environment:staging": "dev",
        "environment:production": "prod",
    }
    events = github_flow(github_project)
    check_flow(github_project, events, lambda subject: identities.get(subject), FLOW_STAGES)
    (production,) = [e for e in events if e.name == "deploy-production"]
    (promote,) = [e for e in events if e.name == "promote"]
    # Without a version asked for, both read this run's files: model.json, then promoted.json.
    assert production.env["MODEL_REF"] == promote.env["MODEL_REF"] == "${{ inputs.version }}"


def test_each_environment_has_its_own_identity_through_variables(github_project):
    """The repository's variables name the dev identity, the `production` environment's the prod
    one (they override the repository's in its jobs), `staging` has none of its own."""
    page = (github_project / "docs/ci-cd-github.md").read_text(encoding="utf-8")
    values: dict[tuple[str, str | None], str] = {}
    for command in setup_commands(page, "gh", "variable", "set"):
        key = (command[3], option(command, "--env"))
        assert key not in values, f"{key} set twice"
        values[key] = option(command, "--body")
    assert values == {
        ("AZURE_CLIENT_ID", None): "$DEV_CLIENT_ID",
        ("AZURE_TENANT_ID", None): "$TENANT_ID",
        ("AZURE_SUBSCRIPTION_ID", None): "$DEV_SUBSCRIPTION_ID",
        ("AZURE_CLIENT_ID", "production"): "$PROD_CLIENT_ID",
        ("AZURE_TENANT_ID", "production"): "$TENANT_ID",
        ("AZURE_SUBSCRIPTION_ID", "production"): "$PROD_SUBSCRIPTION_ID",
        ("DEV_AZURE_SUBSCRIPTION_ID", "production"): "$DEV_SUBSCRIPTION_ID",
    }
    assert role_assignments(page) == EXPECTED_ROLES
    check_setup_names_match_the_environments(github_project, shell_settings(page))


def test_no_workflow_sets_the_resource_group_or_the_workspace(github_project):
    for name in workflows(github_project):
        text = (github_project / ".github/workflows" / name).read_text(encoding="utf-8")
        for variable in WORKSPACE_VARIABLES:
            assert variable not in text, f"{name} sets {variable}"
    for job in all_jobs(github_project):
        for step in steps_of(github_project, job.body):
            env = {**job.env, **step.get("env", {})}
            assert not set(WORKSPACE_VARIABLES) & set(env), job.path


def test_dependabot_keeps_actions_and_python_dependencies_current(github_project):
    config = yaml.safe_load((github_project / ".github/dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip"}
    for update in ecosystems.values():
        assert update["directory"] == "/"


# --- Azure DevOps ------------------------------------------------------------------------------


def check_azure_pipelines_schema(*files: Path):
    # The schema's patterns do not compile with check-jsonschema's default regex engine.
    return run_tool(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.azure-pipelines",
            "--regex-variant",
            "python",
            *files,
        ]
    )


def test_azure_pipelines_pass_their_schema(azure_devops_project):
    files = sorted((azure_devops_project / ".azure-pipelines").rglob("*.yml"))
    result = check_azure_pipelines_schema(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pipeline_schema_check_can_fail(azure_devops_project, tmp_path):
    broken = yaml.safe_load(
        (azure_devops_project / ".azure-pipelines/train-deploy.yml").read_text(encoding="utf-8")
    )
    broken["stages"][0]["continueOnErrors"] = "true"
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = check_azure_pipelines_schema(tmp_path / "broken.yml")
    assert result.returncode == 1


def test_pipeline_triggers(azure_devops_project):
    folder = azure_devops_project / ".azure-pipelines"
    ci = yaml.safe_load((folder / "ci.yml").read_text(encoding="utf-8"))
    assert ci["trigger"]["branches"]["include"] == ["*"]
    assert ci["pr"]["branches"]["include"] == ["*"]
    train_deploy = yaml.safe_load((folder / "train-deploy.yml").read_text(encoding="utf-8"))
    assert train_deploy["trigger"]["branches"]["include"] == ["main"]
    shared = {"models", "aml", "mlops", "sample-data", "pyproject.toml"}
    assert shared <= set(train_deploy["trigger"]["paths"]["include"])
    assert train_deploy["pr"] == "none"
    parameters = {p["name"]: p for p in train_deploy["parameters"]}
    assert set(parameters) == {"model", "version", "job"}
    assert (parameters["model"]["default"], parameters["version"]["default"]) == ("changed", "new")
    assert parameters["job"]["values"] == list(TRAIN_JOB_SPECS)
    assert parameters["job"]["default"] == DEFAULT_TRAIN_JOB


def stages_of(project: Path) -> dict[str, dict]:
    pipeline = load_pipeline(project / ".azure-pipelines/train-deploy.yml")
    return {stage["stage"]: stage for stage in pipeline["stages"]}


def stage_targets(stage: dict) -> list[str]:
    """The make targets the stage's steps run, in order (a step that can never run left out)."""
    return [
        target
        for step in all_steps(stage)
        if not never_runs(step.get("condition"))
        for target in sorted(make_targets(script_of(step), step.get("env", {})))
    ]


def connections_of(stage: dict) -> set[str]:
    """The service connections the Azure CLI tasks of the stage that can run sign in through."""
    return {
        step["inputs"]["azureSubscription"]
        for step in all_steps(stage)
        if step.get("task", "").startswith("AzureCLI@") and not never_runs(step.get("condition"))
    }


def model_stage_ids(model: str) -> tuple[str, str, str]:
    stage_id = model.replace("-", "_")
    return f"Train_{stage_id}", f"DeployStaging_{stage_id}", f"DeployProduction_{stage_id}"


def check_model_stages(stages: dict[str, dict], model: str) -> None:
    """One model's stages: train, then staging, then production, each only for that model."""
    train, staging, production = (stages[stage_id] for stage_id in model_stage_ids(model))
    listed = f"contains(dependencies.Models.outputs['Select.models.list'], ',{model},')"
    assert train["dependsOn"] == "Models"
    assert (
        listed in train["condition"]
        and "eq(variables['modelVersion'], 'new')" in train["condition"]
    )
    assert staging["dependsOn"] == ["Models", train["stage"]]
    assert listed in staging["condition"]
    assert production["dependsOn"] == staging["stage"]
    assert production["condition"] == "succeeded()"
    assert stage_targets(train) == ["setup", "apply", "train-remote", "register"]
    for stage, environment in ((staging, "staging"), (production, "production")):
        (job,) = stage["jobs"]
        assert job["environment"] == environment, "a deployment job bound to its environment"
        assert "runOnce" in job["strategy"]
        assert stage["lockBehavior"] == "sequential"
    assert stage_targets(staging) == ["setup", "deploy-staging"]
    assert stage_targets(production) == ["setup", "promote", "deploy-production"]
    dev, prod = "${{ variables.serviceConnection }}", "${{ variables.serviceConnectionProd }}"
    assert connections_of(train) == connections_of(staging) == {dev}
    assert connections_of(production) == {prod}
    for stage in (train, staging, production):
        for step in all_steps(stage):
            for call in make_calls(script_of(step), step.get("env", {})):
                if set(call) & MODEL_TARGETS:
                    assert f"MODEL={model}" in call, call


def test_stages_ci_then_models_then_each_models_train_staging_production(azure_devops_project):
    stages = stages_of(azure_devops_project)
    assert list(stages) == ["CI", "Models", *model_stage_ids("model1")]
    assert stage_targets(stages["CI"]) == ["setup", "lint", "test", "validate"]
    assert stages["Models"]["dependsOn"] == "CI"
    (select,) = [s for s in all_steps(stages["Models"]) if "mlops models" in script_of(s)]
    assert shlex.split(select["bash"])[:4] == ["python", "-m", "mlops", "models"]
    assert "--format azure-devops" in select["bash"] and select["name"] == "models"
    assert select["env"] == {"SELECTION": "${{ parameters.model }}"}
    (checkout,) = [s for s in all_steps(stages["Models"]) if "checkout" in s]
    assert str(checkout["fetchDepth"]) == "2", "the commit before is needed to tell what changed"
    check_model_stages(stages, "model1")


def test_azure_commands_run_in_azure_cli_tasks_through_a_service_connection(
    azure_devops_project,
):
    path = azure_devops_project / ".azure-pipelines/train-deploy.yml"
    pipeline = load_pipeline(path)
    variables = pipeline_variables(pipeline)
    assert variables["serviceConnection"] and variables["serviceConnectionProd"]
    assert variables["serviceConnection"] != variables["serviceConnectionProd"]
    connections = {"${{ variables.serviceConnection }}", "${{ variables.serviceConnectionProd }}"}
    azure_tasks = []
    for step in all_steps(pipeline):
        targets = make_targets(script_of(step), step.get("env", {}))
        if not targets & AZURE_TARGETS or never_runs(step.get("condition")):
            continue
        azure_tasks.extend(targets)
        assert len(targets) == 1, "one Azure command per task: each task signs in afresh"
        assert step["task"] == "AzureCLI@2"
        assert step["inputs"]["azureSubscription"] in connections
        assert step["inputs"]["scriptType"] == "bash"
        assert step["inputs"]["keepAzSessionActive"] is True
    assert sorted(azure_tasks) == sorted(AZURE_TARGETS)


def test_the_subscription_is_the_connections_unless_the_promotion_names_dev(azure_devops_project):
    stages = stages_of(azure_devops_project)
    for stage_id in model_stage_ids("model1"):
        for step in all_steps(stages[stage_id]):
            if not step.get("task", "").startswith("AzureCLI@"):
                continue
            target = step["env"]["MAKE_TARGET"]
            expected = "$(devSubscriptionId)" if target == "promote" else ""
            assert step["env"]["WORKSPACE_SUBSCRIPTION_ID"] == expected, target
            script = script_of(step)
            assert (
                'AZURE_SUBSCRIPTION_ID="${WORKSPACE_SUBSCRIPTION_ID:-$(az account show --query id'
                in script
            )
            assert "export AZURE_SUBSCRIPTION_ID" in script


def test_pipeline_settings_match_the_workspace_spec_and_the_setup_page(azure_devops_project):
    pipeline = yaml.safe_load(
        (azure_devops_project / ".azure-pipelines/train-deploy.yml").read_text(encoding="utf-8")
    )
    variables = pipeline_variables(pipeline)
    assert not set(WORKSPACE_VARIABLES) & set(variables), "pyproject.toml names the workspaces"
    assert variables["modelVersion"] == "${{ parameters.version }}"
    assert variables["trainJob"] == "${{ parameters.job }}"
    assert variables["devSubscriptionId"] == "", "dev shares production's subscription by default"
    setup_page = (azure_devops_project / "docs/ci-cd-azure-devops.md").read_text(encoding="utf-8")
    settings = shell_settings(setup_page)
    assert settings["DEV_SERVICE_CONNECTION"] == variables["serviceConnection"]
    assert settings["PROD_SERVICE_CONNECTION"] == variables["serviceConnectionProd"]
    check_setup_names_match_the_environments(azure_devops_project, settings)


def azure_devops_identity_of(project: Path):
    variables = pipeline_variables(load_pipeline(project / ".azure-pipelines/train-deploy.yml"))
    identities = {variables["serviceConnection"]: "dev"}
    if "serviceConnectionProd" in variables:
        identities[variables["serviceConnectionProd"]] = "prod"
    return identities.get


def test_the_flow_trains_stages_approves_promotes_and_deploys_in_order_on_azure_devops(
    azure_devops_project,
):
    events = azure_devops_flow(azure_devops_project)
    check_flow(
        azure_devops_project, events, azure_devops_identity_of(azure_devops_project), FLOW_STAGES
    )


def test_each_service_connection_has_its_own_identity(azure_devops_project):
    """The setup page federates each connection's issuer and subject with its own identity, and
    gives each identity the roles of its environment."""
    page = (azure_devops_project / "docs/ci-cd-azure-devops.md").read_text(encoding="utf-8")
    settings = shell_settings(page)
    credentials = federated_credentials(page)
    assert sorted(credentials) == [
        ("$DEV_IDENTITY", "$DEV_ISSUER", "$DEV_SUBJECT"),
        ("$PROD_IDENTITY", "$PROD_ISSUER", "$PROD_SUBJECT"),
    ]
    for env in ("DEV", "PROD"):
        created = (
            f'create_connection "${env}_SERVICE_CONNECTION" "${env}_SUBSCRIPTION_ID" '
            f'"${env}_CLIENT_ID"'
        )
        assert created in settings[f"{env}_ENDPOINT_ID"]
        for claim, field in (("ISSUER", "Issuer"), ("SUBJECT", "Subject")):
            read_back = settings[f"{env}_{claim}"]
            assert f'--id "${env}_ENDPOINT_ID"' in read_back
            assert f"workloadIdentityFederation{field}" in read_back
    assert role_assignments(page) == EXPECTED_ROLES


def test_no_pipeline_sets_the_resource_group_or_the_workspace(azure_devops_project):
    for path in sorted((azure_devops_project / ".azure-pipelines").rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        for variable in WORKSPACE_VARIABLES:
            assert variable not in text, f"{path.name} sets {variable}"


def test_tests_are_published_as_junit(azure_devops_project):
    for path in pipeline_files(azure_devops_project):
        pipeline = load_pipeline(path)
        steps = list(all_steps(pipeline))
        (test,) = [s for s in steps if "test" in make_targets(script_of(s), s.get("env", {}))]
        (junit,) = [a for a in shlex.split(test["bash"]) if a.startswith("PYTEST_ARGS=")]
        (publish,) = [s for s in steps if s.get("task") == "PublishTestResults@2"]
        assert publish["inputs"]["testResultsFormat"] == "JUnit"
        assert junit == f"PYTEST_ARGS=--junitxml={publish['inputs']['testResultsFiles']}"
        assert publish["condition"] == "succeededOrFailed()", "failed tests must be published too"
        assert steps.index(publish) > steps.index(test)


def test_training_keeps_metadata_and_deployment_reads_it(azure_devops_project):
    stages = stages_of(azure_devops_project)
    train, staging, production = (stages[stage_id] for stage_id in model_stage_ids("model1"))
    published = {
        s["inputs"]["artifact"]: s["inputs"]["targetPath"]
        for s in all_steps(train)
        if s.get("task") == "PublishPipelineArtifact@1"
    }
    assert published == {
        "run-metadata-model1": "outputs/model1/run.json",
        "model-metadata-model1": "outputs/model1/model.json",
    }
    for stage in (staging, production):
        steps = list(all_steps(stage))
        assert {"download": "none"} in steps, "no implicit download of every artifact"
        (download,) = [s for s in steps if s.get("task") == "DownloadPipelineArtifact@2"]
        assert download["inputs"]["artifactName"] == "model-metadata-model1"
        assert download["inputs"]["targetPath"] == "$(Build.SourcesDirectory)/outputs/model1"


def test_no_step_may_fail_quietly(azure_devops_project):
    for path in sorted((azure_devops_project / ".azure-pipelines").rglob("*.yml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "continueOnError" not in set(all_keys(raw)), path.name
    for path in pipeline_files(azure_devops_project):
        for step in all_steps(load_pipeline(path)):
            script = script_of(step)
            assert not SWALLOWED_FAILURE.search(script), f"{path.name}: {script}"
            commands = [
                line
                for line in script.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
            if len(commands) > 1:
                assert commands[0] == "set -euo pipefail", f"{path.name}: {script}"
            if "checkout" in step:
                assert step["persistCredentials"] == "false"


def model1_step_running(project: Path, target: str, stage: int) -> dict:
    """The one step of model1's stage ``stage`` (0 train, 1 staging) that runs ``make target``."""
    stages = stages_of(project)
    (step,) = [
        step
        for step in all_steps(stages[model_stage_ids("model1")[stage]])
        if target in make_targets(script_of(step), step.get("env", {}))
    ]
    return step


def test_the_version_reaches_make_as_a_variable_for_mlops_to_check(azure_devops_project):
    task = model1_step_running(azure_devops_project, "deploy-staging", stage=1)
    assert task["env"] == {
        "MAKE_TARGET": "deploy-staging",
        "MODEL": "model1",
        "MODEL_VERSION": "$(modelVersion)",
        "TRAIN_JOB": DEFAULT_TRAIN_JOB,
        "WORKSPACE_SUBSCRIPTION_ID": "",
    }
    (call,) = make_calls(script_of(task), {})
    assert call == [
        "$MAKE_TARGET",
        "MODEL=$MODEL",
        "MODEL_REF=$MODEL_VERSION",
        "TRAIN_JOB=$TRAIN_JOB",
    ]


def test_the_training_job_asked_for_reaches_make_as_a_variable(azure_devops_project):
    task = model1_step_running(azure_devops_project, "train-remote", stage=0)
    # The pipeline variable of the run's `job` parameter (test_pipeline_settings_...).
    assert task["env"]["TRAIN_JOB"] == "$(trainJob)"
    (call,) = make_calls(script_of(task), {})
    assert "TRAIN_JOB=$TRAIN_JOB" in call


@pytest.mark.parametrize("train_job", list(TRAIN_JOB_SPECS))
def test_each_training_job_ci_cd_offers_submits_its_spec(default_project, train_job):
    dry_run = run_tool(
        ["make", "--dry-run", "train-remote", "MODEL=model1", f"TRAIN_JOB={train_job}"],
        cwd=default_project,
    )

    assert dry_run.returncode == 0, dry_run.stderr
    (command,) = [
        line
        for line in dry_run.stdout.splitlines()
        if [c for _, c in mlops_calls(line)] == ["train"]
    ]
    spec = f"models/model1/aml_config/{TRAIN_JOB_SPECS[train_job]}"
    words = command.split()
    assert words[words.index("train") + 1] == spec
    assert "--metadata-out outputs/model1/run.json" in dry_run.stdout


def test_train_remote_submits_the_pipeline_by_default(default_project):
    dry_run = run_tool(["make", "--dry-run", "train-remote"], cwd=default_project)

    assert f"models/model1/aml_config/{TRAIN_JOB_SPECS[DEFAULT_TRAIN_JOB]}" in dry_run.stdout


@pytest.mark.parametrize("train_job", ["nightly", "pipeline sweep", "%", 'x"; touch pwned; "', ""])
def test_train_remote_refuses_any_other_training_job_before_running_anything(
    default_project, train_job
):
    dry_run = run_tool(
        ["make", "--dry-run", "train-remote", "MODEL=model1", f"TRAIN_JOB={train_job}"],
        cwd=default_project,
    )

    assert dry_run.returncode != 0
    assert "mlops" not in dry_run.stdout
    assert f'TRAIN_JOB="{train_job}" must be one of: pipeline sweep command' in dry_run.stderr


# --- the deployment answer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_deployment_project(bake) -> Path:
    (bake_case,) = [b for b in SUPPORTED if b.answers.get("deployment") == "none"]
    assert bake_case.answers.get("ci_provider") == "both", "both providers' cut pipelines"
    return bake(bake_case.id)


def test_a_project_that_deploys_nothing_trains_and_registers_and_stops(no_deployment_project):
    project = no_deployment_project
    targets = {arg for call in ci_make_calls(project) for arg in call if "=" not in arg}
    assert targets >= FLOW_TARGETS - DEPLOYING_TARGETS
    assert not {t for t in targets if t.startswith(("deploy", "invoke", "promote"))}
    expected = ["ci", "train+register"]
    identities = github_identity_by_subject(project)
    check_flow(project, github_flow(project), identities.get, expected)
    check_flow(project, azure_devops_flow(project), azure_devops_identity_of(project), expected)
    pipeline = load_pipeline(project / ".azure-pipelines/train-deploy.yml")
    assert set(pipeline_variables(pipeline)) == {"serviceConnection", "modelVersion", "trainJob"}
    assert set(workflows(project)) == {"ci.yml", "train.yml"}
    train = load_workflow(project / ".github/workflows/train.yml")
    assert set(train["jobs"]) == {"checks", "models", "train"}
    (train_stage, _, _) = model_stage_ids("model1")
    assert list(stages_of(project)) == ["CI", "Models", train_stage]


def test_the_cut_pipelines_pass_their_schemas_and_zizmor(no_deployment_project):
    project = no_deployment_project
    checker = tool("check-jsonschema")
    workflow_files = sorted((project / ".github/workflows").glob("*.yml"))
    result = run_tool([checker, "--builtin-schema", "vendor.github-workflows", *workflow_files])
    assert result.returncode == 0, result.stdout + result.stderr
    result = check_azure_pipelines_schema(*sorted((project / ".azure-pipelines").rglob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert zizmor_findings(project / ".github") == []


def test_each_stage_deploys_every_kind_the_project_has(bake):
    """CI/CD runs `make deploy-<stage>`; the Makefile makes it the online and/or batch rollout."""
    expected = {
        "defaults": {"deploy"},
        "batch-only": {"deploy-batch"},
        "hostile-prose": {"deploy", "deploy-batch"},
    }
    for bake_id, commands in expected.items():
        project = bake(bake_id)
        for stage in ("staging", "production"):
            dry_run = run_tool(["make", "--dry-run", f"deploy-{stage}", "MODEL=model1"], project)
            assert dry_run.returncode == 0, dry_run.stderr
            called = {command for _, command in mlops_calls(dry_run.stdout)}
            assert called - {"apply"} == commands, (bake_id, stage, dry_run.stdout)
            # Production also applies the nightly batch schedule and the online model monitor.
            assert ("apply" in called) == (stage == "production")
