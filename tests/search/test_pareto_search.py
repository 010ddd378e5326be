"""Searching for a trade-off: objectives, the Pareto front, NSGA-II proposals, latency limits, median pruning."""

import csv
import json
import os
import random
import signal

import pytest

kt = pytest.importorskip("keras_tuner")

from archspec.resolve import resolve  # noqa: E402
from builders.search.evolution import NSGA2Oracle  # noqa: E402
from builders.search.objectives import Objective, parse_latency, parse_objectives, vector  # noqa: E402
from builders.search.pareto import crowding_distance, dominates, hypervolume, non_dominated, sort_fronts  # noqa: E402
from builders.search.pruning import EpochWatch, MedianRule, should_prune  # noqa: E402
from tests.helpers import run_cli, wait_for  # noqa: E402

from .test_search import _search_process  # noqa: E402

# a search where the learning rate decides: 1e-7 never learns, so the median rule has something to stop
PRUNABLE = """
spec_version: 1
name: prunable
training: {epochs: 4, batch_size: 64, optimizer: {name: adam, learning_rate: {choice: [0.01, 0.0000001]}}}
layers:
  - input: {shape: [8, 8, 1]}
  - conv2d: {id: conv, filters: {choice: [4, 8, 16]}, kernel: 3, padding: same, activation: relu}
  - flatten
  - dense: {units: 10, activation: softmax}
"""


def test_dominance_fronts_crowding_and_hypervolume():
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (1, 2)) and not dominates((0, 3), (1, 2))
    rng = random.Random(0)
    points = [(rng.random(), rng.random(), rng.random()) for _ in range(60)]
    front = non_dominated(points)
    for i in front:  # no member is dominated, every other point is dominated by a member
        assert not any(dominates(p, points[i]) for p in points)
    for j in set(range(len(points))) - set(front):
        assert any(dominates(points[i], points[j]) for i in front)
    fronts = sort_fronts(points)
    assert fronts[0] == front and sorted(i for f in fronts for i in f) == list(range(len(points)))
    for earlier, later in zip(fronts, fronts[1:]):  # each point of a later front is dominated by an earlier one
        assert all(any(dominates(points[i], points[j]) for i in earlier) for j in later)
    d = crowding_distance([(0, 3), (1, 2), (2, 1), (3, 0), (1.5, 1.5)], [0, 1, 2, 3, 4])
    assert d[0] == d[3] == float("inf") and 0 < d[1] < float("inf")
    # two boxes of 2x1 and 1x2 overlapping in 1x1 under the reference (3, 3): 2 + 2 - 1 = 3
    assert hypervolume([(1, 2), (2, 1)], (3, 3)) == pytest.approx(3.0)
    assert hypervolume([(1, 2), (2, 1), (2.5, 2.5), (4, 0)], (3, 3)) == pytest.approx(3.0)  # dominated / outside
    assert hypervolume([(0, 0, 0)], (1, 2, 3)) == pytest.approx(6.0)
    cube = [(rng.random(), rng.random()) for _ in range(200)]
    inside = sum(any(x >= p[0] and y >= p[1] for p in cube) for x, y in ((rng.random(), rng.random())
                                                                          for _ in range(20000)))
    assert hypervolume(cube, (1, 1)) == pytest.approx(inside / 20000, abs=0.01)  # Monte Carlo agrees


def test_objectives_parse_with_directions_and_clear_errors():
    objs = parse_objectives(["val_accuracy:max", "params", "latency:min"], "nsga2")
    assert [str(o) for o in objs] == ["val_accuracy:max", "params:min", "latency:min"]
    assert vector(objs, {"val_accuracy": 0.9, "params": 10, "latency": 0.001}) == (-0.9, 10.0, 0.001)
    assert vector(objs, {"val_accuracy": 0.9, "params": 10}) is None
    assert parse_objectives([], "random") == (Objective("val_accuracy", "max"),)
    for texts, tuner, words in ((["accuracy:max"], "random", "did you mean 'val_accuracy'"),
                                (["params:min"], "random", "must be a training metric"),
                                (["val_accuracy:up"], "random", "min or max"),
                                (["val_accuracy", "params"], "bayesian", "--tuner nsga2"),
                                (["params", "params", "val_loss"], "random", "twice")):
        with pytest.raises(ValueError, match=words):
            parse_objectives(texts, tuner)
    assert parse_latency("20ms") == pytest.approx(0.02) and parse_latency("500us") == pytest.approx(5e-4)
    assert parse_latency("2") == pytest.approx(0.002)


