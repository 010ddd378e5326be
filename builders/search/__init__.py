"""Search back end of ``archspec search`` (Keras Tuner), one job per module.

Read in the order a search goes:

* :mod:`builders.search.tuner`: ``search()``, the orchestration of a search, step by step;
* :mod:`builders.search.space`: search annotations → Keras Tuner hyperparameters, with conditional scopes;
* :mod:`builders.search.objectives`: what is optimised (``--objective METRIC:DIRECTION``, one or several);
* :mod:`builders.search.screening`: every candidate checked statically, and against those tried, first;
* :mod:`builders.search.oracles`: the strategies (random, Bayesian, Hyperband, NSGA-II) with screening;
* :mod:`builders.search.evolution` and :mod:`builders.search.pareto`: NSGA-II and the Pareto arithmetic;
* :mod:`builders.search.runner`, :mod:`builders.search.forkserver`, :mod:`builders.search.worker`: each trial in
  a process of its own, forked from a server that imported TensorFlow once;
* :mod:`builders.search.pruning`: the median rule, epoch by epoch;
* :mod:`builders.search.distributed`: a chief and workers (Keras Tuner's distributed mode), never hanging;
* :mod:`builders.search.report` and :mod:`builders.search.front_report`: the leaderboard, ``best.yaml``, the
  Pareto front.
"""
