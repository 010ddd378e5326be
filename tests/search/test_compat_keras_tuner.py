"""builders.compat.keras_tuner_internals against the installed Keras Tuner: each wrapped private API, for real."""

import json
import os
import subprocess
import sys

import pytest

kt = pytest.importorskip("keras_tuner")

from builders.compat import UntestedVersion, require_tested  # noqa: E402
from builders.compat import keras_tuner_internals as ki  # noqa: E402
from tests.helpers import ROOT, free_port  # noqa: E402


class _HyperModel(kt.HyperModel):
    def build(self, hp):
        hp.Boolean("wide")
        return None


class _Tuner(kt.engine.base_tuner.BaseTuner):
    def run_trial(self, trial, *args, **kwargs):
        return {"score": 0.0}


def _oracle(cls=kt.oracles.RandomSearchOracle, **kwargs):
    return cls(objective=kt.Objective("score", "max"), max_trials=10, seed=0, **kwargs)


def _space():
    hp = kt.HyperParameters()
    hp.Boolean("wide")
    return hp


def test_the_installed_version_is_the_tested_one():
    assert ki.KERAS_TUNER_VERSION == kt.__version__
    assert require_tested("keras-tuner", ki.TESTED_LOW, ki.TESTED_BELOW, "x") == kt.__version__


def test_an_untested_version_stops_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("ARCHSPEC_ALLOW_UNTESTED", raising=False)
    with pytest.raises(UntestedVersion, match=r"keras-tuner .* was tested with keras-tuner >= 0\.1, < 0\.2"):
        require_tested("keras-tuner", "0.1", "0.2", "archspec search")
    monkeypatch.setenv("ARCHSPEC_ALLOW_UNTESTED", "1")
    assert require_tested("keras-tuner", "0.1", "0.2", "archspec search") == kt.__version__


def test_importing_the_module_on_an_untested_version_fails():
    code = ("import importlib.metadata as m\n"
            "real = m.version\n"
            "m.version = lambda name: '1.5.0' if name == 'keras-tuner' else real(name)\n"
            "import builders.compat.keras_tuner_internals\n")
    env = {k: v for k, v in os.environ.items() if k != "ARCHSPEC_ALLOW_UNTESTED"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                       cwd=ROOT)
    assert r.returncode != 0
    assert "UntestedVersion: keras-tuner 1.5.0 is installed, but archspec search was tested with " \
           "keras-tuner >= 1.4.6, < 1.5" in r.stderr


def test_parent_condition_makes_a_hyperparameter_conditional():
    hp = _space()
    hp.merge([kt.engine.hyperparameters.Int("width", 1, 4, conditions=[ki.parent_condition("wide", [True])])])
    width = [h for h in hp.space if h.name == "width"][0]
    hp.values["wide"] = True
    assert hp.is_active(width)
    hp.values["wide"] = False
    assert not hp.is_active(width)
    assert width.get_config()["conditions"] == [{"class_name": "Parent", "config": {"name": "wide", "values": [True]}}]


class _Hooked(ki.RandomValuesHook, kt.oracles.RandomSearchOracle):
    def random_values(self, propose):
        values = propose()
        self.proposed.append(values)
        return values


def test_random_values_hook_sees_every_proposal(tmp_path):
    oracle = _oracle(_Hooked)
    oracle.proposed = []
    _Tuner(oracle, _HyperModel(), directory=str(tmp_path), project_name="p")
    trial = oracle.create_trial("tuner0")
    assert oracle.proposed and oracle.proposed[-1] == trial.hyperparameters.values


def test_mark_tried_keeps_values_from_being_proposed_again(tmp_path):
    oracle = _oracle()
    _Tuner(oracle, _HyperModel(), directory=str(tmp_path), project_name="p")
    ki.mark_tried(oracle, {"wide": True})
    assert oracle.populate_space("0")["values"] == {"wide": False}
    ki.mark_tried(oracle, {"wide": False})
    assert oracle.populate_space("1")["status"] == kt.engine.trial.TrialStatus.STOPPED


def test_project_dir_is_where_the_tuner_put_the_oracle(tmp_path):
    oracle = _oracle()
    _Tuner(oracle, _HyperModel(), directory=str(tmp_path), project_name="p")
    assert ki.project_dir(oracle) == os.path.join(str(tmp_path), "p")
    oracle.save()
    assert os.path.exists(os.path.join(ki.project_dir(oracle), "oracle.json"))


def test_random_populate_space_of_a_bayesian_oracle(tmp_path):
    oracle = _oracle(kt.oracles.BayesianOptimizationOracle)
    _Tuner(oracle, _HyperModel(), directory=str(tmp_path), project_name="p")
    response = ki.random_populate_space(oracle)
    assert response["status"] == kt.engine.trial.TrialStatus.RUNNING and set(response["values"]) == {"wide"}


def test_end_lost_trial_fails_it_forgets_its_worker_and_saves(tmp_path):
    oracle = _oracle()
    _Tuner(oracle, _HyperModel(), directory=str(tmp_path), project_name="p")
    trial = oracle.create_trial("tuner7")
    ki.end_lost_trial(oracle, "tuner7", trial, "worker lost: no heartbeat")
    assert "tuner7" not in oracle.ongoing_trials and "tuner7" not in oracle.tuner_ids
    assert oracle.end_order == [trial.trial_id]
    with open(os.path.join(str(tmp_path), "p", f"trial_{trial.trial_id}", "trial.json")) as f:
        saved = json.load(f)
    assert saved["status"] == "FAILED" and saved["message"] == "worker lost: no heartbeat"
    with open(os.path.join(str(tmp_path), "p", "oracle.json")) as f:
        assert json.load(f)["end_order"] == [trial.trial_id]


def test_a_worker_tuner_talks_to_the_servicer_over_grpc(tmp_path, monkeypatch):
    from concurrent import futures

    import grpc
    from keras_tuner.src.distribute import oracle_client

    chief = _oracle()
    _Tuner(chief, _HyperModel(), directory=str(tmp_path), project_name="chief")
    servicer = ki.oracle_servicer_class()(chief)
    assert servicer.stop_triggered is False
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    ki.add_oracle_servicer(servicer, server)
    port = free_port()
    assert server.add_insecure_port(f"127.0.0.1:{port}") != 0
    server.start()
    monkeypatch.setattr(oracle_client, "TIMEOUT", oracle_client.TIMEOUT)  # restored after the test
    try:
        ki.set_client_timeout(30)
        assert oracle_client.TIMEOUT == 30
        local = _Tuner(_oracle(), _HyperModel(), directory=str(tmp_path), project_name="local")
        assert not ki.is_worker(local)
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
        worker = _Tuner(_oracle(), _HyperModel(), directory=str(tmp_path), project_name="worker")
        assert ki.is_worker(worker)
        assert [h.name for h in worker.oracle.get_space().space] == ["wide"]
        trial = worker.oracle.create_trial("tuner0")
        assert trial.trial_id in chief.trials and "tuner0" in chief.ongoing_trials
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
        assert not ki.is_worker(worker)
    finally:
        server.stop(grace=None)


def test_quiet_trial_tracebacks_turns_off_keras_tuners_debug_printing():
    from keras_tuner.src import config

    was = config.DEBUG
    try:
        ki.quiet_trial_tracebacks()
        assert config.DEBUG is False
    finally:
        config.DEBUG = was