def test_bad_search_options_are_one_line_each(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(PRUNABLE)
    for args, words in ((["--objective", "acc:max"], "unknown metric 'acc'"),
                        (["--tuner", "hyperband", "--objective", "val_accuracy", "--objective", "params"],
                         "optimises one number"),
                        (["--max-latency", "5 parsecs"], "--max-latency '5 parsecs'"),
                        (["--tuner", "hyperband", "--prune", "median"], "own brackets")):
        r = run_cli("search", str(spec), "-o", str(tmp_path / "out"), *args)
        assert r.returncode == 1 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "trials").exists()


def _trial(folder, name, curve, costs=None, pruned=None, done=True):
    d = folder / name
    d.mkdir(parents=True)
    with open(d / "epochs.jsonl", "w") as f:
        for epoch, v in enumerate(curve, 1):
            f.write(json.dumps({"epoch": epoch, "val_accuracy": v}) + "\n")
    (d / "costs.json").write_text(json.dumps(costs or {}))
    if done:
        metrics = {"pruned_at_epoch": pruned} if pruned else {}
        (d / "result.json").write_text(json.dumps({"status": "ok", "metrics": metrics}))
    return d


def test_median_rule_compares_with_completed_peers_that_cost_no_more(tmp_path):
    assert should_prune([0.2, 0.3], 2, [[0.5, 0.6]] * 3, "max", warmup=1, startup=3)
    assert not should_prune([0.2, 0.3], 2, [[0.5, 0.6]] * 2, "max", warmup=1, startup=3)  # too few peers
    assert not should_prune([0.2], 1, [[0.5]] * 3, "max", warmup=1, startup=3)  # still warming up
    assert not should_prune([0.7, 0.3], 2, [[0.5, 0.6]] * 3, "max", warmup=1, startup=3)  # best so far counts
    assert not should_prune([0.2, 0.3], 2, [[0.5, 0.6]] * 2 + [[0.9]], "max", warmup=1, startup=3)  # one stopped at 1
    trials = tmp_path / "trials"
    for i in range(3):
        _trial(trials, f"big{i}", [0.8, 0.9, 0.95], {"params": 1000})
    _trial(trials, "cheap-pruned-a", [0.35, 0.5], {"params": 10}, pruned=2)
    _trial(trials, "cheap-pruned-b", [0.6, 0.45], {"params": 10}, pruned=2)
    _trial(trials, "cheap-pruned-early", [0.9], {"params": 10}, pruned=1)  # never got to epoch 2
    _trial(trials, "running", [0.99, 0.99], {"params": 10}, done=False)  # not a peer: not finished
    small = _trial(trials, "small", [0.3, 0.4], {"params": 10}, done=False)
    single = MedianRule("val_accuracy", "max", epochs=5)
    assert single.warmup == 1 and single.decide(str(small), 2)  # one objective: every completed trial is a peer
    by_cost = MedianRule("val_accuracy", "max", ["params"], epochs=5)
    assert not by_cost.decide(str(small), 2)  # the big ones cost more: two cheap peers got to epoch 2
    _trial(trials, "cheap-pruned-c", [0.5, 0.55], {"params": 10}, pruned=2)
    assert by_cost.decide(str(small), 2)  # pruned trials are peers up to the epoch they stopped at
    watch = EpochWatch(str(small), single)
    watch.poll()
    assert (small / "verdict-1").read_text() == "go" and (small / "verdict-2").read_text() == "stop"
    assert watch.pruned_at == 2


def test_nsga2_children_come_from_the_front_and_keep_conditions(write_spec):
    from .test_search import SPACE, _oracle_and_model

    oracle, hm = _oracle_and_model(write_spec(SPACE))
    objectives = (Objective("val_accuracy", "max"), Objective("params", "min"))
    nsga = NSGA2Oracle(objective=kt.Objective("val_accuracy", "max"), max_trials=20, seed=1,
                       objectives=objectives, population=4)
    nsga.hyperparameters = oracle.get_space()
    nsga._set_project_dir(oracle._directory, "tuner2")
    rng = random.Random(3)
    for n in range(6):  # six finished trials: (accuracy, params) with a known front
        trial = nsga.create_trial(f"w{n}")
        assert trial.status == "RUNNING"
        acc, params = [(0.9, 500), (0.8, 100), (0.7, 600), (0.95, 900), (0.6, 700), (0.5, 800)][n]
        nsga.update_trial(trial.trial_id, {"val_accuracy": acc, "params": params})
        trial.status = "COMPLETED"
        nsga.end_trial(trial)
    pool = nsga.parent_pool()
    assert len(pool) == 4
    ranked = {t.trial_id: rank for t, rank, _ in pool}
    assert [ranked[t] for t in ("00", "01", "03")] == [0, 0, 0] and max(ranked.values()) == 1
    space = {hp.name: hp for hp in nsga.hyperparameters.space}
    for _ in range(20):
        child, parents = nsga.offspring(pool, rng)
        assert all(p in [t for t, _, _ in pool] for p in parents)
        probe = kt.HyperParameters()
        for hp in nsga.hyperparameters.space:
            probe.merge([hp])
        probe.values = dict(child)
        for name in child:  # only active values, each a legal value of its hyperparameter
            assert probe.is_active(space[name])
        assert ("stage/block1/conv.kernel" in child) == (child["stage.kind"] == "plain")
    assert nsga.create_trial("next").status == "RUNNING"  # a child, pre-selected by the hypervolume it may add
    nsga._graph_hashes = {"net-a+lr1"}
    tied = [({"n": 1}, "net-a+lr2", {}), ({"n": 2}, "net-b+lr1", {})]  # no guess: no gain for either
    assert nsga._most_promising(tied)[1] == "net-b+lr1"  # a new network before a new learning rate of a tried one


