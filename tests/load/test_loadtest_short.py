"""The load test (bench/loadtest.py), short: 4 clients for 5 s through the local gateway while
RunPod faults rotate every half second. `make loadtest` runs the long version.

PODGATE_LOADTEST_SEED repeats a run's request mix and fault schedule (the seed is printed in
the failure message); timing still varies, so a repeat is close, not identical.
"""

from __future__ import annotations

import os

from bench.loadtest import LoadConfig, render, run


def test_a_short_load_run_under_rotating_faults_keeps_every_invariant():
    # Given 4 clients for 5 s, with a new RunPod fault armed every 0.5 s
    seed = os.environ.get("PODGATE_LOADTEST_SEED")
    cfg = LoadConfig(
        clients=4,
        duration=5.0,
        max_requests=1000,
        fault_interval=0.5,
        seed=int(seed) if seed else None,
        results_path=None,
        verbose=False,
    )
    # When the load runs and the reconciler has had its turn
    results = run(cfg)
    # Then there was real traffic and faults really fired
    assert results.requests >= 20, render(results)
    assert sum(results.faults_fired.values()) > 0, render(results)
    # And every invariant holds
    assert results.passed, render(results)
