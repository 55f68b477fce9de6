"""Benchmark: the responder and survival models (`il2.science.prediction.analyse`).

Times the prediction section on synthetic programs of several sizes built in memory, each
treated patient given a generated baseline (ECOG, CA-IX or disease sites, earlier anti-PD-1,
LDH, hemoglobin; a few values missing). The baselines are not tied to the outcomes: the
figures are the cost, not the findings. Beyond `max_patients` treated patients the analysis
takes a seeded sample, so its time stops growing. Prints figures; asserts nothing.
Run with `.venv/bin/python benchmarks/prediction.py [patients ...]`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from decimal import Decimal

import numpy as np

from il2.domain.findings import Value
from il2.science.dataset import Baseline, Program
from il2.science.prediction import analyse
from il2.science.synthetic import synthetic_program

SEED = 20_261_208
SIZES = (500, 2_000, 100_000)


def with_baselines(program: Program, rng: np.random.Generator) -> Program:
    """The program with a generated baseline for every treated patient."""
    first = {c.patient_id: c.first_dose_on for c in program.courses}
    baselines = []
    for patient in program.patients:
        if patient.patient_id not in first:
            continue
        found: dict[str, Value] = {
            "diagnosis": patient.diagnosis,
            "ecog": Decimal(int(rng.integers(0, 2))),
            "labs.ldh_u_l": Decimal(int(rng.integers(120, 600))),
            "labs.ldh_uln_u_l": Decimal(250),
            "labs.hemoglobin_g_dl": Decimal(str(round(float(rng.normal(12.5, 1.5)), 1))),
            "labs.hemoglobin_lln_g_dl": Decimal(12),
            "history.prior_therapies": frozenset({"anti_pd1"} if rng.random() < 0.4 else ()),
        }
        if patient.diagnosis == "renal_cell_carcinoma" and rng.random() < 0.9:
            found["tumour.ca_ix_pct"] = Decimal(int(rng.integers(0, 101)))
        if patient.diagnosis == "melanoma":
            found["tumour.sites"] = frozenset(
                {"skin_subcutaneous"} if rng.random() < 0.2 else {"lung", "lymph_node"}
            )
        baselines.append(Baseline(patient.patient_id, first[patient.patient_id], found))
    return replace(program, baselines=tuple(baselines))


def main(sizes: tuple[int, ...] = SIZES) -> None:
    """Time `analyse` on each size, then again (the second answer is the remembered one)."""
    for patients in sizes:
        rng = np.random.default_rng(SEED)
        program = with_baselines(synthetic_program(patients=patients, rng=rng), rng)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            result = analyse(program, rng=np.random.default_rng(SEED))
            times.append(time.perf_counter() - start)
        counts = result["patients"]
        print(
            f"{patients:>9,} referred, {counts['treated']:>7,} treated, "
            f"{counts['with_baseline']:>5,} analysed: {times[0]:.2f} s first, {times[1]:.2f} s "
            f"again; response {result['response']['verdict']}, "
            f"survival {result['survival']['verdict']}"
        )


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
