"""The short load test (CTest load_test): HEARTH_LOAD_CLIENTS (default 1000) concurrent
streaming clients; each completes or is rejected with 429/503 and Retry-After, none fails or
hangs, and hearthd stays healthy. Latencies are printed, never asserted (docs/benchmarks.md)."""
import json
import os

from load import parse_args, run

CLIENTS = int(os.environ.get("HEARTH_LOAD_CLIENTS", "1000"))


def load(*hearthd_args, hold_worker=False):
    argv = ["--clients", str(CLIENTS), "--max-tokens", "2"] + [f"--hearthd-arg={a}" for a in hearthd_args]
    argv += ["--hold-worker"] if hold_worker else []
    summary = run(parse_args(argv))
    print(json.dumps(summary, indent=2))
    assert summary["failed"] == 0, summary["errors"]
    assert summary["hung"] == 0, summary["errors"]
    assert summary["completed"] + summary["rejected"] == CLIENTS
    assert summary["rejected_without_retry_after"] == 0
    assert summary["healthy_after"]
    return summary


def test_every_stream_completes_without_a_queue_limit():
    # The worker is held until every client has its headers, so no stream ends early: all of
    # them must be open at once (with too few HTTP threads the rest would wait unanswered).
    summary = load("--max-queued-requests=0", "--max-queued-tokens=0", hold_worker=True)
    assert summary["completed"] == CLIENTS
    assert summary["peak_open_streams"] == CLIENTS


def test_a_small_queue_limit_rejects_the_rest():
    limit = 50
    summary = load(f"--max-queued-requests={limit}")
    assert summary["rejected"] > 0
    assert summary["rejected_by_status"]["429"] + summary["rejected_by_status"]["503"] == summary["rejected"]
    assert summary["completed"] >= limit
