"""Every rule of the pre-generation hook, with values it accepts and values it refuses, called
directly from the hook file; and the filters that derive the default names."""

from __future__ import annotations

import re

import pytest

from hook_modules import model_post_gen, model_pre_gen, post_gen, pre_gen
from local_extensions import shared
from locations import DOCS_DIR
from matrix import TEMPLATE_CONTEXT

ACCEPTED = {
    "project_name": [
        "Churn",
        'Q&A: "quotes" # {{ x }} ${{ y }}',
        "Prévision des ventes 😀",
        "x" * 200,
    ],
    "description": ["- leading dash", "key: value", "|", "* alias"],
    "author": ["Zoë O'Brien", "Team <team@example.com>"],
    "project_slug": ["churn", "customer-churn-2", "a", "a" * 40],
    "python_version": ["3.11", "3.12"],
    "azure_location": ["westeurope", "eastus2", "swedencentral", "usgovvirginia"],
    "resource_group": ["rg-churn", "RG_Churn.(prod)", "r", "a" * 90],
    "workspace_name": ["mlw", "mlw-churn_01", "1ws", "w" * 33],
    "prod_resource_group": ["rg-churn-prod", "RG_Prod.(1)"],
    "prod_workspace_name": ["mlw-churn-prod", "1ws"],
    "registry_name": ["reg-churn", "Reg_01", "r" * 33],
    "compute_name": ["cpu-cluster", "cpu", "gpu-a100-x", "c" * 24, "cluster1"],
    "vm_size": ["Standard_DS3_v2", "standard_nc6s_v3", "Standard_NC24ads_A100_v4", "Basic_A1"],
    "max_nodes": ["1", "4", "100"],
    "experiment_name": ["churn", "Churn_exp-1", "1", "e" * 256],
    "model_name": ["churn-model", "Model_1", "m" * 255],
    "online_endpoint_name": ["churn-abcde", "Abc", "a1-b2-c3", "e" * 32],
    "staging_endpoint_name": ["churn-stg-abcde", "stg"],
    "ci_provider": ["github-actions", "azure-devops", "both", "none"],
    "deployment": ["online", "batch", "both", "none"],
    "retrain_cron": ["0 3 * * 1", "*/15 * * * *", "30 2 1,15 * 1-5", "0 0 * 1-12/3 0"],
    "alert_email": [
        "ml-alerts@example.com",
        "first.last+churn@mail.contoso.co.uk",
        "ops_team%1@x-y.io",
        "a@b.cd",
        "A" * 64 + "@example.com",
    ],
}

