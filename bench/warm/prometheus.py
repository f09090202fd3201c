"""Reads Prometheus' text format (hearthd's /metrics) into plain numbers, and the difference of
two scrapes: the counters that grew during the measured part of a run. Pure."""
from __future__ import annotations

import re
from typing import Dict, FrozenSet, Set, Tuple

Sample = Tuple[str, FrozenSet[Tuple[str, str]]]  # (metric name, labels)

_LINE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> Dict[Sample, float]:
    out: Dict[Sample, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = frozenset((k, v.replace('\\"', '"').replace("\\\\", "\\")) for k, v in _LABEL.findall(m.group(3) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(4))
        except ValueError:
            continue
    return out


def delta(before: Dict[Sample, float], after: Dict[Sample, float]) -> Dict[Sample, float]:
    """after - before for every sample of `after` (a sample absent before counts from 0)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def by_label(samples: Dict[Sample, float], name: str, label: str, **match: str) -> Dict[str, float]:
    """The samples of metric `name` whose labels include `match`, summed by the value of `label`."""
    out: Dict[str, float] = {}
    for (n, labels), v in samples.items():
        if n != name:
            continue
        d = dict(labels)
        if label not in d or any(d.get(k) != want for k, want in match.items()):
            continue
        out[d[label]] = out.get(d[label], 0.0) + v
    return out


def families(text: str) -> Set[str]:
    """Metric names the text declares (# TYPE lines), with or without samples yet."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ") and len(line.split()) > 2}
