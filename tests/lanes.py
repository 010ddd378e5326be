"""A lane whose back end is not installed is skipped file by file, with the extra that brings it.

A lane's ``conftest.py`` says what it needs::

    pytest_pycollect_makemodule = skip_files_without("tensorflow", "keras")

Each test file of the lane is then one skipped item ("needs the keras extra: pip install -e '.[keras,test]'")
instead of an import error at collection.
"""

import importlib.util

import pytest


def missing(*modules):
    """The ``modules`` that cannot be imported here."""
    lacking = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # a blocker (tests/no_backends.py) or a broken install
            found = False
        if not found:
            lacking.append(name)
    return lacking


class _SkippedFile(pytest.File):
    reason = ""

    def collect(self):
        yield _Skipped.from_parent(self, name=self.path.name)


class _Skipped(pytest.Item):
    def runtest(self):
        pytest.skip(self.parent.reason)

    def reportinfo(self):
        return self.path, 0, self.name


def skip_files_without(*modules, extra="keras"):
    """A ``pytest_pycollect_makemodule`` hook: the lane's files become skips where ``modules`` are missing."""
    lacking = missing(*modules)

    def pytest_pycollect_makemodule(module_path, parent):
        if not lacking:
            return None
        skipped = _SkippedFile.from_parent(parent, path=module_path)
        skipped.reason = f"needs {', '.join(lacking)}: pip install -e '.[{extra},test]'"
        return skipped

    return pytest_pycollect_makemodule
