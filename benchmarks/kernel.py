"""Throughput of the cell-and-tumour population kernel, and of its scipy reference.

A virtual population drawn (seeded) from the ranges of data/cells.toml (c, r, K, k_E, k_N, p_E,
p_R, T0, Treg/Teff ratio), one-year horizon, two cycles of 14 q8h high-dose-like intervals
(synthetic signals scaled per patient, 10% residual when held), doses held when L > 20, 10
output times. Prints, for the kernel at n = 1e3, 1e4, 1e5 and for scipy (LSODA, rtol 1e-10,
atol 1e-12) at n = 20, virtual patients a second (wall clock), CPU time a patient (all threads:
on a shared host the wall figure follows the load, the CPU one much less) and mean accepted
steps; plus the compile time (a fresh numba cache in a child process) and the first call in
this process (cache load). The load average is printed first.
Target (modeling.md section (c)): >= 10,000 patients a second on 2 cores.

Prints figures; asserts nothing.

    .venv/bin/python benchmarks/kernel.py [--sizes 1000 10000 100000] [--reference 20]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

from il2.science.mechanism.cells import PARAMETERS, cell_model_data, initial_state
from il2.science.mechanism.kernel import Trajectories, simulate_population
from il2.science.mechanism.reference import simulate_reference

EDGES = np.concatenate([np.arange(15) / 3, 14 + np.arange(15) / 3])
T_OUT = np.linspace(36.5, 365.0, 10)
HOLD_ABOVE = 20.0
LEVEL = np.array([0.9, 0.9, 1.0, 0.5])  # cd8, nk, treg, endothelium interval means at full dose

COMPILE = """
import time
import numpy as np
start = time.perf_counter()
from il2.science.mechanism.cells import default_parameters, initial_state
from il2.science.mechanism.kernel import simulate_population
p = default_parameters()[None, :]
y0 = initial_state(p, 1e10)
e = np.array([0.0, 1.0])
s = np.full((1, 1, 4), 0.5)
simulate_population(p, y0, e, s, 0.1 * s, 1.0, np.zeros((1, 0)), np.zeros((1, 0)), np.array([2.0]))
print(time.perf_counter() - start)
"""


def population(n: int, seed: int = 20) -> tuple[np.ndarray, ...]:
    """Parameters, initial states and signals for n virtual patients."""
    rng = np.random.default_rng(seed)
    data = cell_model_data()
    p = np.tile(data.defaults(), (n, 1))
    draws: dict[str, np.ndarray] = {}
    for name, entry in data.ranges.items():
        if entry.scale == "log":
            draws[name] = np.exp(rng.uniform(math.log(entry.low), math.log(entry.high), n))
        else:
            draws[name] = rng.uniform(entry.low, entry.high, n)
        if name in PARAMETERS:
            p[:, PARAMETERS.index(name)] = draws[name]
    # Treg/Teff ratio sets the resting Tregs: s_R = d_R * ratio * E0 (E0 = s_E / d_E)
    e0 = p[:, PARAMETERS.index("s_E")] / p[:, PARAMETERS.index("d_E")]
    p[:, PARAMETERS.index("s_R")] = p[:, PARAMETERS.index("d_R")] * draws["treg_teff_ratio"] * e0
    y0 = initial_state(p, draws["T0"])
    given = np.zeros((n, EDGES.size - 1, 4))
    given[:] = LEVEL
    given *= rng.uniform(0.5, 1.0, (n, 1, 1))
    given[:, 14, :] = 0.0  # the gap between cycles
    none = np.zeros((n, 0))
    return p, y0, given, 0.1 * given, none, none


def run(
    simulate: object, n: int, repeats: int = 1, **tolerances: float
) -> tuple[float, float, Trajectories]:
    """Best wall and CPU (all threads) times of `repeats` runs over n patients, the last result."""
    args = population(n)
    best = math.inf
    cpu = math.inf
    result = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = simulate(  # type: ignore[operator]
            args[0], args[1], EDGES, args[2], args[3], HOLD_ABOVE, args[4], args[5], T_OUT,
            **tolerances,
        )  # fmt: skip
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    if result is None:
        raise RuntimeError("no run")
    return best, cpu, result


def compile_seconds() -> float:
    """Import + compile + one tiny call in a child process with an empty numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        done = subprocess.run(  # noqa: S603 - our own interpreter and script text
            [sys.executable, "-c", COMPILE], env=env, capture_output=True, text=True, check=True
        )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--reference", type=int, default=20)
    options = parser.parse_args()
    print(
        f"numba {numba.__version__}, threads {numba.get_num_threads()}, cpus {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"compile (fresh cache, child process): {compile_seconds():.1f} s")
    start = time.perf_counter()
    run(simulate_population, 2)
    print(f"first call here (cache load): {time.perf_counter() - start:.2f} s")
    for n in options.sizes:
        seconds, cpu, result = run(simulate_population, n, repeats=2 if n <= 10_000 else 1)
        gone = np.mean(~np.isnan(result.extinct_day))
        print(
            f"kernel    n={n:>7,}: {n / seconds:>10,.0f} patients/s  ({seconds:.3f} s; "
            f"CPU {cpu / n * 1e6:.0f} us/patient; mean steps {result.steps.mean():.0f}; "
            f"doses {result.doses_given.mean():.1f}/28; extinct {gone:.1%})"
        )
    if options.reference:
        n = options.reference
        seconds, _, result = run(simulate_reference, n)
        print(
            f"reference n={n:>7,}: {n / seconds:>10,.1f} patients/s  ({seconds:.2f} s; "
            f"LSODA rtol 1e-10; mean steps {result.steps.mean():.0f})"
        )


if __name__ == "__main__":
    main()
