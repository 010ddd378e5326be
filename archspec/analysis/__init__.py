"""Analysis: what a resolved graph computes and costs, without TensorFlow.

Reading order:

* :mod:`.static`: shapes, parameters, MACs and receptive fields of every node (:func:`analyse`, :func:`check`);
  each kind's rules come from :mod:`archspec.kinds`.
* :mod:`.memory`: the training step's memory (weights, optimizer slots, kept activations, the backward peak).
* :mod:`.report`: the summary table and its JSON.
* :mod:`.diff`: two analysed graphs compared node by node.
* :mod:`.batchnorm_statistics`: warnings about batch-norm moving statistics that will not settle.
"""

from archspec.analysis.static import NOT_COUNTED_IN_MACS, Analysis, NodeInfo, analyse, check

__all__ = ["NOT_COUNTED_IN_MACS", "Analysis", "NodeInfo", "analyse", "check"]
