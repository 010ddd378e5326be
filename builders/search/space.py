"""Search annotations → Keras Tuner hyperparameters, with conditional scopes.

The spec is resolved with a *chooser* that the resolver calls for each search
annotation it actually meets, so only the parameters that are active in a
candidate's structure are created, sampled and recorded; each one is declared
inside ``hp.conditional_scope`` of the choices it depends on (a block type, a
repeat count, an optional node), which keeps inactive parameters out of
Bayesian optimisation (Keras Tuner issues #228, #272, #331).
"""

from __future__ import annotations

import json

import keras_tuner as kt
from keras_tuner.src.engine.hyperparameters import hp_types as _hp_types

from archspec.annotations import Annotation
from archspec.resolve import resolve_lenient


def _scalar_options(options):
    types = {type(o) for o in options}
    return len(types) == 1 and types <= {int, float, str, bool}


def encode(ann: Annotation, value):
    """A spec value as the Keras Tuner value of its hyperparameter."""
    if ann.head == "choice" and not _scalar_options(ann.options):
        return json.dumps(value, sort_keys=True)
    return value


def decode(ann: Annotation, value):
    if ann.head == "choice" and not _scalar_options(ann.options):
        return json.loads(value)
    return value


def declare(hp: kt.HyperParameters, name: str, ann: Annotation, conditions, annotations: dict):
    """Declare (or look up) the hyperparameter for an annotation and return its spec value."""
    scopes = []
    for parent, values in conditions:
        parent_ann = annotations.get(parent)
        encoded = [encode(parent_ann, v) if parent_ann else v for v in values]
        scopes.append(hp.conditional_scope(parent, encoded))
    for scope in scopes:
        scope.__enter__()
    try:
        if ann.head == "choice":
            options = [encode(ann, o) for o in ann.options]
            ordered = None if _scalar_options(ann.options) and not isinstance(ann.options[0], (str, bool)) else False
            value = hp.Choice(name, options, ordered=ordered, default=encode(ann, ann.default_value()))
        elif ann.head == "int":
            value = hp.Int(name, ann.low, ann.high, step=ann.step, sampling="log" if ann.log else "linear",
                           default=ann.default_value())
        elif ann.head == "float":
            value = hp.Float(name, float(ann.low), float(ann.high), step=ann.step,
                             sampling="log" if ann.log else "linear", default=float(ann.default_value()))
        elif ann.head == "bool":
            value = hp.Boolean(name, default=ann.default_value())
        else:  # subset: one on/off switch per option
            default = ann.default_value()
            value = [o for o in ann.options
                     if hp.Boolean(f"{name}[{o}]", default=o in default)]
    finally:
        for scope in reversed(scopes):
            scope.__exit__(None, None, None)
    annotations[name] = ann
    return decode(ann, value)


MAX_EXPLORATION_BUILDS = 500


def _probe_values(h):
    if isinstance(h, _hp_types.Boolean):
        return [True, False]
    if isinstance(h, _hp_types.Choice):
        return list(h.values)
    if isinstance(h, _hp_types.Int):
        return [h.max_value]
    return []


def with_values(hp: kt.HyperParameters, values: dict) -> kt.HyperParameters:
    """A copy of ``hp`` holding ``values``, every other known parameter at its default."""
    out = hp.copy()
    out.values = {**{x.name: x.default for x in hp.space}, **values}
    return out


class SpecHyperModel(kt.HyperModel):
    """A HyperModel whose ``build(hp)`` resolves the annotated spec to a candidate graph.

    It returns the resolved :class:`archspec.ir.Graph`, not a Keras model: the
    candidate is checked statically before anything is built, and trained in a
    process of its own (see ``builders.search.tuner``).
    """

    def __init__(self, document):
        super().__init__(name="archspec", tunable=True)
        self.document = document
        self.annotations = {}

    def declare_hyperparameters(self, hp):
        """Discover the whole space: resolve once per value of each finite parameter.

        The resolver only meets the annotations of the structure it builds (block 2 of a
        repeat exists only when the repeat count is at least 2), so one build at the defaults
        sees part of the space.  Each choice value, each boolean, and the top of each integer
        range (a repeat count's largest value creates every iteration) is forced once, with the
        parameter's parent conditions satisfied, until no new parameter appears.
        """
        self.candidate(hp)
        tried = set()
        for _ in range(MAX_EXPLORATION_BUILDS):
            todo = [(h, v) for h in hp.space for v in _probe_values(h) if (h.name, repr(v)) not in tried]
            if not todo:
                break
            h, v = todo[0]
            tried.add((h.name, repr(v)))
            probe = hp.copy()
            probe.values = {**{x.name: x.default for x in hp.space}, **hp.values,
                            **{c.name: c.values[0] for c in h.conditions}, h.name: v}
            self.candidate(probe)
            known = {x.name for x in hp.space}
            hp.merge([x for x in probe.space if x.name not in known])

    def build(self, hp):
        """The candidate graph for ``hp`` (possibly with errors: see :meth:`candidate`)."""
        return self.candidate(hp)[0]

    def candidate(self, hp):
        """(graph, diagnostics): resolution never raises here, so exploring the space cannot fail."""
        def chooser(name, ann, conditions):
            return declare(hp, name, ann, conditions, self.annotations)

        return resolve_lenient(self.document, chooser)

    def choices(self, hp_values: dict):
        """The spec choices (annotation name → value) of a set of active hyperparameter values."""
        out = {}
        for name, ann in self.annotations.items():
            if ann.head == "subset":
                flags = [(o, hp_values.get(f"{name}[{o}]")) for o in ann.options]
                if any(v is not None for _, v in flags):
                    out[name] = [o for o, v in flags if v]
            elif name in hp_values:
                out[name] = decode(ann, hp_values[name])
        return out
