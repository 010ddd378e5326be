"""Drawing: a resolved graph as a picture, without TensorFlow.

* :mod:`.dot`: the DOT text written from the IR (kinds coloured, blocks as clusters or collapsed) and Graphviz's
  ``dot`` run on it;
* :mod:`.html`: the self-contained interactive page (cytoscape.js and dagre, bundled in ``assets/``);
* :mod:`.render`: ``archspec render``: the one or the other by the output's suffix.
"""
