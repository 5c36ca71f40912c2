"""The ``mlops`` command line: options and output only; the work is in the modules it calls."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlops.errors import (
    EXIT_BAD_INPUT,
    INTERRUPTED,
    Interrupted,
    MlopsError,
    from_azure_exception,
)
from mlops.output import command_output, configure_logging, emit, emit_json, say

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
OUTPUT_FILE = click.Path(dir_okay=False, writable=True, path_type=Path)
MODEL_LIST_FORMATS = {
    "json": json.dumps,
    "github": lambda names: "models=" + json.dumps(names),
    # One output variable; stages test it with contains(..., ',<model>,').
    "azure-devops": lambda names: (
        "##vso[task.setvariable variable=list;isOutput=true],"
        + "".join(f"{name}," for name in names)
    ),
}
# What `mlops --env` reads when it is not given.
ENVIRONMENT_VARIABLE = "MLOPS_ENV"
METADATA_OUT = click.option(
    "--metadata-out", type=OUTPUT_FILE, help="Write run metadata JSON here."
)
REGISTRY_OPTION = click.option(
    "--registry",
    metavar="NAME",
    help="Deploy this Azure ML registry's version (after mlops promote), not the workspace's.",
)
DRY_RUN = click.option(
    "--dry-run",
    is_flag=True,
    help="Print the REST requests as JSON instead of sending them; needs no credentials.",
)


class MlopsCommand(click.Command):
    """A command whose stdout carries only its result; all it and the SDKs print else goes to
    stderr (mlops.output.command_output). Its --help, printed before it runs, is not affected."""

    def invoke(self, ctx: click.Context):
        with command_output():
            return super().invoke(ctx)


class MlopsGroup(click.Group):
    """Turns errors into one line on stderr and the contract's exit code."""

    command_class = MlopsCommand

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MlopsError as exc:
            fail(ctx, exc)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            fail(ctx, Interrupted(INTERRUPTED))
        except Exception as exc:
            translated = from_azure_exception(exc)
            if translated is None:
                raise
            fail(ctx, translated)


def fail(ctx: click.Context, error: MlopsError) -> None:
    say(f"mlops: {error}")
    ctx.exit(error.exit_code)


def client():
    from mlops.workspace import ml_client

    return ml_client()


def project_root() -> Path:
    """The nearest folder upwards holding pyproject.toml, else the current folder."""
    here = Path.cwd()
    return next((d for d in (here, *here.parents) if (d / "pyproject.toml").is_file()), here)


@click.group(cls=MlopsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--verbose", is_flag=True, help="Show the credential and the Azure SDKs' log on stderr."
)
@click.option(
    "--env",
    "environment",
    envvar=ENVIRONMENT_VARIABLE,
    metavar="dev|prod",
    help="Work in this environment of pyproject.toml [tool.mlops.environments] (or MLOPS_ENV).",
)
def main(verbose: bool, environment: str | None) -> None:
    """Operations on this project's Azure Machine Learning workspaces.

    Exit codes: 0 done; 1 an Azure operation failed or a gate refused; 2 bad input or an invalid
    spec; 130 interrupted. The workspace comes from the environment --env names (dev or prod in
    pyproject.toml), completed by AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and
    AZUREML_WORKSPACE_NAME (or config.json); without --env, from those alone. Credentials come
    from DefaultAzureCredential, or in GitHub Actions with AZURE_CLIENT_ID and AZURE_TENANT_ID
    set, from a fresh OIDC token at each sign-in. `mlops doctor` shows which.
    """
    from mlops.workspace import PYPROJECT, choose_environment

    configure_logging(verbose)
    choose_environment(environment, project_root() / PYPROJECT)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on warnings too (an input no command uses).")
