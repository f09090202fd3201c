"""hearthd's TOML configuration for one run of the bench, and the budgets that make about a
third of the models warm and another third staged. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

PAGE = 2 << 20  # the worker's pool page (wire::kPoolPageBytes)


@dataclass(frozen=True)
class Budgets:
    memory_bytes: int  # [workers] memory_budget_bytes
    staged_bytes: int  # [workers] staged_budget_bytes


def budgets(pool_bytes: Sequence[int], file_bytes: Sequence[int], warm_fraction: float,
            staged_fraction: float) -> Budgets:
    """The memory budget holds warm_fraction of all models' pool bytes (weights and KV cache, as
    the worker reported them), the staged budget staged_fraction of all their files (a staged
    copy is the file); each at least the largest model, else that model could never be placed
    (or staged), and rounded up to whole pages."""
    def pages(x: float) -> int:
        return -(-int(x) // PAGE) * PAGE

    return Budgets(memory_bytes=pages(max(max(pool_bytes), warm_fraction * sum(pool_bytes))),
                   staged_bytes=pages(max(max(file_bytes), staged_fraction * sum(file_bytes))))


def render(models: Dict[str, str], budget: Optional[Budgets], *, policy: Optional[str], window_s: int, period_s: int,
           prewarm_interval_ms: Optional[int], token_budget: int = 256) -> str:
    """policy and prewarm_interval_ms None write no key (hearthd's defaults: policy "forecast").
    A fixed token budget keeps loads free of the per-model budget profile, the same for every
    policy."""
    lines = ["[scheduler]", f"token_budget = {token_budget}", ""]
    if budget is not None:
        lines += ["[workers]", f"memory_budget_bytes = {budget.memory_bytes}",
                  f"staged_budget_bytes = {budget.staged_bytes}", ""]
    lines += ["[placement]", f"window_seconds = {window_s}", f"period_seconds = {period_s}"]
    if policy is not None:
        lines.append(f'policy = "{policy}"')
    if prewarm_interval_ms is not None:
        lines.append(f"prewarm_interval_ms = {prewarm_interval_ms}")
    lines += ["", "[models]"]
    lines += [f'"{name}" = "{path}"' for name, path in models.items()]
    return "\n".join(lines) + "\n"
