"""The resolved graph: frozen once built, sorted and pruned by its own methods, and hashed order-independently
(the search finds duplicate candidates by this hash; a run folder's ``--resume`` checks it)."""

import dataclasses
import pickle

import pytest

from archspec import resolve
from archspec.ir import Node

HEAD = """
spec_version: 1
layers:
  - input: {id: x, shape: [16, 16, 3]}
"""


def _graph(write_spec, body, name="net.yaml"):
    return resolve(write_spec(HEAD + body, name=name))


TWO_BRANCHES = """
  - conv2d: {id: a, inputs: x, filters: 8, kernel: 3, padding: same}
  - conv2d: {id: b, inputs: x, filters: 4, kernel: 1}
  - concat: {id: cat, inputs: [a, b]}
  - global_avg_pool2d: {}
  - dense: {units: 10}
"""


def test_independent_branches_written_in_either_order_hash_the_same(write_spec):
    swapped = """
  - conv2d: {id: b, inputs: x, filters: 4, kernel: 1}
  - conv2d: {id: a, inputs: x, filters: 8, kernel: 3, padding: same}
  - concat: {id: cat, inputs: [a, b]}
  - global_avg_pool2d: {}
  - dense: {units: 10}
"""
    g1, g2 = _graph(write_spec, TWO_BRANCHES, "one.yaml"), _graph(write_spec, swapped, "two.yaml")
    assert list(g1.nodes) != list(g2.nodes)
    assert g1.hash() == g2.hash()


def test_node_names_do_not_matter(write_spec):
    renamed = TWO_BRANCHES.replace("id: a,", "id: wide,").replace("id: b,", "id: narrow,").replace(
        "inputs: [a, b]", "inputs: [wide, narrow]").replace("id: cat", "id: joined")
    assert _graph(write_spec, TWO_BRANCHES, "one.yaml").hash() == _graph(write_spec, renamed, "two.yaml").hash()


def test_input_order_counts_for_concat_not_for_add(write_spec):
    def body(merge, order):
        return f"""
  - conv2d: {{id: a, inputs: x, filters: 8, kernel: 3, padding: same}}
  - conv2d: {{id: b, inputs: x, filters: 8, kernel: 1}}
  - {merge}: {{id: m, inputs: [{order}]}}
  - global_avg_pool2d: {{}}
  - dense: {{units: 10}}
"""
    add_ab, add_ba = (_graph(write_spec, body("add", o), f"add{i}.yaml") for i, o in enumerate(("a, b", "b, a")))
    cat_ab, cat_ba = (_graph(write_spec, body("concat", o), f"cat{i}.yaml") for i, o in enumerate(("a, b", "b, a")))
    assert add_ab.hash() == add_ba.hash()  # a sum does not depend on the order of its terms
    assert cat_ab.hash() != cat_ba.hash()  # the channel order of a concatenation does


@pytest.mark.parametrize("old, new", [
    ("filters: 4", "filters: 5"),  # an attribute
    ("conv2d: {id: b, inputs: x, filters: 4, kernel: 1}", "depthwise_conv2d: {id: b, inputs: x, kernel: 1}"),  # kind
    ("conv2d: {id: b, inputs: x", "conv2d: {id: b, inputs: a"),  # an edge
])
def test_a_different_network_hashes_differently(write_spec, old, new):
    assert old in TWO_BRANCHES
    g1 = _graph(write_spec, TWO_BRANCHES, "one.yaml")
    g2 = _graph(write_spec, TWO_BRANCHES.replace(old, new), "two.yaml")
    assert g1.hash() != g2.hash()


def test_a_graph_is_frozen_once_built(write_spec):
    g = _graph(write_spec, TWO_BRANCHES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.name = "other"
    with pytest.raises(TypeError, match="frozen"):
        g.nodes["a"] = g.nodes["b"]
    with pytest.raises(TypeError, match="frozen"):
        del g.nodes["a"]
    with pytest.raises(TypeError, match="frozen"):
        g.nodes["a"].attrs["filters"] = 99
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.nodes["a"].inputs = ()


def test_changed_copies_pickles_sorting_and_pruning(write_spec):
    g = _graph(write_spec, TWO_BRANCHES)
    renamed = dataclasses.replace(g, name="copy")
    assert renamed.name == "copy" and g.name != "copy" and renamed.hash() == g.hash()
    again = pickle.loads(pickle.dumps(g))
    assert again == g and again.hash() == g.hash()
    with pytest.raises(TypeError, match="frozen"):
        again.nodes["a"] = None
    backwards = dataclasses.replace(g, nodes=dict(reversed(list(g.nodes.items()))))
    ordered = backwards.sorted()
    position = {p: i for i, p in enumerate(ordered.nodes)}
    assert all(position[i] < position[p] for p, n in ordered.nodes.items() for i in n.inputs)
    assert g.sorted() is g  # already in a topological order
    assert g.pruned() is g  # every node reaches the output


def test_pruning_drops_what_reaches_no_output(write_spec):
    g = _graph(write_spec, TWO_BRANCHES)
    dead = Node("dead", "conv2d", {"filters": 2, "kernel": 1}, ("a",))
    dead_end = Node("dead_end", "flatten", {}, ("dead",))
    with_dead = dataclasses.replace(g, nodes={**g.nodes, "dead": dead, "dead_end": dead_end})
    assert with_dead.unreachable() == ["dead", "dead_end"]
    assert with_dead.hash() != g.hash()
    pruned = with_dead.pruned()
    assert list(pruned.nodes) == list(g.nodes) and pruned.hash() == g.hash()
