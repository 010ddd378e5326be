"""How archspec prints large numbers: one formatter for counts, one for bytes, used by every report and diagram."""

from __future__ import annotations


def human(n: float) -> str:
    """Three significant digits with a k/M/G/T suffix: 61706 → ``61.7k``, 25636712 → ``25.6M``, 999 → ``999``."""
    sign, n = ("-", -n) if n < 0 else ("", n)
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size * 0.9995:
            v = n / size
            return f"{sign}{v:.{2 if v < 9.995 else 1 if v < 99.95 else 0}f}{unit}"
    return f"{sign}{int(n)}"


def human_bytes(n: float) -> str:
    """Binary units with one decimal: 512 → ``512 B``, 148_480_000 → ``141.6 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} EiB"
