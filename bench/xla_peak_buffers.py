"""Which buffers are live at the peak of XLA's compiled training step, attributed to the spec's layers.

Compiles the step of ``bench/memory_vs_xla.py`` with XLA's dumps on, reads the buffers live at the peak from
XLA's live-range report, and names each by the layer whose operation made it (the ``op_name`` metadata, or
for a fusion without one, its operands').  What investigating the estimate's per-kind rules needs:

    KERAS_BACKEND=jax python bench/xla_peak_buffers.py specs/mobilenet.yaml --batch 32
"""

import argparse
import collections
import glob
import os
import re
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%(\S+) = (\S+) .*?\((.*?)\)(?:, |$)")
OP_NAME = re.compile(r'op_name="([^"]+)"')


def dump_step(spec, batch, folder):
    os.environ["XLA_FLAGS"] = f"--xla_dump_to={folder} --xla_dump_hlo_as_text"
    from memory_vs_xla import xla_bytes

    from archspec import check

    return xla_bytes(check(spec).graph, batch)


def read_instructions(hlo_text):
    """name → (op_name or None, operand names)"""
    table = {}
    for line in hlo_text.splitlines():
        m = INSTRUCTION.match(line)
        if m:
            op = OP_NAME.search(line)
            table[m.group(1)] = (op.group(1) if op else None, re.findall(r"%([\w.\-]+)", m.group(3)))
    return table


def peak_buffers(live_range_text):
    """[(buffer name, bytes)] live at the peak."""
    lines = live_range_text.split("(peak):", 1)[1].split("Stack trace breakdown", 1)[0]
    return [(m.group(1), int(m.group(2))) for m in re.finditer(r"^\s*([\w.\-]+)\{[^}]*\}: (\d+) bytes", lines, re.M)]


def layer_of(name, table, depth=0):
    op, operands = table.get(name, (None, []))
    if op:
        m = re.search(r"(transpose\()?jvp\(([^)]+)\)\)?/(\w+)", op)
        return (("grad " if m.group(1) else "") + m.group(2) + " " + m.group(3)) if m else op.split("/")[-1]
    if depth < 3:
        found = [layer_of(o, table, depth + 1) for o in operands]
        found = [f for f in found if f and not f.startswith("state")]
        if found:
            return "from " + max(found, key=len)
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--top", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        total, parts = dump_step(args.spec, args.batch, folder)
        step = sorted(glob.glob(f"{folder}/*jit_step.cpu_after_optimizations.txt"))[-1]
        table = read_instructions(open(step).read())
        buffers = peak_buffers(open(step.replace(".txt", "-live-range.txt")).read())
    print(f"XLA: {total / 2**20:.1f} MiB (temp {parts['temp'] / 2**20:.1f} MiB); live at the peak "
          f"{sum(b for _, b in buffers) / 2**20:.1f} MiB in {len(buffers)} buffers")
    grouped = collections.Counter()
    for name, size in buffers:
        grouped[layer_of(name, table)] += size
    for what, size in grouped.most_common(args.top):
        print(f"{size / args.batch / 2**10:10.1f} KiB/sample  {what}")


if __name__ == "__main__":
    main()