REFUSED = {
    "project_name": ["", "   ", "two\nlines", "tab\there", "x" * 201],
    "description": ["", "line\rbreak", "bell\x07", "non\uffffcharacter", "unassigned\U000e0080"],
    "author": ["", "del\x7f", "next\x85line", "line\u2028separator"],
    "project_slug": [
        "",
        "Churn",
        "my project",
        "1churn",
        "churn-",
        "churn--x",
        "a/b",
        "..",
        "a" * 41,
        "prévision",
        "under_score",
    ],
    "python_version": ["3.9", "3.10", "3.13", "3"],
    "azure_location": ["West Europe", "WestEurope", "mars", ""],
    "resource_group": ["", "rg.", "rg churn", "rg/churn", "a" * 91, "rg-é"],
    "workspace_name": ["ws", "-ws", "_ws", "ws.churn", "w" * 34, "ws churn"],
    "prod_resource_group": ["", "rg.", "rg prod"],
    "prod_workspace_name": ["ws", "-ws", "ws.prod"],
    "registry_name": ["rg", "-reg", "_reg", "reg.churn", "r" * 34, "reg churn", "reg/x"],
    "compute_name": ["cpu-1", "cpu-12", "1cpu", "cp", "c" * 25, "cpu_cluster", "cpu-"],
    "vm_size": ["DS3_v2", "Standard DS3", "Premium_DS3_v2", ""],
    "max_nodes": ["0", "-1", "101", "two", "1.5", "", "٣"],
    "experiment_name": ["", "-exp", "exp/1", "exp 1", "e" * 257],
    "model_name": ["", "-model", "model.v1", "m" * 256],
    "online_endpoint_name": ["ab", "1churn", "churn--api", "churn-", "churn_api", "e" * 33],
    "staging_endpoint_name": ["-stg", "stg.churn"],
    "ci_provider": ["jenkins", "GitHub Actions", ""],
    "deployment": ["serverless", "Online", "online,batch", ""],
    "retrain_cron": [
        "",
        "0 3 * *",
        "0 3 * * 1 2026",
        "0  3 * * 1",
        "60 3 * * 1",
        "0 3 * * 7",
        "0 3 * * MON",
        "5-1 * * * *",
        "*/0 * * * *",
        "0 3 * * 1; touch pwned",
        "0 3 * * ١",
    ],
    "alert_email": [
        "",
        "ml-alerts",
        "ml-alerts@",
        "@example.com",
        "ml-alerts@localhost",
        "ml alerts@example.com",
        " ml-alerts@example.com",
        "ml-alerts@example.com ",
        "a@example.com,b@example.com",
        "a@example.com; b@example.com",
        "Team <team@example.com>",
        '"team"@example.com',
        "team@@example.com",
        ".team@example.com",
        "team.@example.com",
        "te..am@example.com",
        "team@-example.com",
        "team@example-.com",
        "team@example..com",
        "team@example.c0m",
        "zoë@example.com",
        "team@exämple.com",
        "team@example.com\nBcc: x@example.com",
        "{{ cookiecutter.author }}@example.com",
        "team'--@example.com",
        "A" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
}


def test_every_answer_has_a_rule_and_every_rule_an_answer():
    answers = {key for key in TEMPLATE_CONTEXT if not key.startswith("_")}
    assert set(pre_gen.ANSWER_RULES) == answers
    assert set(ACCEPTED) == set(REFUSED) == answers


@pytest.mark.parametrize(
    ("option", "value"), [(o, v) for o, values in ACCEPTED.items() for v in values]
)
def test_rule_accepts(option, value):
    assert pre_gen.ANSWER_RULES[option](value) is None


@pytest.mark.parametrize(
    ("option", "value"), [(o, v) for o, values in REFUSED.items() for v in values]
)
def test_rule_refuses_with_a_reason(option, value):
    problem = pre_gen.ANSWER_RULES[option](value)
    assert problem and problem.startswith("must ")


def rendered_defaults(**overrides):
    answers = {
        "project_name": "Customer Churn",
        "project_slug": "customer-churn",
        "description": "d",
        "author": "a",
        "python_version": "3.11",
        "azure_location": "westeurope",
        "resource_group": "rg-customer-churn",
        "workspace_name": "mlw-customer-churn",
        "prod_resource_group": "rg-customer-churn",
        "prod_workspace_name": "mlw-customer-churn",
        "registry_name": "reg-customer-churn",
        "compute_name": "cpu-cluster",
        "vm_size": "Standard_DS3_v2",
        "max_nodes": "2",
        "experiment_name": "customer-churn",
        "model_name": "customer-churn-model",
        "online_endpoint_name": "customer-churn-abcde",
        "staging_endpoint_name": "customer-churn-stg-fghij",
        "ci_provider": "github-actions",
        "deployment": "online",
        "retrain_cron": "0 3 * * 1",
        "alert_email": "ml-alerts@example.com",
    }
    return answers | overrides


def test_valid_answers_have_no_problems():
    assert pre_gen.problems_in(rendered_defaults()) == []


def test_problems_name_option_value_and_rule_all_at_once():
    problems = pre_gen.problems_in(
        rendered_defaults(compute_name="cpu-1", max_nodes="0", project_name='say "hi"\n')
    )
    assert [p.split(":")[0] for p in problems] == ["project_name", "compute_name", "max_nodes"]
    assert problems[1] == (
        "compute_name: \"cpu-1\" must be 3-24 letters, digits or '-', starting with a letter, "
        "and a letter must follow the last '-' somewhere (cpu-1 is refused)"
    )
    assert '"say \\"hi\\"\\n"' in problems[0]


def test_staging_and_production_endpoints_must_differ_ignoring_case():
    problems = pre_gen.problems_in(
        rendered_defaults(online_endpoint_name="churn-api", staging_endpoint_name="CHURN-api")
    )
    assert problems == [
        'staging_endpoint_name: "CHURN-api" must differ from online_endpoint_name '
        "(names are case-insensitive)"
    ]


def test_regions_match_the_documented_naming_rules():
    rules = (DOCS_DIR / "azure-naming-rules.md").read_text(encoding="utf-8")
    public = rules.split("Public-cloud regions")[1].split("Sovereign clouds")[0]
    listed = set(re.findall(r"\b([a-z]+[0-9]?)\b(?: \(R\))?[,.]", public.split(":", 1)[1]))
    sovereign = {"usgovarizona", "usgovvirginia", "chinaeast2"}
    assert pre_gen.AZURE_LOCATIONS == listed | sovereign


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Customer Churn", "customer-churn"),
        ("Prévision des ventes", "prevision-des-ventes"),
        ("  --Churn__Model--  ", "churn-model"),
        ("2026 forecast", "ml-2026-forecast"),
        ("!!!", shared.SLUG_FALLBACK),
        ("", shared.SLUG_FALLBACK),
        ("{{ 7*7 }}", "ml-7-7"),
        (
            "Predictive maintenance of wind turbine gearboxes",
            "predictive-maintenance-of-wind-turbine",
        ),
        ("数据", "shu-ju"),
    ],
)
def test_project_slug_filter_always_yields_a_valid_slug(name, slug):
    assert shared.project_slug(name) == slug
    assert pre_gen.check_project_slug(slug) is None


