"""A failed trial is one line on the search's terminal (its log keeps the traceback); a search in which every trial
failed exits non-zero and says so."""

import pytest

from tests.helpers import run_cli

from .test_search import TINY


@pytest.mark.slow
def test_trials_that_fail_are_one_line_each_and_the_search_says_none_finished(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY.replace("units: 10", "units: 3"))  # checks, then fails in each trial: digits has 10 classes
    out = tmp_path / "out"
    r = run_cli("search", str(spec), "-o", str(out), "--max-trials", "2", timeout=600)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stdout + r.stderr
    failed = [line for line in r.stdout.splitlines() if line.startswith("trial ") and " failed: " in line]
    assert len(failed) == 2 and all("train.log" in line for line in failed), r.stdout
    assert "every one of the 2 trials failed" in r.stderr
    assert (out / "trials.csv").exists()


def test_an_oracle_address_out_of_range_is_one_line(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    r = run_cli("search", str(spec), "-o", str(tmp_path / "out"), "--role", "chief", "--oracle", "127.0.0.1:99999")
    assert r.returncode == 1 and "a port from 1 to 65535, got '127.0.0.1:99999'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "serving" not in r.stdout


def test_a_port_in_use_is_one_line(tmp_path):
    import socket

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_cli("search", str(spec), "-o", str(tmp_path / "out"), "--role", "chief", "--oracle",
                    f"127.0.0.1:{port}", timeout=300)
    assert r.returncode == 1 and "cannot listen there" in r.stderr, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "serving" not in r.stdout
