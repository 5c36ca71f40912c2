"""What the commands print where: the result alone on stdout; on stderr, the SDKs' progress as a
live bar on a terminal and as plain lines in a CI log."""

from __future__ import annotations

import io

from mlops import output
from mlops.output import PlainText
from tests import azure_flows as flows


def test_plain_text_drops_colours_and_keeps_the_last_state_of_a_redrawn_line():
    target = io.StringIO()
    plain = PlainText(target)

    plain.write("\x1b[32mUploading data:   0%|   | 0/10\r\x1b[32mUploading data: 100%|██| 10/10")
    plain.write("\r\n\x1b[39m\n")
    plain.write("RunId: job_1\nsteps done")
    plain.close_line()

    assert target.getvalue() == "Uploading data: 100%|██| 10/10\n\nRunId: job_1\nsteps done\n"


def upload_data(azure, paths):
    flows.new_data(azure, flows.spec(paths.data)["name"])


def test_in_a_ci_log_the_upload_bar_is_one_plain_line(azure, mlops, project, paths):
    upload_data(azure, paths)

    result = mlops("apply", paths.data)

    assert result.exit_code == 0, result.output
    bars = [line for line in result.stderr.splitlines() if line.startswith("Uploading ")]
    assert len(bars) == 1 and "100%" in bars[0]
    assert "\r" not in result.stderr and "\x1b" not in result.stderr


def test_in_a_terminal_the_upload_bar_is_live(azure, mlops, project, paths, monkeypatch):
    monkeypatch.setattr(output, "stderr_is_terminal", lambda: True)
    upload_data(azure, paths)

    result = mlops("apply", paths.data)

    assert result.exit_code == 0, result.output
    assert "\rUploading " in result.stderr
    assert result.stdout.startswith("{")


def test_a_commands_help_is_its_result_on_stdout(mlops):
    result = mlops("train", "--help")

    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert result.stderr == ""
