"""CI/CD in the generated project, for every `ci_provider` choice: the exact files; every workflow
and pipeline valid against its schema; no zizmor finding; and the flow the YAML encodes (triggers,
permissions, environments, pinned actions, sign-in, the make targets and mlops commands it runs),
read from the parsed YAML."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
# What every provider must run: the CI checks, training, registration and both rollouts.
FLOW_TARGETS = {
    "setup",
    "lint",
    "test",
    "validate",
    "apply",
    "train-remote",
    "register",
    "deploy-staging",
    "deploy-production",
}
AZURE_TARGETS = FLOW_TARGETS - {"setup", "lint", "test", "validate"}
MAKE_CALL = re.compile(r"(?<![\w./$-])make[ \t]+([^\n;&|]+)")
MLOPS_CALL = re.compile(r"(?<![\w./-])mlops[ \t]+([a-z][\w-]*)")
SHELL_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
TEMPLATE_PARAMETER = re.compile(r"\$\{\{\s*parameters\.(\w+)\s*\}\}")
SWALLOWED_FAILURE = re.compile(r"\|\|\s*(true|:)(\s|$)")


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


# --- GitHub Actions: reading workflows ---------------------------------------------------------


def load_workflow(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 (PyYAML) reads GitHub's key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def workflows(project: Path) -> dict[str, dict]:
    return {p.name: load_workflow(p) for p in sorted((project / ".github/workflows").glob("*.yml"))}


def uses_login(job: dict) -> bool:
    return any(step.get("uses", "").startswith("azure/login@") for step in job.get("steps", []))


def called_workflow(project: Path, job: dict) -> dict | None:
    """The reusable workflow a job calls from this repository, if it calls one."""
    target = job.get("uses")
    if target is None:
        return None
    assert target.startswith(("$/", "./")), f"reusable workflow from elsewhere: {target}"
    return load_workflow(project / target[2:])


def run_steps(workflow: dict):
    """(job id, step, environment) of every `run:` step, with the workflow, job and step env."""
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                yield job_id, step, env


def step_index(steps: list, predicate) -> list[int]:
    return [i for i, step in enumerate(steps) if predicate(step)]


def runs_make(target: str):
    return lambda step: target in make_targets(step.get("run", ""), step.get("env", {}))


# --- Azure DevOps: reading pipelines with their templates expanded -----------------------------


def expand_templates(node, here: Path):
    """The pipeline as Azure DevOps compiles it: each `- template:` item replaced by the template's
    stages, jobs or steps, with its parameters checked against the template's declaration."""
    if isinstance(node, list):
        expanded = []
        for item in node:
            if isinstance(item, dict) and set(item) in ({"template"}, {"template", "parameters"}):
                expanded.extend(
                    expand_template(here.parent / item["template"], item.get("parameters", {}))
                )
            else:
                expanded.append(expand_templates(item, here))
        return expanded
    if isinstance(node, dict):
        return {key: expand_templates(value, here) for key, value in node.items()}
    return node


def expand_template(path: Path, arguments: dict) -> list:
    text = path.read_text(encoding="utf-8")
    declared = {p["name"]: p for p in yaml.safe_load(text).get("parameters", [])}
    unknown = set(arguments) - set(declared)
    assert not unknown, f"{path.name} has no parameter {sorted(unknown)}"
    values = {}
    for name, declaration in declared.items():
        assert name in arguments or "default" in declaration, f"{path.name} needs {name}"
        value = arguments.get(name, declaration.get("default"))
        allowed = declaration.get("values")
        if allowed is not None and not str(value).startswith(("$(", "${{")):
            assert value in allowed, f"{path.name}: {name}={value!r} is not one of {allowed}"
        values[name] = value
    document = yaml.safe_load(TEMPLATE_PARAMETER.sub(lambda m: str(values[m[1]]), text))
    bodies = [document[key] for key in ("stages", "jobs", "steps") if key in document]
    assert len(bodies) == 1, f"{path.name} must hold exactly one of stages, jobs, steps"
    return expand_templates(bodies[0], path)


