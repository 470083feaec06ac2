"""CPU seconds used by each program on the machine (all processes, by name), read from
/proc: `cpu_by_program.py snap FILE` saves a snapshot; `cpu_by_program.py diff FILE` prints
the seconds each program used since, largest first, with its share of the total."""

import json
import os
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def snapshot():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        out[pid] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return out


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "snap":
        json.dump(snapshot(), open(path, "w"))
        return
    before = json.load(open(path))
    used = {}
    for pid, (name, secs) in snapshot().items():
        start = before.get(pid, (name, 0.0))[1]
        # Short-lived processes that ended are missed; those that started count whole.
        used[name] = used.get(name, 0.0) + max(0.0, secs - start)
    total = sum(used.values()) or 1.0
    top = sorted(used.items(), key=lambda kv: -kv[1])[:6]
    print(", ".join(f"{n} {s:.1f}s ({100 * s / total:.0f}%)" for n, s in top))


main()
