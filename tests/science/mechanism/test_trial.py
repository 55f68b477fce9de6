"""Virtual trials: common random numbers, determinism across chunks and workers, Dask."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import cloudpickle  # type: ignore[import-untyped]
import numpy as np
import pytest
from distributed import LocalCluster

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.population import CellModel
from il2.science.mechanism.trial import (
    BLOCK,
    Arm,
    block_generator,
    chunks_of,
    draw_blocks,
    held_out_trials,
    make_plan,
    map_chunks,
    run_trial,
)
from il2.science.stats import clopper_pearson


def square(x: int) -> int:
    """A stand-in task for the Dask plumbing (this test module only)."""
    return x * x


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # the stand-in lives in this test module, which the workers cannot import: send it by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as running:
        yield running


def test_map_chunks_on_a_scheduler_keeps_order_and_reports_each_item(cluster: LocalCluster) -> None:
    seen: list[int] = []
    items = list(range(12))
    got = map_chunks(square, items, scheduler=cluster.scheduler_address, on_done=seen.append)
    assert got == [x * x for x in items]
    assert sorted(seen) == items
    assert map_chunks(square, items) == got


def test_chunks_cover_every_block_once() -> None:
    patients = 5 * BLOCK + 17
    for size in (1, 2, 4, 100):
        ranges = chunks_of(patients, size)
        blocks = [b for first, stop in ranges for b in range(first, stop)]
        assert blocks == list(range(6))
    with pytest.raises(InvalidInputError, match="chunk_blocks"):
        chunks_of(10, 0)


def test_block_generators_are_the_spawned_children_of_the_seed() -> None:
    children = np.random.SeedSequence(11).spawn(3)
    for b, child in enumerate(children):
        expected = np.random.default_rng(child).random(4)
        np.testing.assert_array_equal(block_generator(11, b).random(4), expected)


def test_a_patient_is_the_same_whatever_the_trial_size_or_chunking() -> None:
    model = CellModel.bundled()
    small = draw_blocks(make_plan([Arm("hd-label")], "melanoma", 100, 5), 0, 1, model)
    big_plan = make_plan([Arm("hd-label")], "melanoma", BLOCK + 50, 5)
    big = draw_blocks(big_plan, 0, 2, model)
    np.testing.assert_array_equal(small.params, big.params[:100])
    second = draw_blocks(big_plan, 1, 2, model)
    np.testing.assert_array_equal(second.params, big.params[BLOCK:])


def test_trial_counts_and_rates_agree_and_do_not_depend_on_chunking() -> None:
    one = run_trial(
        ["hd-label", "ld-iv-nci"], "renal_cell_carcinoma", BLOCK + 100, 3, chunk_blocks=1
    )
    two = run_trial(
        ["hd-label", "ld-iv-nci"], "renal_cell_carcinoma", BLOCK + 100, 3, chunk_blocks=2
    )
    assert [a.counts for a in one.arms] == [a.counts for a in two.arms]
    for arm in one.arms:
        assert sum(arm.counts.values()) == BLOCK + 100
        k = arm.counts["CR"] + arm.counts["PR"]
        assert arm.orr.value == k / arm.patients
        assert arm.orr.ci95 == pytest.approx(clopper_pearson(k, arm.patients))
        assert arm.cr_rate.value + arm.pr_rate.value == pytest.approx(arm.orr.value)


def test_a_local_cluster_of_two_workers_gives_the_in_process_result() -> None:
    arms = [Arm("sbrt-hd"), Arm("hd-label")]
    here = run_trial(arms, "melanoma", BLOCK + 100, 9, chunk_blocks=1)
    there = run_trial(arms, "melanoma", BLOCK + 100, 9, workers=2, chunk_blocks=1)
    assert [a.counts for a in here.arms] == [a.counts for a in there.arms]


def test_held_out_arms_sit_beside_their_published_figures() -> None:
    found = {c.published.experimental: c for c in held_out_trials(300, 1)}
    curti = found["sbrt-hd"]
    assert curti.published_orr[0].count == 13
    assert curti.published_orr[0].total == 24
    assert curti.published_orr[1].ci95 == pytest.approx(clopper_pearson(7, 20))
    assert curti.simulated[0].arm.sbrt
    assert not curti.simulated[1].arm.sbrt
    yang = found["ld-iv-nci"]
    assert yang.published_cr is None
    assert yang.cr_within is None
    assert isinstance(yang.same_direction, bool)
    assert yang.as_json()["arms"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"diagnosis": "glioma"}, "diagnosis"),
        ({"patients": 0}, "patients"),
        ({"seed": -1}, "seed"),
        ({"arms": [Arm("civ-eu")]}, "regimen"),
        ({"arms": [Arm("no-such")]}, "regimen"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_trials_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    call: dict[str, object] = {
        "arms": [Arm("hd-label")],
        "diagnosis": "melanoma",
        "patients": 10,
        "seed": 1,
    }
    call.update(kwargs)
    with pytest.raises(InvalidInputError) as error:
        run_trial(**call)  # type: ignore[arg-type]
    assert error.value.field == field
