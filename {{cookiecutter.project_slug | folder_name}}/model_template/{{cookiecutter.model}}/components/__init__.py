"""The steps of the training pipeline (aml_config/train-pipeline.yml), one command component each.

Each step is a plain script, run from the model folder as Azure ML and `make pipeline-local` run
it: ``python -m components.<step> --help``. They reuse train.py, one folder up, which is itself
the command of the train component.
"""
