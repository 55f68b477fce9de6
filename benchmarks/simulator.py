"""Three engines on one model and one population: il2's kernel, scipy, libRoadRunner (SBML).

The population of benchmarks/kernel.py (seeded draws from data/cells.toml's ranges; one year;
two cycles of 14 q8h intervals of synthetic signals with the gap between them, 28 doses; doses
held when L > 20; 10 output times), drawn once for n = 1e5: the kernel runs all of it, scipy and
libRoadRunner its first patients.

(a) `kernel.simulate_population` (numba, 2 threads; rtol 1e-6, atol 1e-9, its defaults) after a
    warm-up call; the compile time (fresh numba cache, child process) is reported apart.
(b) `reference.simulate_reference` (scipy LSODA in Python; rtol 1e-6, atol 1e-9 to match).
(c) libRoadRunner (CVODE; rtol 1e-6, atol 1e-9) on `sbml.cells_sbml`: the model loaded once
    (load time reported apart); per patient its numbers set by name, reset, simulate. The
    patients' values (`sbml.cells_patient`) are prepared before the clock starts. Run again at
    rtol 1e-8, atol 1e-11: at the kernel's nominal tolerances CVODE (BDF) is the less accurate
    engine (x off by up to ~0.1 as a tumour collapses, where the kernel stays within 1e-4 of
    scipy at rtol 1e-10), so the fair ratio lies between the two rows.

Prints a table of virtual patients a second (wall) and CPU microseconds a patient (all threads),
the kernel/engine ratios (issue 20's target: kernel >= 20x libRoadRunner), the agreement of
libRoadRunner with the kernel on its patients, and the machine's load average before and after.
Prints figures; asserts nothing.

    .venv/bin/python benchmarks/simulator.py [--kernel 100000] [--scipy 20] [--roadrunner 200]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numba
import numpy as np

from il2.science.mechanism.cells import STATES
from il2.science.mechanism.kernel import Trajectories, simulate_population
from il2.science.mechanism.reference import simulate_reference
from il2.science.mechanism.sbml import cells_patient, cells_sbml
from kernel import EDGES, HOLD_ABOVE, T_OUT, compile_seconds, population  # benchmarks/kernel.py

RTOL, ATOL = 1e-6, 1e-9
TIGHT = (1e-8, 1e-11)  # libRoadRunner once more, closer to the kernel's actual accuracy
THREADS = 2


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cpus)"
    )


def timed(call: Any) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds (all threads of this process) and the result of call()."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - start, time.process_time() - start_cpu, result


def roadrunner_run(
    args: tuple[np.ndarray, ...], n: int, rtol: float = RTOL, atol: float = ATOL
) -> tuple[float, float, float, dict[str, Any]]:
    """Load time, wall and CPU seconds of n patients on one loaded model, and their results."""
    import roadrunner  # noqa: PLC0415 - a test/benchmark dependency only

    p, y0, given, held, rt_days, rt_gy = args
    patients = [
        cells_patient(p[i], y0[i], EDGES, given[i], held[i], HOLD_ABOVE, rt_days[i], rt_gy[i])
        for i in range(n)
    ]
    document = cells_sbml(p[0], y0[0], EDGES, given[0], held[0], HOLD_ABOVE, rt_days[0], rt_gy[0])
    load_seconds, _, rr = timed(lambda: roadrunner.RoadRunner(document))
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = atol
    rr.integrator.maximum_num_steps = 100_000
    model = rr.model
    species = {name: i for i, name in enumerate(model.getFloatingSpeciesIds())}
    globals_ = {name: i for i, name in enumerate(model.getGlobalParameterIds())}
    names = [name for name in patients[0].values if name not in species]
    g_index = np.array([globals_[name] for name in names], dtype=np.int32)
    s_index = np.array([species[name] for name in STATES], dtype=np.int32)
    times = [0.0, *T_OUT.tolist()]
    y = np.empty((n, T_OUT.size, len(STATES)))
    doses = np.zeros(n, dtype=np.int64)
    extinct = np.full(n, np.nan)

    def run_all() -> None:
        for i, patient in enumerate(patients):
            values = patient.values
            model.setGlobalParameterValues(g_index, np.array([values[k] for k in names]))
            model.setFloatingSpeciesInitAmounts(s_index, np.array([values[k] for k in STATES]))
            rr.reset()
            y[i] = np.asarray(rr.simulate(times=times, selections=list(STATES)))[1:]
            doses[i] = int(rr["doses_given"])
            extinct[i] = float(rr["extinct_day"])

    wall, cpu, _ = timed(run_all)
    return load_seconds, wall, cpu, {"y": y, "doses": doses, "extinct": extinct}


def agreement(kernel: Trajectories, other: dict[str, Any], n: int, label: str) -> str:
    """How far libRoadRunner's patients are from the kernel's."""
    k = kernel.y[:n]
    y = other["y"]
    cells = np.max(np.abs(y[:, :, :3] - k[:, :, :3]) / np.abs(k[:, :, :3]))
    x = 0.0
    for c in (STATES.index("x"), STATES.index("z")):  # the two tumour compartments, alive
        alive = (k[:, :, c] >= 0) & (y[:, :, c] >= 0)
        x = max(x, float(np.max(np.abs(y[:, :, c] - k[:, :, c])[alive])) if alive.any() else 0.0)
    same_doses = int(np.sum(other["doses"] == kernel.doses_given[:n]))
    same_fate = int(np.sum(np.isnan(other["extinct"]) == np.isnan(kernel.extinct_day[:n])))
    return (
        f"{label} vs kernel, {n} patients: E, N, R within {cells:.1e} relative, "
        f"x, z within {x:.1e} (alive); doses equal for {same_doses}/{n}, "
        f"extinction classification equal for {same_fate}/{n}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernel", type=int, default=100_000)
    parser.add_argument("--scipy", type=int, default=20)
    parser.add_argument("--roadrunner", type=int, default=200)
    options = parser.parse_args()
    numba.set_num_threads(min(THREADS, numba.config.NUMBA_NUM_THREADS))
    print(f"before: {load()}; numba {numba.__version__}, {numba.get_num_threads()} threads")
    n = max(options.kernel, options.scipy, options.roadrunner)
    args = population(n)
    p, y0, given, held, rt_days, rt_gy = args

    def simulate(engine: Any, m: int, **tolerances: float) -> Trajectories:
        return engine(
            p[:m], y0[:m], EDGES, given[:m], held[:m], HOLD_ABOVE, rt_days[:m], rt_gy[:m], T_OUT,
            **tolerances,
        )  # fmt: skip

    compile_s = compile_seconds()
    warm_s, _, _ = timed(lambda: simulate(simulate_population, 2))
    rows: list[tuple[str, int, float, float]] = []
    wall, cpu, kernel = timed(lambda: simulate(simulate_population, options.kernel))
    rows.append(
        (f"il2 kernel (numba, {numba.get_num_threads()} threads)", options.kernel, wall, cpu)
    )
    wall, cpu, _ = timed(lambda: simulate(simulate_reference, options.scipy, rtol=RTOL, atol=ATOL))
    rows.append(("scipy simulate_reference (LSODA)", options.scipy, wall, cpu))
    load_s, wall, cpu, rr = roadrunner_run(args, options.roadrunner)
    rows.append(("libRoadRunner on cells_sbml (CVODE)", options.roadrunner, wall, cpu))
    # CVODE at the kernel's nominal tolerances is the less accurate of the two (x off by up to
    # ~0.1 as a tumour collapses, the kernel within 1e-4 of scipy at rtol 1e-10): tighter too.
    _, wall, cpu, rr_tight = roadrunner_run(args, options.roadrunner, TIGHT[0], TIGHT[1])
    rows.append((f"  same, rtol {TIGHT[0]:g}, atol {TIGHT[1]:g}", options.roadrunner, wall, cpu))

    print(f"numba compile (fresh cache, child process): {compile_s:.1f} s; warm-up {warm_s:.2f} s")
    print(f"libRoadRunner model load (SBML -> LLVM, once): {load_s:.2f} s")
    print(
        f"rtol {RTOL:g}, atol {ATOL:g} unless stated; one year, 28 q8h doses in 2 cycles, "
        "10 outputs"
    )
    head = (
        f"{'engine':<40} {'n':>7} {'wall s':>8} {'patients/s':>12} {'CPU us/pt':>10} "
        f"{'kernel x':>9}"
    )
    print(head)
    print("-" * len(head))
    kernel_rate = rows[0][1] / rows[0][2]
    for label, count, seconds, cpu_s in rows:
        rate = count / seconds
        print(
            f"{label:<40} {count:>7,} {seconds:>8.2f} {rate:>12,.0f} "
            f"{cpu_s / count * 1e6:>10,.0f} {kernel_rate / rate:>9,.1f}"
        )
    kernel_cpu = rows[0][3] / rows[0][1]
    rr_cpu = rows[2][3] / rows[2][1]
    print(
        f"kernel / libRoadRunner: {kernel_rate / (rows[2][1] / rows[2][2]):.1f}x wall "
        f"(target >= 20x), {rr_cpu / kernel_cpu:.1f}x per CPU second"
    )
    print(agreement(kernel, rr, options.roadrunner, "libRoadRunner"))
    print(agreement(kernel, rr_tight, options.roadrunner, f"libRoadRunner at rtol {TIGHT[0]:g}"))
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
