"""Virtual trials: wall time and patients a second of `run_trial` at 1e4 and 1e5 patients, and
with --million at 1e6 (the issue's target: 10^6 patients in under 2 minutes on a 2-core machine).

Each size runs the high-dose label regimen in melanoma (one arm) once after a warm-up of 1,000
patients that loads the compiled kernels (numba's cache: compile time is reported separately, as
the warm-up's time). In this process (numba threads over patients) by default, or on a local Dask
cluster with --workers N. Also times the stages of one chunk of 8,192 patients (draw, PK signals
read from the course's table, the table's build, the exact PK path a patient, ODE kernel,
read-out) so a slow stage is visible; each size's line ends with the load average. Prints
figures; asserts nothing.

    .venv/bin/python benchmarks/trial.py [--million] [--workers N] [--regimen ID]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from il2.science.mechanism import occupancy
from il2.science.mechanism import trial as tr
from il2.science.mechanism.pk import agent_pk
from il2.science.mechanism.population import CellModel
from il2.science.mechanism.readout import best_overall_response, time_point_responses

TARGET_PATIENTS, TARGET_SECONDS = 1_000_000, 120.0


def stages(regimen: str, n: int = 8192) -> None:
    """Seconds per stage of one chunk of `n` patients."""
    plan = tr.make_plan([tr.Arm(regimen)], "melanoma", n, 1)
    model = CellModel.bundled()
    arm = plan.arms[0]
    t0 = time.perf_counter()
    pop = tr.draw_blocks(plan, 0, -(-n // tr.BLOCK), model)
    t1 = time.perf_counter()
    given, held = tr._signals(arm.course, pop)  # the table: built in the warm-up
    read = time.perf_counter() - t1
    occupancy._TABLES.clear()  # once more with the course's table built anew
    t_build = time.perf_counter()
    tr._signals(arm.course, pop)
    build = time.perf_counter() - t_build - read
    exact = 1024
    t_exact = time.perf_counter()
    c = arm.course
    occupancy.population_signals(
        pop.weight_kg[:exact], pop.clearance_scale[:exact], pop.volume_scale[:exact],
        dose_min=c.dose_min, dose_iu_per_kg=c.dose_iu_per_kg,
        infusion_min=np.full(c.doses, c.infusion_min), route=c.route, edges_days=c.edges_days,
        pk=agent_pk("aldesleukin"),
    )  # fmt: skip
    exact_us = (time.perf_counter() - t_exact) / exact * 1e6
    t2 = time.perf_counter()
    from il2.science.mechanism.kernel import simulate_population  # noqa: PLC0415

    rt_days, rt_gy = arm.course.sbrt_for(np.zeros(pop.size, np.int64))
    result = simulate_population(
        pop.params, pop.y0, arm.course.edges_days, given, held, np.inf, rt_days, rt_gy,
        arm.scan_days,
    )  # fmt: skip
    t3 = time.perf_counter()
    from il2.science.mechanism.cells import tumour_cells  # noqa: PLC0415

    cells = tumour_cells(result.y)
    points = time_point_responses(cells, pop.baseline_cells, plan.readout)
    best_overall_response(points, arm.scan_days / 7.0, plan.readout)
    t4 = time.perf_counter()
    print(
        f"stages of {n} patients: draw {t1 - t0:.2f} s, PK signals {read:.2f} s "
        f"from the table ({read / n * 1e6:.1f} us a patient; building it "
        f"once per arm and process: {build:.2f} s; exact path {exact_us:.0f} us a patient), "
        f"kernel {t3 - t2:.2f} s (mean {result.steps.mean():.0f} steps), read-out {t4 - t3:.2f} s"
    )


def main() -> None:
    """Run the sizes and print wall time and throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--million", action="store_true", help="also run 1e6 patients")
    parser.add_argument("--workers", type=int, default=None, help="local Dask workers")
    parser.add_argument("--regimen", default="hd-label")
    args = parser.parse_args()
    start = time.perf_counter()
    tr.run_trial([args.regimen], "melanoma", 1000, 0)
    warm = time.perf_counter() - start
    print(f"warm-up (1,000 patients, loads or compiles the kernels): {warm:.1f} s")
    stages(args.regimen)
    sizes = [10_000, 100_000] + ([TARGET_PATIENTS] if args.million else [])
    for n in sizes:
        result = tr.run_trial([args.regimen], "melanoma", n, 1, workers=args.workers)
        rate = n / result.seconds
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        line = f"{n:>9,} patients: {result.seconds:8.1f} s, {rate:9,.0f} patients/s (load {load})"
        if n == TARGET_PATIENTS:
            line += f" (target: under {TARGET_SECONDS:.0f} s)"
        else:
            line += f" (1e6 at this rate: {TARGET_PATIENTS / rate:.0f} s)"
        arm = result.arms[0]
        print(f"{line}; ORR {arm.orr.value:.3f}, CR {arm.cr_rate.value:.3f}")


if __name__ == "__main__":
    main()
