"""A second model, added with `make add-model`: it has everything model1 has, names of its own,
targets that take MODEL=, a place in CI/CD of both providers (read from their YAML), and bad names
are refused without changing the repository. (Its own tests run with the project's whole suite in
test_generated_project.py.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from ci_pipelines import all_steps, azure_devops_flow, load_pipeline, load_workflow, script_of
from conftest import add_second_model, git, project_env, run
from expected_files import MODEL_FILES, model_files
from hook_modules import pre_gen
from make_variables import model_variables
from test_ci_cd import (
    FLOW_STAGES,
    MODEL_TARGETS,
    azure_devops_identity_of,
    check_flow,
    check_model_stages,
    model_stage_ids,
)

NAMES_BY_RULE = {
    "MODEL_NAME": pre_gen.check_model_name,
    "STAGING_ENDPOINT": pre_gen.check_staging_endpoint_name,
    "PRODUCTION_ENDPOINT": pre_gen.check_online_endpoint_name,
}
# Of a project that deploys in batch: a batch endpoint's name follows the online endpoints' rule.
BATCH_NAMES_BY_RULE = {
    "STAGING_BATCH_ENDPOINT": pre_gen.check_online_endpoint_name,
    "PRODUCTION_BATCH_ENDPOINT": pre_gen.check_online_endpoint_name,
}


def spec(project: Path, model: str, relative: str) -> dict:
    return yaml.safe_load((project / "models" / model / relative).read_text(encoding="utf-8"))


def test_the_second_model_has_every_model_file(two_model_project):
    project = two_model_project.path
    files = {p.relative_to(project).as_posix() for p in (project / "models").rglob("*")}
    models = {two_model_project.second_model, "model1"}
    deployment = two_model_project.answers["deployment"]
    assert {f for f in files if Path(project, f).is_file()} == set().union(
        *(model_files(model, deployment) for model in models)
    )
    assert len(MODEL_FILES) > 10


def test_the_second_model_has_names_of_its_own_that_azure_accepts(two_model_project):
    project, second = two_model_project.path, two_model_project.second_model
    first_settings, settings = model_variables(project, "model1"), model_variables(project, second)
    answers = two_model_project.answers
    assert first_settings["MODEL_NAME"] == answers["model_name"]
    assert first_settings["PRODUCTION_ENDPOINT"] == answers["online_endpoint_name"]
    for name, rule in (NAMES_BY_RULE | BATCH_NAMES_BY_RULE).items():
        assert rule(settings[name]) is None, f"{name}={settings[name]}"
        assert settings[name] != first_settings[name]
    endpoints = [settings[name] for name in (*NAMES_BY_RULE, *BATCH_NAMES_BY_RULE)][1:]
    assert len({name.lower() for name in endpoints}) == len(endpoints), endpoints
    slug = answers["project_slug"]
    assert settings["MODEL_NAME"] == f"{slug}-{second}"
    assert (
        spec(project, second, "deployment/endpoint.yml")["name"] == settings["PRODUCTION_ENDPOINT"]
    )
    deployment = spec(project, second, "deployment/deployment.yml")
    assert deployment["endpoint_name"] == settings["PRODUCTION_ENDPOINT"]
    assert deployment["model"] == f"azureml:{settings['MODEL_NAME']}@latest"
    environment = spec(project, second, "aml_config/environment.yml")
    assert environment["name"] == f"{slug}-{second}-train-env"
    batch_endpoint = spec(project, second, "deployment/batch-endpoint.yml")
    assert batch_endpoint["name"] == settings["PRODUCTION_BATCH_ENDPOINT"]
    batch_deployment = spec(project, second, "deployment/batch-deployment.yml")
    assert batch_deployment["endpoint_name"] == settings["PRODUCTION_BATCH_ENDPOINT"]
    assert batch_deployment["model"] == f"azureml:{settings['MODEL_NAME']}@latest"
    job = spec(project, second, "aml_config/train-amlcompute.yml")
    assert job["environment"] == f"azureml:{environment['name']}@latest"
    assert job["experiment_name"] == f"{slug}-{second}"
    assert job["tags"] == {"project": slug, "model": second}


def test_both_models_validate_and_are_listed(two_model_project, project_python):
    env = project_env(project_python)
    project = two_model_project.path
    result = run([project_python, "-m", "mlops", "validate"], cwd=project, env=env)
    assert "no problems" in result.stderr
    listed = run(["make", "--silent", "models"], cwd=project, env=env).stdout.split()
    assert listed == sorted(["model1", two_model_project.second_model])


def test_model_targets_take_the_model_and_keep_its_outputs_apart(two_model_project):
    project, second = two_model_project.path, two_model_project.second_model
    settings = model_variables(project, second)
    commands = {
        target: run(["make", "--dry-run", target, f"MODEL={second}"], cwd=project).stdout
        for target in (
            "train-local",
            "score-local",
            "apply",
            "train-remote",
            "register",
            "deploy-staging",
            "promote",
            "deploy-production",
        )
    }
    assert f"--output-dir outputs/{second}/model" in commands["train-local"]
    assert (
        f"--entry-script models/{second}/score.py --model-dir outputs/{second}/model"
        in commands["score-local"]
    )
    assert f"models/{second}/aml_config/environment.yml" in commands["apply"]
    assert f"--metadata-out outputs/{second}/run.json" in commands["train-remote"]
    assert f"models/{second}/aml_config/train-pipeline.yml" in commands["train-remote"]
    sweep = run(
        ["make", "--dry-run", "train-remote", f"MODEL={second}", "TRAIN_JOB=sweep"], cwd=project
    ).stdout
    assert f"mlops --env dev train models/{second}/aml_config/sweep.yml" in sweep
    assert f"--name {settings['MODEL_NAME']}" in commands["register"]
    assert f"--metadata-out outputs/{second}/model.json" in commands["register"]
    assert f"--endpoint-name {settings['STAGING_ENDPOINT']}" in commands["deploy-staging"]
    assert f"--model-metadata outputs/{second}/model.json" in commands["deploy-staging"]
    assert f"--model-metadata outputs/{second}/model.json" in commands["promote"]
    assert f"--metadata-out outputs/{second}/promoted.json" in commands["promote"]
    production = commands["deploy-production"]
    assert f"--model-metadata outputs/{second}/promoted.json" in production
    assert "mlops --env prod deploy" in production


@pytest.mark.parametrize("model", ["nope", "model1 churn-v2", "../model1"])
def test_a_model_target_refuses_what_is_not_one_model(two_model_project, model):
    result = subprocess.run(
        ["make", "--dry-run", "train-remote", f"MODEL={model}"],
        cwd=two_model_project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f'MODEL="{model}"' in result.stderr and "models: churn-v2 model1" in result.stderr


def test_a_version_to_deploy_reaches_mlops_as_a_variable_not_as_command_text(two_model_project):
    hostile = 'x:1"; touch pwned; echo "'
    dry_run = run(
        ["make", "--dry-run", "deploy-production", "MODEL=model1", f"MODEL_REF={hostile}"],
        cwd=two_model_project.path,
    ).stdout
    assert '--model "$MODEL_REF"' in dry_run and hostile not in dry_run


def run_step(project: Path, project_python: Path, script: str, env: dict) -> str:
    """A CI/CD step's shell script, run in the project as the runner would run it."""
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env={**project_env(project_python), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def github_models_step(two_model_project) -> str:
    jobs = load_workflow(two_model_project.path / ".github/workflows/train.yml")["jobs"]
    (step,) = [s for s in jobs["models"]["steps"] if s.get("id") == "models"]
    return step["run"]


def github_matrix(project: Path, project_python: Path, script: str, env: dict, tmp_path) -> list:
    output = tmp_path / "github-output"
    output.write_text("", encoding="utf-8")
    run_step(project, project_python, script, {**env, "GITHUB_OUTPUT": str(output)})
    (line,) = output.read_text(encoding="utf-8").splitlines()
    name, _, value = line.partition("=")
    assert name == "models"
    return json.loads(value)


def test_a_push_trains_the_models_it_changed_on_github(
    two_model_project, project_python, github_models_step, tmp_path
):
    project = two_model_project.path
    pushed = {"SELECTION": "changed", "BEFORE": two_model_project.base}
    matrix = github_matrix(project, project_python, github_models_step, pushed, tmp_path)
    assert matrix == [two_model_project.second_model]

    by_hand = {"SELECTION": "model1", "BEFORE": ""}
    assert github_matrix(project, project_python, github_models_step, by_hand, tmp_path) == [
        "model1"
    ]

    first_push = {"SELECTION": "changed", "BEFORE": "0" * 40}
    matrix = github_matrix(project, project_python, github_models_step, first_push, tmp_path)
    assert matrix == sorted(["model1", two_model_project.second_model])


def test_a_change_to_a_shared_part_trains_every_model(two_model_project, project_python, tmp_path):
    """On a copy with one more commit, changing aml/compute.yml."""
    project = Path(tmp_path / "copy")
    git(two_model_project.path, "clone", "--quiet", str(two_model_project.path), str(project))
    head = git(project, "rev-parse", "HEAD").strip()
    compute = project / "aml/compute.yml"
    compute.write_text(compute.read_text(encoding="utf-8") + "# bigger nodes\n", "utf-8")
    git(project, "commit", "--quiet", "--all", "--message", "change the cluster")
    env = project_env(project_python)
    listed = run(
        [project_python, "-m", "mlops", "models", "--select", "changed", "--changed-since", head],
        cwd=project,
        env=env,
    ).stdout
    assert json.loads(listed) == sorted(["model1", two_model_project.second_model])


def test_azure_devops_compiles_stages_for_each_model(two_model_project, project_python):
    project = two_model_project.path
    pipeline = load_pipeline(project / ".azure-pipelines/train-deploy.yml")
    stages = {stage["stage"]: stage for stage in pipeline["stages"]}
    second = two_model_project.second_model
    assert list(stages) == ["CI", "Models", *model_stage_ids("model1"), *model_stage_ids(second)]
    for model in ("model1", second):
        check_model_stages(stages, model)

    (select,) = [s for s in all_steps(stages["Models"]) if "mlops models" in script_of(s)]
    output = run_step(project, project_python, select["bash"], {"SELECTION": "changed"})
    assert output.strip() == f"##vso[task.setvariable variable=list;isOutput=true],{second},"


def test_each_models_flow_on_azure_devops_is_train_staging_approval_promote_production(
    two_model_project,
):
    """Each model's own stages, with the CI and Models stages before them, make the whole flow,
    signed in as dev then prod, for that model only."""
    project = two_model_project.path
    events = azure_devops_flow(project)
    identity_of = azure_devops_identity_of(project)
    for model in ("model1", two_model_project.second_model):
        own = {"CI", "Models", *model_stage_ids(model)}
        model_events = [e for e in events if e.job.split("/")[0] in own]
        check_flow(project, model_events, identity_of, FLOW_STAGES)
        for event in model_events:
            if event.kind == "make" and event.name in MODEL_TARGETS:
                assert event.env["MODEL"] == model, (model, event)


@pytest.mark.parametrize(
    ("bake_id", "rules"),
    [("long-name-gpu-region", NAMES_BY_RULE), ("batch-only", BATCH_NAMES_BY_RULE)],
)
def test_an_added_model_gets_endpoint_names_that_fit_in_a_long_named_project(
    baked_project, project_python, tmp_path, bake_id, rules
):
    baked = baked_project(bake_id)
    assert len(baked.answers["project_slug"]) > 30, "a long name is the point"
    project = add_second_model(baked, project_python, tmp_path)
    settings = model_variables(project.path, project.second_model)
    longest = "m" * 16
    run(
        ["make", "add-model", f"NAME={longest}", f"PYTHON={project_python}"],
        cwd=project.path,
        env=project_env(project_python),
    )
    for model_settings_of in (settings, model_variables(project.path, longest)):
        for name, rule in {"MODEL_NAME": pre_gen.check_model_name, **rules}.items():
            assert rule(model_settings_of[name]) is None, f"{name}={model_settings_of[name]}"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Upsell", 'NAME: "Upsell" must be 1 to 16 lowercase letters'),
        ("m" * 17, f'NAME: "{"m" * 17}" must be 1 to 16'),
        ("a/b", 'NAME: "a/b" must be'),
        ("model1", "NAME: 'model1' is taken: models/model1 exists"),
        ("changed", "NAME: 'changed' is reserved"),
        ("", 'NAME: "" must be'),
    ],
)
def test_a_bad_or_taken_name_is_refused_and_nothing_changes(
    two_model_project, project_python, name, message
):
    project = two_model_project.path
    result = subprocess.run(
        ["make", "add-model", f"NAME={name}", f"PYTHON={project_python}"],
        cwd=project,
        env={**project_env(project_python), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("mlops: ")]
    assert line.startswith(f"mlops: {message}"), line
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_pipelines_list_the_models_by_name_not_by_text(two_model_project):
    """The Azure DevOps stage entries, as `make add-model` appended one, parse as YAML entries."""
    pipeline = yaml.safe_load(
        (two_model_project.path / ".azure-pipelines/train-deploy.yml").read_text("utf-8")
    )
    entries = [s for s in pipeline["stages"] if s.get("template") == "templates/model-stages.yml"]
    assert [entry["parameters"]["model"] for entry in entries] == [
        "model1",
        two_model_project.second_model,
    ]


@pytest.mark.parametrize(
    ("model", "rule"),
    [
        ("%", "is not a model of this project"),
        ("model%", "is not a model of this project"),
        ("model1 churn-v2", "must be one name"),
        ("", "must be one name"),
        ("model1; touch pwned", "must be one name"),
        ("nope", "is not a model of this project"),
    ],
)
def test_a_model_target_refuses_anything_but_one_model_before_running_anything(
    default_project, model, rule
):
    dry_run = subprocess.run(
        ["make", "--dry-run", "train-local", f"MODEL={model}"],
        cwd=default_project,
        capture_output=True,
        text=True,
    )

    assert dry_run.returncode != 0
    assert "train.py" not in dry_run.stdout
    assert f'MODEL="{model}" {rule} (models: model1)' in dry_run.stderr
