"""Writers: specs and schemas written back out.

* :mod:`.emit`: a resolved graph as a flat spec (``archspec resolve``, the run folder's ``spec.resolved.yaml``).
* :mod:`.chosen_spec`: a search's winner written as the user's spec with the chosen values (``best.yaml``).
* :mod:`.schema`: the JSON Schema of the language, from the kinds' and sections' field declarations.
"""
