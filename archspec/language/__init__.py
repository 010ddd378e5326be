"""The spec language: text → a merged document whose every value remembers its ``file:line:col``.

Reading order:

* :mod:`.source`: YAML/JSON read into maps and lists that carry their locations (untrusted input: no tags,
  bounded aliases and nesting).
* :mod:`.document`: ``extends:``, ``patch:``, ``include:`` and ``--set`` merged into one document; the spec's name.
* :mod:`.expr`: the ``${...}`` expressions (archspec's own parser: no ``eval``).
* :mod:`.annotations`: search annotations (``{choice: [...]}``, ``{int: ...}``).
* :mod:`.fields`: typed field declarations (coercion, defaults, JSON Schema) shared by kinds and sections.
* :mod:`.block_params`: the parameters a block declares.
* :mod:`.training`: the ``training:`` section's declaration and validation.
"""