def validate(paths: tuple[Path, ...], strict: bool) -> None:
    """Check Azure ML specs offline (default: every spec in the project).

    Each YAML file with a $schema line is loaded with azure-ai-ml, then checked for what Azure ML
    would refuse: names, links to other specs, ${...} expressions, the scripts its commands run,
    documented limits, the local files and conda files it names. Prints one line per problem
    (file: field: message); warnings go to stderr and fail only with --strict.
    """
    from mlops.validate import validate as run_validation

    root = project_root()
    report = run_validation(list(paths) or [root], root)
    problems = report.problems + (report.warnings if strict else [])
    for problem in problems:
        emit(str(problem))
    for warning in [] if strict else report.warnings:
        say(f"warning: {warning}")
    checked = f"{report.specs} specs, {len(report.conda_files)} conda files"
    if problems:
        say(f"mlops: {len(problems)} problems in {checked}")
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    if report.specs == 0:
        say("mlops: no Azure ML specs found (YAML files with a $schema line)")
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    warned = f", {len(report.warnings)} warnings" if report.warnings else ""
    say(f"checked {checked}: no problems{warned}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=EXISTING_FILE)
@DRY_RUN
def apply(files: tuple[Path, ...], dry_run: bool) -> None:
    """Create or update compute, environments, data, models and endpoints from their specs."""
    from mlops import apply as assets

    emit_json(assets.dry_run(files) if dry_run else assets.apply(client(), files))


@main.command()
@click.argument("spec", type=EXISTING_FILE)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a spec field.")
@click.option("--experiment", metavar="NAME", help="Experiment to file the job under.")
@click.option(
    "--wait",
    is_flag=True,
    help="Wait, showing the log (a pipeline's steps, a sweep's trials); fail unless the job "
    "Completed. After Ctrl-C: mlops wait JOB.",
)
@METADATA_OUT
@DRY_RUN
def train(
    spec: Path,
    sets: tuple[str, ...],
    experiment: str | None,
    wait: bool,
    metadata_out: Path | None,
    dry_run: bool,
) -> None:
    """Submit a training job spec: a command job, a pipeline or a sweep."""
    from mlops import train as jobs

    job = jobs.load_job(spec, sets, experiment)
    if dry_run:
        emit_json(jobs.dry_run(job))
    else:
        emit_json(jobs.submit(client(), job, wait, metadata_out))


@main.command()
@click.argument("job_name", metavar="JOB")
@METADATA_OUT
def wait(job_name: str, metadata_out: Path | None) -> None:
    """Follow a submitted job until it ends, showing its log or progress; fail unless it Completed.

    What `train --wait` does after submitting: use it to follow a job again after Ctrl-C, or
    from a later pipeline step.
    """
    from mlops import train as jobs

    emit_json(jobs.wait(client(), job_name, metadata_out))


@main.command()
@click.argument("job_name", metavar="JOB")
def cancel(job_name: str) -> None:
    """Cancel a submitted job."""
    from mlops import train as jobs

    emit_json(jobs.cancel(client(), job_name))


@main.command()
@click.option("--run-metadata", required=True, type=EXISTING_FILE, help="From mlops train.")
@click.option("--name", required=True, help="Registered model name.")
@click.option("--path", metavar="OUTPUT[/SUBPATH]|URI", help="Job output holding the model.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE")
@click.option("--min-metric", "min_metrics", multiple=True, metavar="NAME=VALUE")
@click.option("--compare-production", metavar="METRIC", help="Must beat stage=production.")
@click.option("--metrics-file", type=EXISTING_FILE, help="Gate on this metrics JSON instead.")
@click.option("--metadata-out", type=OUTPUT_FILE, help="Write model metadata JSON here.")
@DRY_RUN
def register(
    run_metadata: Path,
    name: str,
    path: str | None,
    tags: tuple[str, ...],
    properties: tuple[str, ...],
    min_metrics: tuple[str, ...],
    compare_production: str | None,
    metrics_file: Path | None,
    metadata_out: Path | None,
    dry_run: bool,
) -> None:
    """Register the model of a finished job, if it passes the gate.

    After a pipeline whose register step registered the model, adopt that version (or its refusal)
    instead of registering another.
    """
    from mlops import register as models
    from mlops.metadata import read_run_metadata

    registration = models.build_registration(
        read_run_metadata(run_metadata),
        name,
        path,
        tags,
        properties,
        min_metrics,
        compare_production,
    )
    if dry_run:
        emit_json(models.dry_run(registration, metrics_file))
    else:
        emit_json(models.register(client(), registration, metrics_file, metadata_out))


@main.command()
@click.option("--endpoint", "endpoint_spec", required=True, type=EXISTING_FILE)
@click.option("--deployment", "deployment_spec", required=True, type=EXISTING_FILE)
@click.option("--model", metavar="NAME:VERSION", help="Model version to deploy.")
@click.option("--model-metadata", type=EXISTING_FILE, help="From mlops register or promote.")
@REGISTRY_OPTION
@click.option("--endpoint-name", metavar="NAME", help="Deploy to this endpoint instead.")
@click.option("--smoke-request", type=EXISTING_FILE, help="Request the new deployment must answer.")
@click.option("--traffic-steps", default="100", show_default=True, metavar="10,50,100")
@click.option("--step-wait", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--stage", metavar="STAGE", help="Tag the model version stage=STAGE when done.")
@click.option("--current-traffic", metavar="blue=100", help="Dry run: assume this live traffic.")
@DRY_RUN
def deploy(
    endpoint_spec: Path,
    deployment_spec: Path,
    model: str | None,
    model_metadata: Path | None,
    registry: str | None,
    endpoint_name: str | None,
    smoke_request: Path | None,
    traffic_steps: str,
    step_wait: int,
    stage: str | None,
    current_traffic: str | None,
    dry_run: bool,
) -> None:
    """Blue/green rollout of a model version on a managed online endpoint."""
    from mlops import deploy as rollout
    from mlops.rollout import parse_traffic_steps

    steps = parse_traffic_steps(traffic_steps)
    target = rollout.load_target(
        endpoint_spec,
        deployment_spec,
        endpoint_name,
        rollout.model_to_deploy(model, model_metadata, registry),
        smoke_request,
    )
    if dry_run:
        emit_json(rollout.dry_run(target, current_traffic, steps, step_wait))
    else:
        if current_traffic is not None:
            raise click.UsageError("--current-traffic only applies to --dry-run")
        emit_json(rollout.deploy(client(), target, steps, step_wait, stage))


@main.command()
@click.option("--model", metavar="NAME:VERSION", help="Registered version in the workspace.")
@click.option("--model-metadata", type=EXISTING_FILE, help="From mlops register.")
@click.option("--registry", required=True, metavar="NAME", help="Azure ML registry to share into.")
@click.option(
    "--min-metric",
    "min_metrics",
    multiple=True,
    metavar="NAME=VALUE",
    help="The gate the version must have passed: its recorded metric reaches VALUE.",
)
@click.option("--metadata-out", type=OUTPUT_FILE, help="Write the promoted model's metadata here.")
@DRY_RUN
def promote(
    model: str | None,
    model_metadata: Path | None,
    registry: str,
    min_metrics: tuple[str, ...],
    metadata_out: Path | None,
    dry_run: bool,
) -> None:
    """Share a model version that passed its gate and staging into a registry, for production.

    Refused (exit 1), with the reasons, when the version records no gated metric or one below its
    minimum, or was never deployed to staging (no tag stage=staging). Production then deploys it
    with `mlops deploy --registry NAME --model-metadata` of what --metadata-out wrote.
    """
    from mlops import promote as promotion
    from mlops.deploy import model_to_deploy

    chosen = promotion.build_promotion(
        model_to_deploy(model, model_metadata), registry, min_metrics
    )
    if dry_run:
        emit_json(promotion.dry_run(chosen))
    else:
        emit_json(promotion.promote(client(), chosen, metadata_out))


@main.command(name="deploy-batch")
@click.option("--endpoint", "endpoint_spec", required=True, type=EXISTING_FILE)
@click.option("--deployment", "deployment_spec", required=True, type=EXISTING_FILE)
@click.option("--model", metavar="NAME:VERSION", help="Model version to deploy.")
@click.option("--model-metadata", type=EXISTING_FILE, help="From mlops register or promote.")
@REGISTRY_OPTION
@click.option("--endpoint-name", metavar="NAME", help="Deploy to this endpoint instead.")
@click.option(
    "--smoke-input",
    required=True,
    metavar="FOLDER|azureml:NAME@latest",
    help="What the smoke job scores: a local folder (uploaded) or a data asset.",
)
@click.option("--stage", metavar="STAGE", help="Tag the model version stage=STAGE when done.")
@click.option(
    "--current-default",
    metavar="NAME",
    help="Dry run: assume the endpoint exists with this default.",
)
@DRY_RUN
def deploy_batch(
    endpoint_spec: Path,
    deployment_spec: Path,
    model: str | None,
    model_metadata: Path | None,
    registry: str | None,
    endpoint_name: str | None,
    smoke_input: str,
    stage: str | None,
    current_default: str | None,
    dry_run: bool,
) -> None:
    """A model version on a batch endpoint: the new deployment becomes the default only after a
    smoke job on it Completed; otherwise the default stays and the command fails (exit 1)."""
    from mlops import batch
    from mlops.deploy import model_to_deploy

    target = batch.load_target(
        endpoint_spec,
        deployment_spec,
        endpoint_name,
        model_to_deploy(model, model_metadata, registry),
        smoke_input,
    )
    if dry_run:
        emit_json(batch.dry_run_batch(target, current_default))
    else:
        if current_default is not None:
            raise click.UsageError("--current-default only applies to --dry-run")
        emit_json(batch.deploy_batch(client(), target, stage))


@main.command(name="invoke-batch")
@click.option("--endpoint", required=True, metavar="NAME", help="Batch endpoint name.")
@click.option(
    "--input",
    "input_text",
    required=True,
    metavar="FOLDER|FILE|azureml:NAME@latest",
    help="What to score: a local folder or file (uploaded) or a data asset.",
)
@click.option("--deployment", metavar="NAME", help="Use this deployment instead of the default.")
@click.option("--wait", is_flag=True, help="Wait until the job ends; fail unless it Completed.")
@click.option(
    "--download",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="FOLDER",
    help="With --wait: download the job's predictions file into FOLDER.",
)
@DRY_RUN
def invoke_batch(
    endpoint: str,
    input_text: str,
    deployment: str | None,
    wait: bool,
    download: Path | None,
    dry_run: bool,
) -> None:
    """Start a batch scoring job on a batch endpoint."""
    from mlops import batch

    batch.check_invoke_options(endpoint, deployment, wait, download)
    batch.check_batch_input("--input", input_text)
    if dry_run:
        emit_json(batch.dry_run_invoke(endpoint, deployment, input_text))
    else:
        emit_json(batch.invoke_batch(client(), endpoint, deployment, input_text, wait, download))


@main.command()
@click.option("--endpoint", required=True, metavar="NAME", help="Online endpoint name.")
@click.option("--request", required=True, type=EXISTING_FILE, help="JSON request file.")
@click.option("--deployment", metavar="NAME", help="Call this deployment, whatever the traffic.")
@DRY_RUN
def invoke(endpoint: str, request: Path, deployment: str | None, dry_run: bool) -> None:
    """Call a deployed online endpoint."""
    from mlops import invoke as endpoints

    endpoints.check_names(endpoint, deployment)
    if dry_run:
        emit_json(endpoints.dry_run(endpoint, request, deployment))
    else:
        emit(endpoints.invoke(client(), endpoint, request, deployment))


@main.command()
def doctor() -> None:
    """Show which settings, credentials and tools the Azure commands can use here (in the
    environment of --env: what it lacks)."""
    from mlops.doctor import findings, report

    lines, ready = report(findings())
    for line in lines:
        emit(line)
    if not ready:
        raise click.exceptions.Exit(EXIT_BAD_INPUT)


@main.command(name="models")
@click.option(
    "--select",
    "selection",
    default="all",
    show_default=True,
    metavar="changed|all|NAME",
    help="changed: the models a change since --changed-since concerns; all; or one model.",
)
@click.option("--changed-since", metavar="REF", help="The commit to compare with (for changed).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(MODEL_LIST_FORMATS),
    default="json",
    show_default=True,
    help="json: a list; github: a `models=<list>` output line; azure-devops: an output variable.",
)
def list_models(selection: str, changed_since: str | None, output_format: str) -> None:
    """List the project's models (the folders of models/), for CI/CD matrices."""
    from mlops import models

    names, why = models.select_models(project_root(), selection, changed_since)
    say(f"{why}: {', '.join(names) or 'no model'}")
    emit(MODEL_LIST_FORMATS[output_format](names))


@main.command(name="add-model")
@click.argument("name")
def add_model(name: str) -> None:
    """Add models/NAME from model_template/, with its own names in Azure ML."""
    from mlops import models

    added = models.add_model(project_root(), name)
    say(f"added {added['folder']}: train it with `make train-local MODEL={name}`")
    emit_json(added)