@pytest.mark.slow
def test_multi_objective_search_writes_a_non_dominated_front_of_plain_specs(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(PRUNABLE)
    out = tmp_path / "out"
    r = run_cli("search", str(spec), "-o", str(out), "--objective", "val_accuracy:max", "--objective", "params:min",
                "--objective", "latency:min", "--max-trials", "6", "--population", "4", "--seed", "2", timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "on the Pareto front" in r.stdout and (out / "pareto.png").stat().st_size > 1000
    rows = [row for row in csv.DictReader(open(out / "trials.csv")) if row["status"] == "completed"]
    assert len(rows) == 6 and all(float(row["latency"]) > 0 for row in rows)
    objectives = parse_objectives(["val_accuracy:max", "params:min", "latency:min"], "nsga2")
    points = {row["trial"]: vector(objectives, {k: float(row[k]) for k in ("val_accuracy", "params", "latency")})
              for row in rows}
    front = list(csv.DictReader(open(out / "pareto.csv")))
    members = {row["trial"] for row in front}
    assert members == {t for t, p in points.items() if not any(dominates(q, p) for q in points.values())}
    assert members == {row["trial"] for row in rows if row["front"] == "*"}
    for row in front:  # each member is the user's spec with its choices written in
        text = (out / row["spec"]).read_text()
        assert "{choice" not in text.split("\n", 2)[2]
        assert resolve(str(out / row["spec"])).hash() == resolve(str(spec), json.loads(row["choices"])).hash()


@pytest.mark.slow
def test_latency_limit_records_candidates_without_training_them(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(PRUNABLE)
    out = tmp_path / "out"
    r = run_cli("search", str(spec), "-o", str(out), "--max-trials", "2", "--max-latency", "1us", timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert [row["status"] for row in rows] == ["infeasible", "infeasible"]
    assert all("> --max-latency 0.00 ms" in row["note"] and "not trained" in row["note"] for row in rows)
    for trial in (out / "trials").iterdir():
        assert not (trial / "run" / "model.keras").exists() and "Epoch 1" not in (trial / "train.log").read_text()
    assert "no trial completed" in r.stdout


@pytest.mark.slow
def test_pruned_trial_survives_kill_and_resume(tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(PRUNABLE)
    out = tmp_path / "out"
    args = ("--max-trials", "6", "--prune", "median", "--seed", "0")
    proc = _search_process(spec, out, *args)

    def pruned_and_next_started():
        pruned = [int(d.parent.name) for d in (out / "trials").glob("*/result.json")
                  if json.loads(d.read_text()).get("metrics", {}).get("pruned_at_epoch")]
        started = [int(d.parent.name) for d in (out / "trials").glob("*/train.log")]
        return (pruned and max(started) > pruned[0]) or proc.poll() is not None

    try:
        assert wait_for(pruned_and_next_started, 300)
    finally:
        if proc.poll() is None:  # in the middle of the trial after the pruned one (unless the pruned one was last)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    pruned = next(d for d in (out / "trials").glob("*/result.json")
                  if json.loads(d.read_text()).get("metrics", {}).get("pruned_at_epoch"))
    trial = pruned.parent.name
    epoch = json.loads(pruned.read_text())["metrics"]["pruned_at_epoch"]
    assert 2 <= epoch <= 4  # after the one-epoch warm-up (usually 2: a learning rate of 1e-7)
    mtime = pruned.stat().st_mtime
    r = run_cli("search", str(spec), "-o", str(out), *args, "--resume", timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert pruned.stat().st_mtime == mtime  # not run again
    rows = {row["trial"]: row for row in csv.DictReader(open(out / "trials.csv"))}
    assert len(rows) == 6 and rows[trial]["status"] == "pruned" and rows[trial]["note"] == f"pruned at epoch {epoch}"
    assert rows[trial]["epochs_run"] == str(epoch) and all(rows[t]["status"] in ("completed", "pruned") for t in rows)
