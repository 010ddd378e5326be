"""Without the keras extra, a command that needs it says which extra to install (no internal error)."""

import pytest

from tests.helpers import SPECS, run_cli

NO_BACKENDS = {"ARCHSPEC_TEST_NO_BACKENDS": "1"}  # run_cli starts the command with tests/no_backends.py's blocker


@pytest.mark.parametrize("args", [("build", f"{SPECS}/lenet5.yaml", "--summary"),
                                  ("train", f"{SPECS}/digits_cnn.yaml", "--epochs", "1", "-o", "{tmp}/run"),
                                  ("import", "keras:MobileNet", "-o", "{tmp}/m.yaml")])
def test_a_command_that_needs_keras_says_which_extra(tmp_path, args):
    r = run_cli(*(a.format(tmp=tmp_path) for a in args), env=NO_BACKENDS)
    assert r.returncode == 1, r.stderr
    assert "install the keras extra: pip install 'archspec[keras]'" in r.stderr and "internal error" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_static_commands_need_no_extra():
    r = run_cli("summary", f"{SPECS}/resnet50.yaml", "--batch", "8", env=NO_BACKENDS)
    assert r.returncode == 0 and "params: 25,636,712" in r.stdout, r.stderr
