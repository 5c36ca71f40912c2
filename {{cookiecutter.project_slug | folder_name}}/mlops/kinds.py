"""The kinds of Azure ML spec mlops knows: one entry each, holding everything that handles the kind.

Adding a kind is one entry in KINDS (docs/adding-an-asset-kind.md); tests/test_kinds.py checks
that every entry has all it needs: its loaders exist in azure-ai-ml, its MLClient operations and
its dry-run request builder exist, its naming rules are rules of mlops.naming, its links name kinds.
The documented limits of its fields are in mlops.limits.

References to code are by name, resolved when used, so that this table imports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Where the load functions of azure-ai-ml live (not all of them are exported from azure.ai.ml).
LOADERS_MODULE = "azure.ai.ml.entities._load_functions"
ENDPOINT_NAMES = {"name": "endpoint"}
DEPLOYMENT_NAMES = {"name": "endpoint", "endpoint_name": "endpoint"}
# Where a job or component declares inputs and outputs that ${...} expressions refer to: the spec
# itself and each step of a pipeline (whose parent is the spec).
JOB_SCOPES = ("", "jobs.*")
# Where a job or component has a `command` run in the `code` folder beside it.
JOB_COMMANDS = ("", "trial", "jobs.*")


@dataclass(frozen=True)
class Link:
    """What a spec field names: a spec of one of ``kinds`` in this project, an asset of an Azure ML
    registry (``azureml://registries/...``), one of ``builtin`` (names or ``*`` patterns) that
    always exist, or an asset declared external in pyproject.toml.

    A value starting with ``azureml:`` is a name (a ``:version`` or ``@label`` after it aside).
    Without it, a value is a name when ``bare_names``; a spec file when ``spec_files``; otherwise
    a local path, which the path checks of mlops.validate look at.
    """

    kinds: tuple[str, ...]
    bare_names: bool = False
    spec_files: bool = False
    builtin: tuple[str, ...] = ()


COMPUTE = Link(("compute",), bare_names=True, builtin=("local", "serverless"))
# Curated environments: AzureML-sklearn-1.5, AzureML-pytorch-2.2-cuda12, ...
ENVIRONMENT = Link(("environment",), builtin=("AzureML-*",))
# azureml:<name>@latest of an input: a data asset, or a model for model-typed inputs.
ASSET = Link(("data", "model"))
MODEL = Link(("model",))
COMPONENT = Link(("component",), spec_files=True)
JOB_LINKS = {
    "compute": COMPUTE,
    "environment": ENVIRONMENT,
    "inputs.*.path": ASSET,
    "trial.environment": ENVIRONMENT,
    "settings.default_compute": COMPUTE,
    "jobs.*.compute": COMPUTE,
    "jobs.*.environment": ENVIRONMENT,
    "jobs.*.component": COMPONENT,
    "jobs.*.inputs.*.path": ASSET,
}


@dataclass(frozen=True)
class Kind:
    """One kind of spec.

    ``schemas``: the ``$schema`` file names of the kind (``<name>.schema.json``), each with the
    azure-ai-ml function that loads it. ``applied``: ``mlops apply`` creates or updates it, in the
    order of KINDS, through ``operations`` (an MLClient attribute): ``create_or_update`` for a
    ``versioned`` asset (a new version only when its content changed), else ``creator``
    (``begin_create_or_update`` unless the operations name it otherwise), waited for.
    Otherwise ``command`` names the mlops command that handles it, or ``hint`` says what to use.
    ``request_builder``: the function of mlops.payloads that shows it in a dry run.
    ``named_fields``: spec field -> rule of mlops.naming.
    ``links``: spec field (dotted, ``*`` for any key) -> the Link saying what it names.
    ``scopes``: the fields (as in ``links``; ``""`` the spec itself) that declare ``inputs`` and
    ``outputs`` for the ``${...}`` expressions within them; a scope below another is a pipeline
    step, whose ``parent`` is the scope above. ``commands``: the fields (as in ``scopes``) that
    hold a ``command`` run in the ``code`` folder beside it.
    """

    name: str
    title: str
    schemas: Mapping[str, str]
    operations: str | None = None
    applied: bool = False
    versioned: bool = False
    creator: str = "begin_create_or_update"
    command: str | None = None
    hint: str | None = None
    request_builder: str | None = None
    named_fields: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, Link] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    keeps_live_traffic: bool = False

    def elsewhere(self) -> str:
        """What handles this kind, for a command that does not."""
        return f"use `mlops {self.command}`" if self.command else str(self.hint)


# In the order `mlops apply` creates them: each after what it may refer to.
KINDS = (
    Kind(
        name="registry",
        title="registry",
        schemas={"registry": "load_registry"},
        operations="registries",
        applied=True,
        # A registry is created or updated by the same PUT.
        creator="begin_create",
        request_builder="registry_requests",
        named_fields={"name": "registry"},
    ),
    Kind(
        name="compute",
        title="compute",
        schemas={
            "amlCompute": "load_compute",
            "computeInstance": "load_compute",
            "kubernetesCompute": "load_compute",
        },
        operations="compute",
        applied=True,
        request_builder="compute_requests",
        named_fields={"name": "compute"},
    ),
    Kind(
        name="environment",
        title="environment",
        schemas={"environment": "load_environment"},
        operations="environments",
        applied=True,
        versioned=True,
        request_builder="environment_requests",
        named_fields={"name": "asset"},
    ),
    Kind(
        name="data",
        title="data asset",
        schemas={"data": "load_data"},
        operations="data",
        applied=True,
        versioned=True,
        request_builder="data_requests",
        named_fields={"name": "asset"},
    ),
    Kind(
        name="model",
        title="model",
        schemas={"model": "load_model"},
        operations="models",
        applied=True,
        versioned=True,
        request_builder="model_requests",
        named_fields={"name": "asset"},
    ),
    Kind(
        name="online_endpoint",
        title="online endpoint",
        schemas={
            "managedOnlineEndpoint": "load_online_endpoint",
            "kubernetesOnlineEndpoint": "load_online_endpoint",
        },
        operations="online_endpoints",
        applied=True,
        request_builder="online_endpoint_requests",
        named_fields=ENDPOINT_NAMES,
        keeps_live_traffic=True,
    ),
    Kind(
        name="batch_endpoint",
        title="batch endpoint",
        schemas={"batchEndpoint": "load_batch_endpoint"},
        operations="batch_endpoints",
        applied=True,
        request_builder="batch_endpoint_requests",
        named_fields=ENDPOINT_NAMES,
        # Its live traffic is its default deployment, which mlops deploy-batch sets.
        keeps_live_traffic=True,
    ),
    Kind(
        name="batch_deployment",
        title="batch deployment",
        schemas={
            "batchDeployment": "load_batch_deployment",
            # Specs with a `settings:` block, which load_batch_deployment refuses.
            "modelBatchDeployment": "load_model_batch_deployment",
            "pipelineComponentBatchDeployment": "load_pipeline_component_batch_deployment",
        },
        operations="batch_deployments",
        command="deploy-batch",
        request_builder="batch_deployment_requests",
        named_fields=DEPLOYMENT_NAMES,
        links={
            "endpoint_name": Link(("batch_endpoint",), bare_names=True),
            "model": MODEL,
            "environment": ENVIRONMENT,
            "compute": COMPUTE,
            "component": COMPONENT,
        },
    ),
    Kind(
        name="job",
        title="job",
        schemas={
            "commandJob": "load_job",
            "sweepJob": "load_job",
            "pipelineJob": "load_job",
            "sparkJob": "load_job",
        },
        operations="jobs",
        command="train",
        request_builder="job_requests",
        named_fields={"name": "asset", "experiment_name": "experiment"},
        links=JOB_LINKS,
        scopes=JOB_SCOPES,
        commands=JOB_COMMANDS,
    ),
    Kind(
        name="online_deployment",
        title="online deployment",
        schemas={
            "managedOnlineDeployment": "load_online_deployment",
            "kubernetesOnlineDeployment": "load_online_deployment",
        },
        operations="online_deployments",
        command="deploy",
        request_builder="online_deployment_requests",
        named_fields=DEPLOYMENT_NAMES,
        links={
            "endpoint_name": Link(("online_endpoint",), bare_names=True),
            "model": MODEL,
            "environment": ENVIRONMENT,
        },
    ),
    Kind(
        name="workspace",
        title="workspace",
        schemas={"workspace": "load_workspace"},
        hint="create the workspace once with `az ml workspace create --file aml/workspace.yml`",
    ),
    Kind(
        name="component",
        title="component",
        schemas={
            "commandComponent": "load_component",
            "pipelineComponent": "load_component",
            "parallelComponent": "load_component",
        },
        versioned=True,
        hint="mlops does not create components yet: `az ml component create --file` does",
        links=JOB_LINKS,
        scopes=JOB_SCOPES,
        commands=JOB_COMMANDS,
    ),
    Kind(
        name="datastore",
        title="datastore",
        schemas={
            "azureBlob": "load_datastore",
            "azureFile": "load_datastore",
            "azureDataLakeGen1": "load_datastore",
            "azureDataLakeGen2": "load_datastore",
        },
        hint="mlops does not create datastores yet: `az ml datastore create --file` does",
    ),
    Kind(
        name="schedule",
        title="schedule",
        schemas={"schedule": "load_schedule"},
        operations="schedules",
        applied=True,
        request_builder="schedule_requests",
        named_fields={"name": "asset"},
        links={
            "create_job": Link(("job",), spec_files=True),
            # A model monitor: the online endpoint it watches (azureml:<endpoint>:<deployment>;
            # mlops.monitors checks the deployment) and the data assets of its signals.
            "create_monitor.monitoring_target.endpoint_deployment_id": Link(("online_endpoint",)),
            "create_monitor.monitoring_signals.*.reference_data.input_data.path": Link(("data",)),
            "create_monitor.monitoring_signals.*.production_data.input_data.path": Link(("data",)),
        },
    ),
)
BY_NAME = {kind.name: kind for kind in KINDS}
BY_SCHEMA = {schema: kind for kind in KINDS for schema in kind.schemas}
APPLIED = tuple(kind for kind in KINDS if kind.applied)


def kind_named(name: str) -> Kind:
    return BY_NAME[name]


def kind_of_schema_file(schema_file: str) -> Kind | None:
    """The kind whose specs start with ``$schema: .../<schema_file>.schema.json``, or None."""
    return BY_SCHEMA.get(schema_file)


def apply_order(kind: Kind) -> int:
    return APPLIED.index(kind)
