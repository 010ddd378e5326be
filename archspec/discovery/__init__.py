"""Discovery: a flat imported graph (``archspec import``) made into a readable spec.

* :mod:`.block_discovery`: repeated subgraphs found and made blocks, runs of them ``repeat:``.
* :mod:`.std_block_match`: blocks that are one of archspec's standard blocks written as those.
* :mod:`.readable_spec`: the shortest candidate that resolves back node for node, as YAML.
"""
