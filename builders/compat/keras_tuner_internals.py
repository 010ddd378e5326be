"""Every use of Keras Tuner's private API, each behind a small named function.

Written against keras-tuner >= 1.4.6, < 1.5: run and tested with 1.4.8; every member used here reads the same
in the 1.4.6 and 1.4.7 sources (1.4.6 is the first with ``Oracle.tuner_ids`` and ``oracle_client.TIMEOUT``).
Importing this module stops with :class:`builders.compat.UntestedVersion` outside that range.
``tests/test_compat_keras_tuner.py`` calls each function here against the installed Keras Tuner.

What archspec needs that Keras Tuner has no public API for:

* a hyperparameter declared under the conditions the resolver met it with, in one step
  (``hp.conditional_scope`` can only nest scopes whose parents were declared under the same enclosing
  scopes); the condition class, ``conditions.Parent``, is not exported;
* the oracle's proposal step (``Oracle._random_values``) and its bookkeeping (the set of value hashes
  tried, the project folder, writing one trial's file; Bayesian's random fallback), so that candidates
  are screened before they become trials;
* whether a tuner is a worker (``BaseTuner._is_worker``);
* a failed trial printed as a traceback on the search's terminal (``config.DEBUG``, on by default);
* the gRPC oracle service of distributed mode (``OracleServicer`` and its protos) and the client's
  timeout, to serve a chief that does not wait forever for a dead worker.
"""

from __future__ import annotations

from builders.compat import require_tested

TESTED_LOW, TESTED_BELOW = "1.4.6", "1.5"
KERAS_TUNER_VERSION = require_tested("keras-tuner", TESTED_LOW, TESTED_BELOW, "archspec search")

from keras_tuner.src.engine import conditions as _conditions  # noqa: E402


def quiet_trial_tracebacks():
    """Keras Tuner prints each failed trial's traceback while ``keras_tuner.src.config.DEBUG`` is on (its default);
    the trial's message keeps it all the same."""
    from keras_tuner.src import config

    config.DEBUG = False


def parent_condition(parent: str, values: list):
    """The condition "hyperparameter ``parent`` has one of ``values``" (``conditions.Parent``)."""
    return _conditions.Parent(parent, values)


class RandomValuesHook:
    """Mix in before a Keras Tuner oracle class: its private proposal step calls :meth:`random_values`.

    ``Oracle._random_values`` proposes one set of values (or None when the space is exhausted); every
    oracle proposes through it.  Subclasses implement ``random_values(propose)``, where ``propose()``
    is the oracle's own step.
    """

    def _random_values(self):
        return self.random_values(super()._random_values)

    def random_values(self, propose):
        return propose()


def mark_tried(oracle, values: dict):
    """Record ``values`` as tried, so that the oracle does not propose them again."""
    oracle._tried_so_far.add(oracle._compute_values_hash(values))


def project_dir(oracle) -> str:
    """The folder where the oracle keeps its state (``<directory>/<project_name>``)."""
    return oracle._project_dir


def random_populate_space(oracle) -> dict:
    """A Bayesian oracle's random proposal, as ``populate_space`` returns it (status and values)."""
    return oracle._random_populate_space()


def end_lost_trial(oracle, tuner_id: str, trial, message: str):
    """Mark a worker's running trial FAILED, forget the worker, and save the trial and the oracle.

    What ``Oracle.end_trial`` does for a trial that reports its end, for one whose worker is gone.
    """
    from keras_tuner.engine.trial import TrialStatus

    trial.status = TrialStatus.FAILED
    trial.message = message
    oracle.ongoing_trials.pop(tuner_id, None)
    oracle.tuner_ids.discard(tuner_id)
    oracle.end_order.append(trial.trial_id)
    oracle._save_trial(trial)
    oracle.save()


def is_worker(tuner) -> bool:
    """Whether ``tuner`` is a worker of a distributed search (its oracle is the chief's, over gRPC)."""
    return tuner._is_worker()


def oracle_servicer_class():
    """The gRPC servicer class of Keras Tuner's chief; it serves ``oracle`` given to its constructor.

    Its instances set ``stop_triggered`` once every worker has been told the search is over.
    """
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    return OracleServicer


def add_oracle_servicer(servicer, server):
    """Register ``servicer`` with a ``grpc.server``."""
    from keras_tuner.src import protos

    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)


def set_client_timeout(seconds: float):
    """How long a worker's oracle client waits for the chief to answer one request."""
    from keras_tuner.src.distribute import oracle_client

    oracle_client.TIMEOUT = seconds
