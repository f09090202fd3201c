"""Time to first token for a model that is cold (read from its file), staged (a host copy on
the worker) and warm (in the worker's pool), beside llama.cpp (llama-cpp-python in this
process) loading the same GGUF file and answering.

Each row is the median of --repeats tries of one streamed completion (max_tokens 1, a short
prompt), timed from sending the request to its first token event:

  warm        the model is warm
  staged      POST /admin/v1/models/NAME/stage swapped it out first: the request swaps it in
  cold-cache  unloaded first (no host copy); its file is in the page cache
  cold-disk   as cold-cache, with the file dropped from the page cache (posix_fadvise DONTNEED)

llama.cpp: warm = the next completion of a loaded Llama (its prompt cache reset first), in
process, so without Hearth's HTTP round trip; cold-* = Llama(...) construction plus the first
completion, with the file in the page cache or dropped from it (llama.cpp maps the file and
computes from the mapping: it copies nothing). There is no staged state in llama.cpp.

  $(scripts/setup-reference)/bin/python bench/swap/ttft.py --hearthd build/bin/hearthd \\
      --model q4=$HOME/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf \\
      --model f16=$HOME/.cache/hearth/SmolLM2-135M-Instruct.F16.gguf
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
from hearthd_process import free_port, http_get  # noqa: E402

PROMPT = "The capital of France is"


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def admin(port, method, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read().decode())


def first_token_seconds(port, model):
    """Seconds from sending a streamed completion to its first token event."""
    body = json.dumps({"model": model, "prompt": PROMPT, "max_tokens": 1, "temperature": 0, "stream": True})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"{model}: HTTP {resp.status}: {resp.read()[:300]!r}")
    while True:
        line = resp.readline()
        if not line:
            raise RuntimeError(f"{model}: the stream ended without a token")
        if line.startswith(b"data: {"):
            event = json.loads(line[6:])
            if event.get("choices") and event["choices"][0].get("text") is not None:
                seconds = time.perf_counter() - t0
                resp.read()
                conn.close()
                return seconds


def state_of(port, name):
    for m in admin(port, "GET", "/admin/v1/models")["data"]:
        if m["name"] == name:
            return m
    raise RuntimeError(f"no model {name}")


def hearth_rows(args, models):
    tmp = tempfile.mkdtemp(prefix="hearth-ttft-")
    port, admin_port = free_port(), free_port()
    config = os.path.join(tmp, "hearth.toml")
    with open(config, "w") as f:
        f.write(f"[scheduler]\ntoken_budget = 256\n[workers]\nmemory_budget_bytes = {args.budget_mib << 20}\n"
                f"staged_budget_bytes = {args.budget_mib << 20}\n[models]\n")
        for name, path in models.items():
            f.write(f'{name} = "{path}"\n')
    log = open(os.path.join(tmp, "hearthd.log"), "wb")
    proc = subprocess.Popen([args.hearthd, "--config", config, "--listen", f"127.0.0.1:{port}", "--admin-listen",
                             f"127.0.0.1:{admin_port}", "--data-dir", os.path.join(tmp, "data"), "--threads",
                             str(args.threads)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while http_get(f"http://127.0.0.1:{port}/readyz")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hearthd did not become ready; see " + log.name)
            time.sleep(0.1)
        rows = {}
        for name, path in models.items():
            times = {k: [] for k in ("warm", "staged", "cold-cache", "cold-disk")}
            swap_in = []
            admin(admin_port, "POST", f"/admin/v1/models/{name}/load")
            first_token_seconds(port, name)  # the first request after a load pays one-time costs
            for _ in range(args.repeats):
                times["warm"].append(first_token_seconds(port, name))
                admin(admin_port, "POST", f"/admin/v1/models/{name}/stage")
                assert state_of(admin_port, name)["state"] == "staged"
                times["staged"].append(first_token_seconds(port, name))
                swap_in.append(state_of(admin_port, name)["last_swap_in_seconds"])
                admin(admin_port, "POST", f"/admin/v1/models/{name}/unload")
                times["cold-cache"].append(first_token_seconds(port, name))
                admin(admin_port, "POST", f"/admin/v1/models/{name}/unload")
                drop_from_page_cache(path)
                times["cold-disk"].append(first_token_seconds(port, name))
            rows[name] = {k: statistics.median(v) for k, v in times.items()}
            rows[name]["swap_in_seconds"] = statistics.median(swap_in)
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def llama_rows(args, models):
    import llama_cpp

    def first_token(llm):
        t0 = time.perf_counter()
        for _ in llm.create_completion(PROMPT, max_tokens=1, temperature=0, stream=True):
            return time.perf_counter() - t0

    rows = {}
    for name, path in models.items():
        times = {"warm": [], "cold-cache": [], "cold-disk": []}
        for _ in range(args.repeats):
            for kind in ("cold-cache", "cold-disk"):
                if kind == "cold-disk":
                    drop_from_page_cache(path)
                t0 = time.perf_counter()
                llm = llama_cpp.Llama(model_path=path, n_ctx=args.ctx, n_threads=args.threads, verbose=False)
                first_token(llm)
                times[kind].append(time.perf_counter() - t0)
                if kind == "cold-disk":
                    llm.reset()  # else the next completion finds the prompt in its cache
                    times["warm"].append(first_token(llm))
                del llm
        rows[name] = {k: statistics.median(v) for k, v in times.items()}
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hearthd", required=True)
    p.add_argument("--model", action="append", required=True, help="NAME=PATH (repeatable)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ctx", type=int, default=4096, help="llama.cpp's context (Hearth's KV cache is 256 MiB)")
    p.add_argument("--budget-mib", type=int, default=4096, help="memory and staged budgets: room for every model")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "ttft-results.json"))
    args = p.parse_args()
    models = dict(m.split("=", 1) for m in args.model)
    hearth = hearth_rows(args, models)
    llama = llama_rows(args, models)
    result = {"hearth": hearth, "llama.cpp": llama, "repeats": args.repeats, "threads": args.threads,
              "files": {n: os.path.getsize(p) for n, p in models.items()}}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"{'model':6} {'state':11} {'Hearth ms':>10} {'llama.cpp ms':>13} {'ratio':>6}")
    for name in models:
        for kind in ("warm", "staged", "cold-cache", "cold-disk"):
            h = hearth[name][kind] * 1000
            l_ = llama[name].get(kind)
            ratio = f"{l_ * 1000 / h:6.2f}" if l_ else "     -"
            print(f"{name:6} {kind:11} {h:10.1f} {(l_ * 1000 if l_ else float('nan')):13.1f} {ratio}")
        print(f"{name:6} swap-in alone: {hearth[name]['swap_in_seconds'] * 1000:.1f} ms "
              f"({models[name]} {result['files'][name] >> 20} MiB)")


if __name__ == "__main__":
    main()
