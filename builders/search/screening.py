"""Screening: every candidate an oracle proposes is checked statically, and against those tried, first.

:class:`ScreeningMixin` is mixed into each Keras Tuner oracle archspec uses (:mod:`.oracles`, :mod:`.evolution`).
"""

from __future__ import annotations

import json
import os
import time

from builders.compat.keras_tuner_internals import RandomValuesHook, mark_tried, project_dir

MAX_REJECTIONS_IN_A_ROW = 200


class ScreeningMixin(RandomValuesHook):
    """Mix into a Keras Tuner oracle; ``screen(values) -> (ok, reason, key, costs)``: whether the candidate passes
    the static checks and limits, why not, what identifies it (network and training), and its static costs."""

    screen = None

    def _init_screening(self):
        self._graph_hashes = set()
        self._rejections = 0

    def _reject(self, values, reason, graph_hash):
        self._rejections += 1
        mark_tried(self, values)
        path = os.path.join(project_dir(self), "rejected.jsonl")
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.time(), "reason": reason, "graph_hash": graph_hash,
                                "values": {k: v for k, v in values.items()}}, default=str) + "\n")

    def _accept(self, values):
        """None if values pass the screen (and are new); else the rejection reason."""
        reason, key, _ = self._screened(values)
        if reason is None:
            self._graph_hashes.add(key)
        return reason

    def _screened(self, values):
        """(None, key, static costs) for a new candidate that passes the screen (not yet taken: see
        :meth:`_accept`); (the reason, key, None) for one that does not, recorded as rejected."""
        if self.screen is None:
            return None, None, None
        ok, reason, key, costs = self.screen(values)
        if ok and key in self._graph_hashes:
            ok, reason = False, f"duplicate: resolves to the same network and training ({key}) as an earlier trial"
        if not ok:
            self._reject(values, reason, key)
            return reason, key, None
        return None, key, costs

    def random_values(self, propose):
        for _ in range(MAX_REJECTIONS_IN_A_ROW):
            values = propose()
            if values is None:
                return None
            if self._accept(values) is None:
                return values
        return None

    def get_state(self):
        state = super().get_state()
        state["archspec_graph_hashes"] = sorted(self._graph_hashes)
        state["archspec_rejections"] = self._rejections
        return state

    def set_state(self, state):
        super().set_state(state)
        self._graph_hashes = set(state.get("archspec_graph_hashes", []))
        self._rejections = state.get("archspec_rejections", 0)
