"""The house rules, read from the source: stages import only earlier stages, archspec/ imports no back end,
and no two modules import each other."""

import ast
import os
import subprocess
import sys

from tests.helpers import ROOT

# archspec's stages in the order a spec goes through them; a module imports only from its own stage or earlier
STAGES = ["errors", "files", "numbers", "language", "kinds", "ir", "resolve", "analysis", "writers", "discovery",
          "starters", "keras_loading", "api", "__init__"]
BACKENDS = ("tensorflow", "keras", "keras_tuner", "jax", "torch", "builders")
# the one door to the back ends (lazily, inside functions), and the hook that registers the custom layers
# with Keras once Keras is imported
MAY_REACH_BACKENDS = {"archspec.api", "archspec.keras_loading"}


def _modules(package):
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                yield name, ast.parse(open(path, encoding="utf-8").read())


def _imports(module, tree):
    """(imported module, the import statement is at module level) for every import of ``tree``."""
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "archspec"]
        else:
            continue
        for name in names:
            yield name, id(node) in top_level


def _stage(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_relative_imports_leave_the_reader_guessing():
    relative = [m for m, tree in _modules("archspec") for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.level]
    assert not relative, relative


def test_a_stage_imports_only_earlier_stages():
    wrong = [f"{m} imports {name}" for m, tree in _modules("archspec") for name, _ in _imports(m, tree)
             if name.startswith("archspec.") and STAGES.index(_stage(name)) > STAGES.index(_stage(m))]
    assert not wrong, wrong


def test_archspec_imports_no_backend_except_lazily_through_its_one_door():
    wrong = [f"{m} imports {name}" for m, tree in _modules("archspec") for name, top in _imports(m, tree)
             if name.split(".")[0] in BACKENDS and (m not in MAY_REACH_BACKENDS or top)]
    assert not wrong, wrong


def test_no_two_modules_import_each_other():
    graph = {}
    for package in ("archspec", "builders"):
        for m, tree in _modules(package):
            graph[m] = {name for name, _ in _imports(m, tree)}
    nested = lambda a, b: a.startswith(b + ".") or b.startswith(a + ".")  # noqa: E731
    circles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a]
                     if b in graph and a < b and a in graph[b] and not nested(a, b))
    assert not circles, circles


def test_the_static_commands_load_no_backend():
    code = ("import sys, archspec; s = archspec.load('specs/resnet50.yaml'); s.summary(); s.to_dict(); "
            "from archspec.writers.schema import build_schema; build_schema(); "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({BACKENDS!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr + out.stdout
