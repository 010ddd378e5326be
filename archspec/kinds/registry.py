"""The registry of layer kinds: names and aliases to :class:`~archspec.kinds.base.Kind` s, the did-you-mean text
for an unknown kind, and the coercion of a node's fields to their canonical values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from archspec.errors import close_matches, suggestion
from archspec.kinds.base import ACTIVATIONS, Kind
from archspec.language.fields import FieldError

KINDS: dict[str, Kind] = {}
_ALIASES: dict[str, str] = {}

KindT = TypeVar("KindT", bound=Kind)


def register_kind(kind: KindT, replace: bool = False) -> KindT:
    """Add a layer kind (a plugin).  Its name becomes usable in specs."""
    for name in (kind.name, *kind.aliases):
        if not replace and (name in KINDS or name in _ALIASES):
            raise ValueError(f'a kind named "{name}" is already registered')
    KINDS[kind.name] = kind
    for alias in kind.aliases:
        _ALIASES[alias] = kind.name
    return kind


def lookup(name: str) -> Kind | None:
    """The Kind for a name or alias, or None."""
    return KINDS.get(_ALIASES.get(name, name))


def all_names() -> list[str]:
    return sorted(set(KINDS) | set(_ALIASES))


# names other frameworks give to what archspec calls otherwise, or to what it does not have
_KNOWN_AS = {
    "linear": 'the kind is "dense"', "fully_connected": 'the kind is "dense"', "fully_connected_layer":
    'the kind is "dense"', "batch_normalization": 'the kind is "batchnorm"', "batchnormalization":
    'the kind is "batchnorm"', "layernormalization": 'the kind is "layer_norm"', "stochasticdepth":
    'the kind is "drop_path"', "scale": 'the kind is "rescaling" (or "layer_scale" for a learned factor)',
    "concatenate2d": 'the kind is "concat"', "sum": 'the kind is "add"', "mul": 'the kind is "multiply"',
    "squeeze_excite": "squeeze-and-excitation is a block: a global_avg_pool2d with keepdims, two 1×1 conv2d "
    "and a multiply with the block's input",
    "lambda": "Lambda layers are not allowed (a spec is untrusted input); write the computation with kinds",
    "group_norm": "archspec has no group normalization yet", "groupnorm": "archspec has no group normalization yet",
    "instance_norm": "archspec has no instance normalization yet",
    "upsampling2d": "archspec has no upsampling kind yet", "conv2d_transpose": "archspec has no transposed "
    "convolution yet",
}


def suggest_kind(word: object, other_names: Iterable[str] = ()) -> str:
    """The did-you-mean text for an unknown kind: by meaning where the name is known, else by spelling."""
    key = str(word).lower()
    if key in _KNOWN_AS:
        return f" ({_KNOWN_AS[key]})"
    if key in ACTIVATIONS:
        return f' (an activation: write "activation: {key}" as a node, or activation: {key} on a conv2d or dense)'
    close = close_matches(word, [*KINDS, *_ALIASES, *(n for n in other_names if lookup(n) is None)], n=6)
    names = list(dict.fromkeys(_ALIASES.get(c, c) for c in close))  # an alias suggests its kind, once
    return suggestion(names[:3])


def coerce_attrs(kind: Kind, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Apply field defaults and coercions.  Returns (attrs, {field: error message})."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    fields = kind.field_map()
    for name, f in fields.items():
        if name in given and given[name] is not None:
            try:
                out[name] = f.coerce(given[name])
            except FieldError as e:
                errors[name] = str(e)
        elif name in given and given[name] is None and not f.required:
            out[name] = None if f.default is None else f.coerce(f.default)
        elif f.required:
            errors[name] = f'"{name}" is required for {kind.name}' + (f" ({f.doc})" if f.doc else "")
        else:
            out[name] = f.default if f.default is None else f.coerce(f.default)
    if not errors:
        try:
            kind.validate(out)
            out = kind.normalize(out)
        except FieldError as e:
            errors[""] = str(e)
    return out, errors