def load_pipeline(path: Path) -> dict:
    return expand_templates(yaml.safe_load(path.read_text(encoding="utf-8")), path)


def all_steps(node):
    """Every step of a (expanded) pipeline, stage, job or deployment strategy, in order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "steps" and isinstance(value, list):
                yield from value
            else:
                yield from all_steps(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_steps(item)


def all_keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from all_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_keys(item)


def script_of(step: dict) -> str:
    if "bash" in step or "script" in step:
        return step.get("bash", step.get("script"))
    if step.get("task", "").startswith("AzureCLI@"):
        return step["inputs"]["inlineScript"]
    return ""


def pipeline_files(project: Path) -> list[Path]:
    return sorted((project / ".azure-pipelines").glob("*.yml"))


# --- commands the YAML runs ------------------------------------------------------------------


def make_calls(script: str, env: dict) -> list[list[str]]:
    """Each `make ...` command of a shell script as its arguments, with the step's environment
    variables written in (so `make "$MAKE_TARGET"` names the target it runs)."""

    def value_of(match: re.Match) -> str:
        name = match[1] or match[2]
        return str(env[name]) if name in env else match[0]

    calls = []
    for line in script.splitlines():
        for match in MAKE_CALL.finditer(line):
            calls.append(shlex.split(SHELL_VARIABLE.sub(value_of, match[1]), comments=True))
    return calls


def make_targets(script: str, env: dict) -> set[str]:
    return {
        arg
        for call in make_calls(script, env)
        for arg in call
        if "=" not in arg and not arg.startswith("-")
    }


def ci_make_calls(project: Path) -> list[list[str]]:
    """Every make command of every workflow and pipeline of the project."""
    calls = []
    if (project / ".github").is_dir():
        for workflow in workflows(project).values():
            for _, step, env in run_steps(workflow):
                calls.extend(make_calls(step["run"], env))
    if (project / ".azure-pipelines").is_dir():
        for path in pipeline_files(project):
            for step in all_steps(load_pipeline(path)):
                calls.extend(make_calls(script_of(step), step.get("env", {})))
    return calls


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
    mlops_called = set()
    for target in sorted(targets):
        dry_run = run_tool(["make", "--dry-run", target], cwd=project)
        assert dry_run.returncode == 0, f"make {target}: {dry_run.stderr}"
        mlops_called |= set(MLOPS_CALL.findall(dry_run.stdout))
    assert mlops_called, "the Azure targets run no mlops command"
    assert mlops_called <= mlops_commands(project, project_python)


# --- GitHub Actions ---------------------------------------------------------------------------


def test_github_files_pass_their_schemas(github_project):
    checker = tool("check-jsonschema")
    workflow_files = sorted((github_project / ".github/workflows").glob("*.yml"))
    result = run_tool([checker, "--builtin-schema", "vendor.github-workflows", *workflow_files])
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
    """A copy whose checkouts keep their credentials: zizmor must flag it in every workflow."""
    copy = tmp_path / ".github"
    shutil.copytree(github_project / ".github", copy)
    for path in (copy / "workflows").glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        without = re.sub(r"\n +with:\n +persist-credentials: false", "", text)
        assert without != text, f"{path.name} has no checkout with persist-credentials: false"
        path.write_text(without, encoding="utf-8")
    flagged = {
        Path(location["symbolic"]["key"]["Local"]["verbatim_path"]).name
        for finding in zizmor_findings(copy)
        if finding["ident"] == "artipacked"
        for location in finding["locations"]
    }
    assert flagged == {p.name for p in (copy / "workflows").glob("*.yml")}


def test_workflow_triggers(github_project):
    flows = workflows(github_project)
    assert set(flows) == {"ci.yml", "train.yml", "deploy.yml"}

    ci = flows["ci.yml"]["on"]
    assert {"pull_request", "push", "workflow_call"} <= set(ci)
    assert (ci["push"] or {}).get("branches") is None, "CI must run on pushes to every branch"

    train = flows["train.yml"]["on"]
    assert set(train) == {"push", "workflow_dispatch"}
    assert train["push"]["branches"] == ["main"]
    assert {"models/**", "aml/**", "sample-data/**"} <= set(train["push"]["paths"])

    deploy = flows["deploy.yml"]["on"]
    assert set(deploy) == {"workflow_call", "workflow_dispatch"}
    assert deploy["workflow_dispatch"]["inputs"]["model"]["required"] is True
    assert deploy["workflow_call"]["inputs"]["model"]["required"] is False


def test_permissions_grant_nothing_but_what_each_job_needs(github_project):
    for name, workflow in workflows(github_project).items():
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            callee = called_workflow(github_project, job)
            if callee is None:
                expected = {"contents": "read"}
                if uses_login(job):
                    expected["id-token"] = "write"
            else:
                expected = {}
                for called_job in callee["jobs"].values():
                    expected |= called_job["permissions"]
            assert job["permissions"] == expected, f"{name}: {job_id}"


def test_azure_sign_in_is_oidc_from_variables_only(github_project):
    logins = 0
    for name, workflow in workflows(github_project).items():
        text = (github_project / ".github/workflows" / name).read_text(encoding="utf-8")
        assert "secrets." not in text, name
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("azure/login@"):
                    logins += 1
                    assert step["with"] == {
                        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
                        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
                    }
            if uses_login(job):
                for setting in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP"):
                    assert job["env"][setting] == f"${{{{ vars.{setting} }}}}"
                assert job["env"]["AZUREML_WORKSPACE_NAME"] == "${{ vars.AZUREML_WORKSPACE_NAME }}"
    assert logins


def test_every_action_is_pinned_to_its_recorded_sha_with_its_version(github_project):
    used = set()
    for name, workflow in workflows(github_project).items():
        text = (github_project / ".github/workflows" / name).read_text(encoding="utf-8")
        for job in workflow["jobs"].values():
            if "uses" in job:
                assert (github_project / job["uses"][2:]).is_file(), job["uses"]
            for step in job.get("steps", []):
                if "uses" not in step:
                    continue
                action, _, sha = step["uses"].partition("@")
                assert action in PINNED_ACTIONS, f"{name}: {action} is not in pinned-actions.json"
                pinned = PINNED_ACTIONS[action]
                assert sha == pinned["sha"], f"{name}: {action}@{sha}"
                assert f"uses: {step['uses']} # {pinned['tag']}\n" in text, f"{name}: {action}"
                used.add(action)
    assert {"actions/checkout", "actions/setup-python", "azure/login"} <= used


def test_checkouts_keep_no_credentials(github_project):
    checkouts = 0
    for name, workflow in workflows(github_project).items():
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    checkouts += 1
                    assert step["with"]["persist-credentials"] is False, name
    assert checkouts


def test_no_expression_in_shell_and_no_failure_swallowed(github_project):
    for name, workflow in workflows(github_project).items():
        assert "continue-on-error" not in set(all_keys(workflow)), name
        for job_id, step, _ in run_steps(workflow):
            assert "${{" not in step["run"], f"{name}: {job_id}: {step['run']}"
            assert not SWALLOWED_FAILURE.search(step["run"]), f"{name}: {job_id}"


def test_training_runs_after_ci_signs_in_again_and_hands_over_to_deployment(github_project):
    jobs = workflows(github_project)["train.yml"]["jobs"]
    assert jobs["checks"]["uses"].endswith("/.github/workflows/ci.yml")
    assert jobs["train"]["needs"] == "checks"
    assert jobs["deploy"]["needs"] == "train"
    assert jobs["deploy"]["uses"].endswith("/.github/workflows/deploy.yml")
    assert jobs["train"]["concurrency"]["cancel-in-progress"] is False

    steps = jobs["train"]["steps"]
    logins = step_index(steps, lambda s: s.get("uses", "").startswith("azure/login@"))
    (apply,) = step_index(steps, runs_make("apply"))
    (train,) = step_index(steps, runs_make("train-remote"))
    (register,) = step_index(steps, runs_make("register"))
    assert logins[0] < apply < train < register
    assert any(train < login < register for login in logins), "no new sign-in after training"
    assert all("if" not in steps[i] for i in logins), "a sign-in must not be skipped"

    uploads = {
        step["with"]["name"]: step["with"]["path"]
        for step in steps
        if step.get("uses", "").startswith("actions/upload-artifact@")
    }
    assert uploads == {"run-metadata": "outputs/run.json", "model-metadata": "outputs/model.json"}


def test_deployment_goes_to_staging_then_production_through_environments(github_project):
    jobs = workflows(github_project)["deploy.yml"]["jobs"]
    assert set(jobs) == {"staging", "production"}
    assert jobs["production"]["needs"] == "staging"
    groups = set()
    for environment, job in jobs.items():
        assert job["environment"] == environment
        assert job["concurrency"]["cancel-in-progress"] is False
        groups.add(job["concurrency"]["group"])
        assert job["env"]["MODEL"] == "${{ inputs.model }}"
        steps = job["steps"]
        (rollout,) = step_index(steps, runs_make(f"deploy-{environment}"))
        assert ["make", f"deploy-{environment}", "MODEL=$MODEL"] == shlex.split(
            steps[rollout]["run"]
        )
        (download,) = step_index(
            steps, lambda s: s.get("uses", "").startswith("actions/download-artifact@")
        )
        assert steps[download]["with"] == {"name": "model-metadata", "path": "outputs"}
        assert steps[download]["if"] == "${{ inputs.model == '' }}"
        login = step_index(steps, lambda s: s.get("uses", "").startswith("azure/login@"))
        assert login and login[-1] < rollout
    assert len(groups) == 2, "staging and production need concurrency groups of their own"


def assert_script_checks_model_reference(script: str, variable: str, refused: tuple[str, ...]):
    """The shell script tests $variable against a NAME:VERSION pattern and exits 2 otherwise."""
    check = re.search(rf'"\${variable}" =~ (\S+) \]\]', script)
    assert check and "exit 2" in script
    pattern = re.compile(check[1])
    assert pattern.fullmatch("churn-model:3")
    for bad in refused:
        assert not pattern.fullmatch(bad), bad


def test_on_demand_model_reference_is_checked_before_anything_runs(github_project):
    first_step = workflows(github_project)["deploy.yml"]["jobs"]["staging"]["steps"][0]
    assert_script_checks_model_reference(
        first_step["run"], "MODEL", ("churn-model", "x:1; curl evil", "$(id):1", "a:1 b:2", ":3")
    )


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
    assert {"models", "aml", "sample-data"} <= set(train_deploy["trigger"]["paths"]["include"])
    assert train_deploy["pr"] == "none"
    (model,) = train_deploy["parameters"]
    assert model["name"] == "model" and model["type"] == "string"


def test_stages_train_then_deploy_to_staging_then_production(azure_devops_project):
    pipeline = load_pipeline(azure_devops_project / ".azure-pipelines/train-deploy.yml")
    stages = {stage["stage"]: stage for stage in pipeline["stages"]}
    assert list(stages) == ["CI", "Train", "DeployStaging", "DeployProduction"]
    assert stages["Train"]["dependsOn"] == "CI"
    assert stages["DeployStaging"]["dependsOn"] == "Train"
    assert stages["DeployProduction"]["dependsOn"] == "DeployStaging"
    assert all("condition" in stage for stage in stages.values())

    def targets(stage):
        return [
            target
            for step in all_steps(stage)
            for target in sorted(make_targets(script_of(step), step.get("env", {})))
        ]

    assert targets(stages["CI"]) == ["setup", "lint", "test", "validate"]
    assert targets(stages["Train"]) == ["setup", "apply", "train-remote", "register"]
    for stage_id, environment in (("DeployStaging", "staging"), ("DeployProduction", "production")):
        (job,) = stages[stage_id]["jobs"]
        assert job["environment"] == environment, "a deployment job bound to its environment"
        assert "runOnce" in job["strategy"]
        assert targets(stages[stage_id]) == ["setup", f"deploy-{environment}"]
        assert stages[stage_id]["lockBehavior"] == "sequential"


def test_azure_commands_run_in_azure_cli_tasks_through_the_service_connection(
    azure_devops_project,
):
    path = azure_devops_project / ".azure-pipelines/train-deploy.yml"
    pipeline = load_pipeline(path)
    variables = {v["name"]: v["value"] for v in pipeline["variables"]}
    assert variables["serviceConnection"]
    azure_tasks = 0
    for step in all_steps(pipeline):
        targets = make_targets(script_of(step), step.get("env", {}))
        if not targets & AZURE_TARGETS:
            continue
        azure_tasks += 1
        assert len(targets) == 1, "one Azure command per task: each task signs in afresh"
        assert step["task"] == "AzureCLI@2"
        assert step["inputs"]["azureSubscription"] == "${{ variables.serviceConnection }}"
        assert step["inputs"]["scriptType"] == "bash"
        assert step["inputs"]["keepAzSessionActive"] is True
    assert azure_tasks == len(AZURE_TARGETS)


def test_pipeline_settings_match_the_workspace_spec_and_the_setup_page(azure_devops_project):
    pipeline = yaml.safe_load(
        (azure_devops_project / ".azure-pipelines/train-deploy.yml").read_text(encoding="utf-8")
    )
    variables = {v["name"]: v["value"] for v in pipeline["variables"]}
    workspace = yaml.safe_load((azure_devops_project / "aml/workspace.yml").read_text("utf-8"))
    assert variables["AZURE_RESOURCE_GROUP"] == workspace["resource_group"]
    assert variables["AZUREML_WORKSPACE_NAME"] == workspace["name"]
    assert variables["modelToDeploy"] == "${{ parameters.model }}"
    setup_page = (azure_devops_project / "docs/ci-cd-azure-devops.md").read_text(encoding="utf-8")
    assert f"\nSERVICE_CONNECTION={variables['serviceConnection']}\n" in setup_page
    assert f"\nRESOURCE_GROUP={workspace['resource_group']}\n" in setup_page


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
    pipeline = load_pipeline(azure_devops_project / ".azure-pipelines/train-deploy.yml")
    stages = {stage["stage"]: stage for stage in pipeline["stages"]}
    published = {
        s["inputs"]["artifact"]: s["inputs"]["targetPath"]
        for s in all_steps(stages["Train"])
        if s.get("task") == "PublishPipelineArtifact@1"
    }
    assert published == {"run-metadata": "outputs/run.json", "model-metadata": "outputs/model.json"}
    for stage_id in ("DeployStaging", "DeployProduction"):
        steps = list(all_steps(stages[stage_id]))
        assert {"download": "none"} in steps, "no implicit download of every artifact"
        (download,) = [s for s in steps if s.get("task") == "DownloadPipelineArtifact@2"]
        assert download["inputs"]["artifactName"] == "model-metadata"
        assert download["inputs"]["targetPath"] == "$(Build.SourcesDirectory)/outputs"


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


def test_model_reference_is_checked_before_make_sees_it(azure_devops_project):
    template = azure_devops_project / ".azure-pipelines/templates/azure-make.yml"
    (task,) = expand_template(template, {"displayName": "x", "target": "deploy-staging"})
    assert_script_checks_model_reference(
        task["inputs"]["inlineScript"],
        "MODEL_REFERENCE",
        ("new", "churn-model", "x:1; curl evil", "$(id):1", "a:1 b:2"),
    )
    assert task["env"] == {"MAKE_TARGET": "deploy-staging", "MODEL_REFERENCE": "new"}
