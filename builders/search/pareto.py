"""Pareto dominance, NSGA-II's non-dominated sorting and crowding distance, and the hypervolume.

Every point is a tuple of numbers to minimise (see :meth:`builders.search.objectives.Objective.minimised`).
Pure Python: the search's front, its report and the benchmark share these.
"""

from __future__ import annotations


def dominates(a, b) -> bool:
    """True if ``a`` is no worse than ``b`` in every objective and better in one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def non_dominated(points) -> list[int]:
    """The indices of the points no other point dominates (the Pareto front), in their order."""
    return [i for i, p in enumerate(points) if not any(dominates(q, p) for j, q in enumerate(points) if j != i)]


def sort_fronts(points) -> list[list[int]]:
    """NSGA-II's fast non-dominated sort: the indices by front, the non-dominated ones first."""
    dominated_by: list[list[int]] = [[] for _ in points]  # the points each one dominates
    count = [0] * len(points)  # how many points dominate each one
    for i, p in enumerate(points):
        for j, q in enumerate(points):
            if dominates(p, q):
                dominated_by[i].append(j)
            elif dominates(q, p):
                count[i] += 1
    fronts, current = [], [i for i, c in enumerate(count) if c == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    following.append(j)
        current = sorted(following)
    return fronts


def crowding_distance(points, front) -> dict[int, float]:
    """NSGA-II's crowding distance of each index in ``front``: the boundary points get infinity."""
    distance = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: float("inf") for i in front}
    for k in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: points[i][k])
        low, high = points[ordered[0]][k], points[ordered[-1]][k]
        distance[ordered[0]] = distance[ordered[-1]] = float("inf")
        if high == low:
            continue
        for before, i, after in zip(ordered, ordered[1:], ordered[2:]):
            distance[i] += (points[after][k] - points[before][k]) / (high - low)
    return distance


def hypervolume(points, reference) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (exact, by slicing the last objective).

    Points not strictly better than the reference in every objective add nothing.  Exponential in the number
    of objectives, fine for the two to four of a search.
    """
    pts = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference))]
    if not pts:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in pts)
    pts.sort(key=lambda p: p[-1])
    volume = 0.0
    for i, p in enumerate(pts):
        upper = pts[i + 1][-1] if i + 1 < len(pts) else reference[-1]
        if upper > p[-1]:
            volume += hypervolume([q[:-1] for q in pts[:i + 1]], reference[:-1]) * (upper - p[-1])
    return volume