def test_azure_name_cuts_without_dangling_dash():
    assert shared.azure_name("customer-churn-model", 15) == "customer-churn"
    assert shared.azure_name("abc", 10) == "abc"


@pytest.mark.parametrize(
    ("slug", "folder"),
    [
        ("churn", "churn"),
        ("a/b", "refused-slug-a-b"),
        ("..", "refused-slug---"),
        ("", "refused-slug-"),
        ("c:\\x", "refused-slug-c--x"),
    ],
)
def test_folder_name_is_the_slug_or_one_safe_name(slug, folder):
    assert shared.folder_name(slug) == folder


@pytest.mark.parametrize(
    "text", ["{{ 7*7 }}", '{% raw %}"\\x22\n😀', "{# c #}{{ cookiecutter.x }}"]
)
def test_as_literal_renders_to_the_text_itself(text):
    from jinja2 import Environment

    assert Environment().from_string(shared.as_literal(text)).render() == text


@pytest.mark.parametrize(
    ("provider", "kept", "removed"),
    [
        ("github-actions", [".github"], [".azure-pipelines"]),
        ("azure-devops", [".azure-pipelines"], [".github"]),
        ("both", [".github", ".azure-pipelines"], []),
        ("none", [], [".github", ".azure-pipelines"]),
    ],
)
def test_post_gen_removes_unselected_ci_provider(tmp_path, provider, kept, removed):
    for folder in (".github", ".azure-pipelines"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "ci.yml").write_text("x", encoding="utf-8")
    post_gen.remove_paths(tmp_path, post_gen.PATHS_REMOVED_BY_CI_PROVIDER[provider])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    assert not any((tmp_path / folder).exists() for folder in removed)


@pytest.mark.parametrize("name", ["model1", "churn", "upsell-v2", "a", "m" * 16, "x1-y2"])
def test_model_rule_accepts(name):
    assert model_pre_gen.check_model(name) is None


@pytest.mark.parametrize(
    "name", ["", "Model1", "1model", "model_1", "model-", "a--b", "m" * 17, "mödel", "a/b", ".."]
)
def test_model_rule_refuses_with_a_reason(name):
    assert model_pre_gen.check_model(name).startswith("must be ")


@pytest.mark.parametrize("deployment", pre_gen.DEPLOYMENTS)
def test_post_gen_removes_what_the_deployment_answer_did_not_select(tmp_path, deployment):
    removed = set(post_gen.PATHS_REMOVED_BY_DEPLOYMENT[deployment])
    every = {*post_gen.ONLINE_PATHS, *post_gen.BATCH_PATHS, *post_gen.DEPLOYING_CI_PATHS}
    for relative in every:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x", encoding="utf-8")
    post_gen.remove_paths(tmp_path, post_gen.PATHS_REMOVED_BY_DEPLOYMENT[deployment])
    assert {r for r in every if (tmp_path / r).exists()} == every - removed
    assert ("tests/test_batch.py" in removed) == (deployment in ("online", "none"))
    assert ("tests/test_deploy.py" in removed) == (deployment in ("batch", "none"))


def test_a_project_that_deploys_nothing_ends_its_pipelines_before_deploying(tmp_path):
    for relative, first_line in post_gen.DEPLOYING_TAILS.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True)
        path.write_text(f"jobs:\n  train: {{}}\n\n{first_line}  rest\n", encoding="utf-8")
    post_gen.cut_deploying_tails(tmp_path)
    for relative in post_gen.DEPLOYING_TAILS:
        assert (tmp_path / relative).read_text(encoding="utf-8") == "jobs:\n  train: {}\n"


def test_cutting_a_pipeline_refuses_a_file_it_does_not_recognise(tmp_path):
    relative = next(iter(post_gen.DEPLOYING_TAILS))
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / relative).write_text("jobs: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected one"):
        post_gen.cut_deploying_tails(tmp_path)


@pytest.mark.parametrize("deployment", pre_gen.DEPLOYMENTS)
def test_the_model_template_keeps_the_files_of_the_deployments_chosen(tmp_path, deployment):
    kept = {
        "online": set(model_post_gen.ONLINE_FILES),
        "batch": set(model_post_gen.BATCH_FILES),
        "both": set(model_post_gen.ONLINE_FILES) | set(model_post_gen.BATCH_FILES),
        "none": set(),
    }[deployment]
    every = {*model_post_gen.ONLINE_FILES, *model_post_gen.BATCH_FILES, "train.py"}
    for relative in every:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x", encoding="utf-8")
    model_post_gen.remove_files(tmp_path, model_post_gen.FILES_REMOVED_BY_DEPLOYMENT[deployment])
    assert {r for r in every if (tmp_path / r).exists()} == kept | {"train.py"}
