# This model's names in Azure ML, read by the project's Makefile for `make <target> MODEL={{ cookiecutter.model }}`.
MODEL_NAME := {{ cookiecutter.model_name }}
STAGING_ENDPOINT := {{ cookiecutter.staging_endpoint_name }}
PRODUCTION_ENDPOINT := {{ cookiecutter.online_endpoint_name }}
# The evaluation gate of `make register`: the metric train.py writes to metrics.json, and its minimum.
GATE ?= roc_auc=0.75
