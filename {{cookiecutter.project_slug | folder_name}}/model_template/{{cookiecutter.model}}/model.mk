# This model's names in Azure ML, read by the project's Makefile for `make <target> MODEL={{ cookiecutter.model }}`.
MODEL_NAME := {{ cookiecutter.model_name }}
{%- if cookiecutter._project.deployment in ["online", "both"] %}
STAGING_ENDPOINT := {{ cookiecutter.staging_endpoint_name }}
PRODUCTION_ENDPOINT := {{ cookiecutter.online_endpoint_name }}
{%- endif %}
{%- if cookiecutter._project.deployment in ["batch", "both"] %}
STAGING_BATCH_ENDPOINT := {{ cookiecutter.staging_batch_endpoint_name }}
PRODUCTION_BATCH_ENDPOINT := {{ cookiecutter.batch_endpoint_name }}
{%- endif %}
# The evaluation gate of `make register`: the metric train.py writes to metrics.json, and its minimum.
GATE ?= roc_auc=0.75
