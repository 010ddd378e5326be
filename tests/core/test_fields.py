"""The field vocabulary (archspec.language.fields): reading a declared section, its messages, its schema."""

import pytest

from archspec.errors import SpecError
from archspec.language.fields import Group, ListOf, MapOf, Variants, f_bool, f_enum, f_number, f_string, read_section

jsonschema = pytest.importorskip("jsonschema")

SECTION = Group("demo", (
    f_number("steps", 10, 1, integer=True),
    Variants("solver", "solver", {"fast": Group("solver", (f_bool("exact", False),)),
                                  "slow": Group("solver", (f_number("tolerance", 0.1, 0.0, lo_open=True),))}, "fast",
             aliases=((None, "fast"),)),
    Group("extra", (f_enum("mode", ("a", "b"), "a", aliases=((True, "b"),)), f_number("size", 0, 0, integer=True)),
          expected="a mapping such as {mode: a}", aliases=((False, {}),)),
    MapOf("weights", f_number("w", 1.0, 0.0)),
    ListOf("tags", f_string("tag", None), expected="a list of tags", single=str),
))


def _errors(value):
    with pytest.raises(SpecError) as e:
        read_section(SECTION, value, "f.yaml")
    return [str(d) for d in e.value.diagnostics]


def test_defaults_and_shorthands():
    assert read_section(SECTION, {}) == {"steps": 10, "solver": {"name": "fast", "exact": False},
                                         "extra": {"mode": "a", "size": 0}, "weights": {}, "tags": []}
    got = read_section(SECTION, {"solver": "SLOW", "extra": {"mode": True, "size": 2.0}, "tags": "x"})
    assert got["solver"] == {"name": "slow", "tolerance": 0.1}
    assert got["extra"] == {"mode": "b", "size": 2} and got["tags"] == ["x"]
    assert read_section(SECTION, {"extra": False})["extra"] == {"mode": "a", "size": 0}


def test_messages_name_the_dotted_field():
    assert _errors({"steps": 0}) == ["f.yaml: demo.steps: expected an integer >= 1, got 0"]
    assert _errors({"solver": "quick"}) == ['f.yaml: demo.solver: unknown solver "quick"; one of fast, slow']
    assert _errors({"solver": {"name": "fast", "tolerance": 1}}) == [
        'f.yaml: unknown key "tolerance" in demo.solver; allowed: name, exact']
    # 0 is not False
    assert _errors({"extra": 0}) == ["f.yaml: demo.extra: expected a mapping such as {mode: a}, got 0"]
    assert _errors({"weights": {"x": -1}}) == ["f.yaml: demo.weights.x: expected a number >= 0, got -1"]
    assert _errors({"tags": [""]}) == ["f.yaml: demo.tags: expected a list of tags, got ['']"]


def test_errors_point_at_the_value_in_the_document(write_spec):
    from archspec.language.document import load_document

    line = "  solver: {name: slow, tolerance: 0}"
    path = write_spec(f"spec_version: 1\nlayers: [{{input: {{shape: [4]}}}}]\ntraining:\n{line}\n")
    section = load_document(path).data["training"]  # a mapping that remembers where its values are
    with pytest.raises(SpecError) as e:
        read_section(SECTION, section, path)
    assert [str(d) for d in e.value.diagnostics] == [
        f"{path}:4:{line.index('0') + 1}: demo.solver.tolerance: expected a number > 0, got 0"]


@pytest.mark.parametrize("value", [{}, {"solver": "slow"}, {"solver": {"name": "Slow", "tolerance": 1}},
                                   {"solver": None}, {"extra": False}, {"extra": {"mode": True}}, {"tags": "a"},
                                   {"steps": 0}, {"solver": "quick"}, {"solver": {"exact": 1}}, {"extra": 0},
                                   {"weights": {"x": -1}}, {"tags": [3]}, {"steps": True}])
def test_schema_agrees_with_reading(value):
    schema = SECTION.schema()
    try:
        read_section(SECTION, value)
        accepted = True
    except SpecError:
        accepted = False
    assert jsonschema.Draft202012Validator(schema).is_valid(value) == accepted
