"""Self-check of bench/spot's trace schedules: python3 bench/spot/test_spot_trace.py"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spot_trace  # noqa: E402


def test_schedule_keeps_one_spot_node_and_caps_restarts():
    availability = [(10.0, 5), (20.0, 4), (30.0, 3), (40.0, 2), (50.0, 3), (60.0, 4), (70.0, 5)]
    got = spot_trace.spot_schedule(availability, 10.0, 70.0, 10.0, 2)
    assert got == [(1.0, "preempt"), (2.0, "skip-preempt"), (3.0, "skip-preempt"), (4.0, "restart"),
                   (5.0, "skip-restart"), (6.0, "skip-restart")], got


def test_arrivals_scaled_to_rate_and_prompts_seeded():
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46.0000000,40,10\r\n"
                "2023-11-16 18:15:47.0000000,80,20\r\n2023-11-16 18:15:50.0000000,8,30")
    rows = spot_trace.read_arrivals(f.name, 3, 0.5)
    os.unlink(f.name)
    assert [round(t, 6) for t, _, _ in rows] == [0.0, 1.0, 4.0], rows  # 2 gaps at 0.5/s: 4 s
    assert spot_trace.prompt_of(3, 400, 48) == spot_trace.prompt_of(3, 400, 48)
    assert len(spot_trace.prompt_of(3, 400, 48).split()) == 48
    assert len(spot_trace.prompt_of(3, 8, 48).split()) == 4


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
    print("ok")
