"""Who else used the CPUs while bench/cluster measured: the machine's CPU time against that of
the bench's own processes and their descendants, from /proc."""
from __future__ import annotations

import os
import time
from typing import Dict, List


def _descendants(pid: int) -> List[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0


def _machine_ticks() -> tuple:
    """(busy, of which niced) ticks of the whole machine since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], v[1]  # all but idle and iowait; nice


class CpuMeter:
    """CPU used by the machine and by the bench's processes (this one, etcd, the nodes and their
    workers) between start() and stop(), in cores. Foreign work is split by niceness: a niced
    process (a background build at nice 19) mostly fills what the bench leaves idle, one at nice 0
    takes its share from the bench. Children that exit in between are missed (their time shows
    as foreign), which only overstates the disturbance."""

    def __init__(self, roots: List[int]):
        self.roots = roots

    def _ours(self) -> Dict[int, int]:
        return {p: _cpu_ticks(p) for r in self.roots for p in _descendants(r)}

    def start(self) -> "CpuMeter":
        self.t0, self.machine0, self.ours0, self.load0 = time.monotonic(), _machine_ticks(), self._ours(), os.getloadavg()
        return self

    def stop(self) -> dict:
        hz = os.sysconf("SC_CLK_TCK")
        wall = time.monotonic() - self.t0
        ours1 = self._ours()
        ours = sum(t - self.ours0.get(p, 0) for p, t in ours1.items())
        busy1, nice1 = _machine_ticks()
        busy, nice = busy1 - self.machine0[0], nice1 - self.machine0[1]

        def cores(ticks: float) -> float:
            return round(max(0.0, ticks) / hz / wall, 2)
        return {"wall_s": round(wall, 2), "machine_cpu_cores": cores(busy), "bench_cpu_cores": cores(ours),
                "foreign_cpu_cores": cores(busy - ours), "foreign_niced_cpu_cores": cores(nice),
                "foreign_unniced_cpu_cores": cores(busy - nice - ours),
                "load_avg_start": [round(x, 2) for x in self.load0],
                "load_avg_end": [round(x, 2) for x in os.getloadavg()]}
