"""Bad input: random and mutated YAML/JSON, hostile tags, alias bombs, huge repeats.

Each gets a SpecError (never another exception) or a graph within the resolver's node limit, and nothing
executes.
"""

import glob
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec import SpecError, check
from archspec.resolve import MAX_NODES, resolve_lenient
from tests.helpers import SPECS

SPEC_TEXTS = [open(p).read() for p in sorted(glob.glob(os.path.join(SPECS, "*.yaml"))) if "zfnet" not in p]


def _check_text(tmp_path, text, name="fuzz.yaml"):
    path = tmp_path / name
    path.write_text(text)
    try:
        analysis = check(str(path))
    except SpecError as e:
        assert e.diagnostics and all(str(d) for d in e.diagnostics)
    else:  # the work is bounded by the resolver's node limit (its speed is bench/bench_check.py's, not a test's)
        assert len(analysis.nodes) <= MAX_NODES


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_random_text(tmp_path, text):
    _check_text(tmp_path, text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["spec_version", "layers", "input", "conv2d", "dense", "shape", "filters", "kernel",
                         "inputs", "id", "repeat", "when", "blocks", "params", "units", "variables", "choice",
                         "x"]), children, max_size=4),
    max_leaves=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values)
def test_random_structures(tmp_path, value):
    _check_text(tmp_path, json.dumps(value), "fuzz.json")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SPEC_TEXTS), st.data())
def test_mutated_reference_specs(tmp_path, text, data):
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["delete", "duplicate", "number", "truncate", "swap", "indent"]))
        if op == "delete":
            lines.pop(i)
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "number":
            lines[i] = "".join(str(data.draw(st.integers(-3, 100000))) if c.isdigit() else c for c in lines[i])
        elif op == "truncate":
            lines[i] = lines[i][: data.draw(st.integers(0, max(len(lines[i]), 1)))]
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = "  " + lines[i]
        if not lines:
            lines = [""]
    _check_text(tmp_path, "\n".join(lines))


@pytest.mark.parametrize("text", [
    "!!python/object/apply:os.system ['touch /tmp/archspec-pwned']\n",
    "spec_version: 1\nlayers: !!python/object/new:os.system [echo]\n",
    "spec_version: !!python/name:os.system 1\n",
    "spec_version: 1\nname: !custom x\nlayers: []\n",
])
def test_yaml_tags_rejected(tmp_path, text):
    with pytest.raises(SpecError, match="is not allowed in a spec"):
        (tmp_path / "t.yaml").write_text(text)
        check(str(tmp_path / "t.yaml"))
    assert not os.path.exists("/tmp/archspec-pwned")


def test_billion_laughs(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    text = "spec_version: 1\nvariables:\n" + "\n".join("  " + line for line in lines) + "\nlayers: []\n"
    with pytest.raises(SpecError, match="alias bomb"):  # refused before the aliases are expanded
        (tmp_path / "bomb.yaml").write_text(text)
        check(str(tmp_path / "bomb.yaml"))


def test_nested_repeats_are_bounded(write_spec):
    with pytest.raises(SpecError, match="more than 100,000 nodes"):  # stopped at the limit, not after 10^8
        check(write_spec("""
            spec_version: 1
            layers:
              - input: {shape: [4]}
              - group:
                  id: g
                  repeat: 10000
                  layers:
                    - dense: {units: 2, repeat: 10000}
        """))


def test_terabyte_shapes_are_refused(write_spec):
    with pytest.raises(SpecError, match="more than a tensor can hold"):
        check(write_spec("""
            spec_version: 1
            layers:
              - input: {shape: [65536, 65536, 3]}
        """))
    with pytest.raises(SpecError, match="is beyond what archspec builds"):
        check(write_spec("""
            spec_version: 1
            layers:
              - input: {shape: [1000000]}
              - dense: {units: 1000000}
        """))


def test_deep_nesting_and_long_expressions(write_spec):
    with pytest.raises(SpecError):
        check(write_spec("spec_version: 1\nlayers: " + "[" * 5000 + "]" * 5000 + "\n"))
    with pytest.raises(SpecError):
        check(write_spec("spec_version: 1\nvariables: {x: \"${" + "(" * 400 + "1" + ")" * 400 + "}\"}\nlayers: []\n"))


def test_lenient_resolution_never_raises_other_errors(tmp_path):
    (tmp_path / "s.yaml").write_text("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {units: x}}]\n")
    graph, diags = resolve_lenient(str(tmp_path / "s.yaml"))
    assert diags and "units" in str(diags[0])
