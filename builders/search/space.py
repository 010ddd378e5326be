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
from keras_tuner.engine.hyperparameters import Boolean, Choice, Float, Int

from archspec.language.annotations import Annotation
from archspec.resolve import resolve_lenient
from builders.compat.keras_tuner_internals import parent_condition


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


def _get_or_create(hp: kt.HyperParameters, parameter):
    """The value of ``parameter`` in ``hp`` (registered first if new); None while it is inactive."""
    hp.merge([parameter], overwrite=False)
    return hp.values[parameter.name] if hp.is_active(parameter) else None


def declare(hp: kt.HyperParameters, name: str, ann: Annotation, conditions, annotations: dict):
    """Declare (or look up) the hyperparameter for an annotation and return its spec value.

    The hyperparameter carries the conditions (parent choice, values) under which the resolver met
    it; it is built with them directly rather than inside nested ``hp.conditional_scope`` blocks,
    which would require every parent to have been declared under the same enclosing scopes.
    Annotations tied by one ``name:`` (e.g. the width of every iteration of a stage) are one
    hyperparameter, under the conditions of its first use (the least conditioned one).
    """
    known = [h for h in hp.space if h.name == name]
    if known:
        conds = list(known[0].conditions)
    else:
        conds = []
        for parent, values in sorted(conditions, key=lambda c: c[0]):
            parent_ann = annotations.get(parent)
            conds.append(parent_condition(parent, [encode(parent_ann, v) if parent_ann else v for v in values]))
    if ann.head == "choice":
        options = [encode(ann, o) for o in ann.options]
        ordered = None if _scalar_options(ann.options) and not isinstance(ann.options[0], (str, bool)) else False
        value = _get_or_create(hp, Choice(name, options, ordered=ordered, default=encode(ann, ann.default_value()),
                                          conditions=conds))
    elif ann.head == "int":
        value = _get_or_create(hp, Int(name, ann.low, ann.high, step=ann.step, default=ann.default_value(),
                                       sampling="log" if ann.log else "linear", conditions=conds))
    elif ann.head == "float":
        assert ann.low is not None and ann.high is not None  # a parsed float annotation has both bounds
        value = _get_or_create(hp, Float(name, float(ann.low), float(ann.high), step=ann.step,
                                         sampling="log" if ann.log else "linear",
                                         default=float(ann.default_value()), conditions=conds))
    elif ann.head == "bool":
        value = _get_or_create(hp, Boolean(name, default=ann.default_value(), conditions=conds))
    else:  # subset: one on/off switch per option
        default = ann.default_value()
        value = [o for o in ann.options
                 if _get_or_create(hp, Boolean(f"{name}[{o}]", default=o in default, conditions=conds))]
    annotations[name] = ann
    if value is None:  # declared but inactive under the current values: the default stands
        value = encode(ann, ann.default_value()) if ann.head != "subset" else list(ann.default_value())
    return decode(ann, value)


MAX_EXPLORATION_BUILDS = 500


def _probe_values(h):
    if isinstance(h, Boolean):
        return [True, False]
    if isinstance(h, Choice):
        return list(h.values)
    if isinstance(h, Int):
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
