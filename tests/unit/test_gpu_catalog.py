"""GpuCatalog: friendly GPU names to RunPod ids, against the emulator's catalogue."""

from __future__ import annotations

import pytest

from podgate.clients.runpod import RunPodClient
from podgate.errors import RunPodCapacityError, RunPodError, ValidationFailed
from podgate.models.runpod import RunPodCreatePod
from podgate.services.gpu_catalog import GpuCatalog, slug
from podgate_local.runpod_emulator import RunPodEmulator, default_gpu_types

KEY = "test-runpod-key"
RTX_4090 = "NVIDIA GeForce RTX 4090"
CATALOG_PATH = ("GET", "/v2/catalog/gpus")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(runpod_emulator):
    c = RunPodClient(runpod_emulator.url, lambda: KEY, read_timeout=2.0)
    yield c
    c.close()


@pytest.fixture
def catalog(client, clock) -> GpuCatalog:
    return GpuCatalog(client, ttl_seconds=3600, clock=clock)


def fetches(emulator: RunPodEmulator) -> int:
    return emulator.request_log.count(CATALOG_PATH)


@pytest.mark.parametrize(
    "name,gpu_id",
    [
        (RTX_4090, RTX_4090),
        ("nvidia geforce rtx 4090", RTX_4090),
        ("RTX 4090", RTX_4090),
        ("rtx-4090", RTX_4090),
        ("nvidia-rtx-4090", RTX_4090),
        ("  RTX 4090 ", RTX_4090),
        ("GeForce RTX 4090", RTX_4090),
        # The near miss runpodctl sent (PR #260): RunPod would answer "no instances available".
        ("NVIDIA RTX 4090", RTX_4090),
        ("nvidia-t4", "Tesla T4"),
        ("Tesla T4", "Tesla T4"),
        ("t4", "Tesla T4"),
        ("H100 SXM", "NVIDIA H100 80GB HBM3"),
        ("h100-80gb-hbm3", "NVIDIA H100 80GB HBM3"),
        ("a100-pcie", "NVIDIA A100 80GB PCIe"),
        ("L40", "NVIDIA L40"),
        ("l40s", "NVIDIA L40S"),
        ("mi300x", "AMD Instinct MI300X OAM"),
        ("instinct-mi300x-oam", "AMD Instinct MI300X OAM"),
        ("rtx-4000-ada-sff", "NVIDIA RTX 4000 SFF Ada Generation"),
        ("v100-sxm2-32gb", "Tesla V100-SXM2-32GB"),
    ],
)
def test_friendly_names_resolve_to_runpod_ids(catalog, name, gpu_id):
    assert catalog.resolve(name).id == gpu_id


def test_every_id_and_display_name_of_the_default_catalogue_resolves_to_itself(catalog):
    # No two types of the real catalogue may shadow each other's names or slugs.
    for entry in default_gpu_types():
        assert catalog.resolve(entry["id"]).id == entry["id"]
        assert catalog.resolve(entry["displayName"]).id == entry["id"]
        assert catalog.resolve(slug(entry["displayName"])).id == entry["id"]


def test_the_resolved_type_carries_the_catalogue_entry(catalog):
    gpu = catalog.resolve("rtx-4090")
    assert (gpu.displayName, gpu.memoryInGb, gpu.manufacturer) == ("RTX 4090", 24, "Nvidia")


# Two types whose slugs collide: the v1 enum really lists "NVIDIA  A30" with a double space.
TWIN_A30 = [
    {"id": "NVIDIA A30", "displayName": "A30"},
    {"id": "NVIDIA  A30", "displayName": "A30 (legacy id)"},
    {"id": "NVIDIA L4", "displayName": "L4"},
]


@pytest.fixture
def twins(clock):
    with RunPodEmulator(api_key=KEY, gpu_types=TWIN_A30) as emulator:
        yield GpuCatalog(RunPodClient(emulator.url, lambda: KEY), clock=clock)


def test_an_exact_id_or_display_name_beats_a_slug(twins):
    assert twins.resolve("NVIDIA A30").id == "NVIDIA A30"
    assert twins.resolve("nvidia  a30").id == "NVIDIA  A30"
    assert twins.resolve("A30 (legacy id)").id == "NVIDIA  A30"


def test_a_slug_that_fits_several_types_is_refused_with_the_candidates(twins):
    # When a name is given that only the slugs match, and they match both A30s
    with pytest.raises(ValidationFailed) as err:
        twins.resolve("nvidia-a30")
    # Then it is a 422 listing both ids
    assert err.value.status == 422
    assert err.value.detail == "gpu_type 'nvidia-a30' is ambiguous; use one of: NVIDIA  A30, NVIDIA A30"
    assert err.value.errors == [{"loc": ["body", "gpu_type"], "msg": err.value.detail}]


@pytest.mark.parametrize(
    "name,suggestions",
    [
        ("rtx 4091", ["NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 5090", "NVIDIA GeForce RTX 4080"]),
        ("h100", ["NVIDIA H100 NVL", "NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe"]),
        ("a100", ["NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe"]),
    ],
)
def test_an_unknown_name_is_a_422_with_close_suggestions(catalog, name, suggestions):
    with pytest.raises(ValidationFailed) as err:
        catalog.resolve(name)
    assert err.value.status == 422
    assert err.value.detail == f"Unknown gpu_type {name!r}; did you mean: {', '.join(suggestions)}?"
    assert err.value.errors == [{"loc": ["body", "gpu_type"], "msg": err.value.detail}]


def test_an_unknown_name_without_anything_close_still_gets_real_types_to_pick(catalog):
    # API.md promises a few suggestions; with nothing close, a few real ids beat none (QA defect 12)
    with pytest.raises(ValidationFailed) as err:
        catalog.resolve("quantum annealer")
    assert err.value.detail.startswith("Unknown gpu_type 'quantum annealer'; available types include: ")
    offered = err.value.detail.split(": ", 1)[1].split(", ")
    assert len(offered) == 3 and all(catalog.resolve(gpu_id).id == gpu_id for gpu_id in offered)


def test_a_long_unknown_name_is_quoted_back_truncated(catalog):
    with pytest.raises(ValidationFailed) as err:
        catalog.resolve("x" * 5000)
    assert "x" * 65 not in err.value.detail and len(err.value.detail) < 200


def test_resolving_first_turns_runpods_capacity_answer_into_the_right_id(catalog, client, runpod_emulator):
    # Given the near-miss id that RunPod answers with its capacity message
    near_miss = "NVIDIA RTX 4090"
    with pytest.raises(RunPodCapacityError):
        client.create_pod(RunPodCreatePod(name="a", image="i", gpu={"id": near_miss}))
    # When it is resolved before the create, then the create succeeds on the real id
    pod = client.create_pod(RunPodCreatePod(name="a", image="i", gpu={"id": catalog.resolve(near_miss).id}))
    assert pod.gpu.id == RTX_4090
    # And a name the catalogue does not know never reaches RunPod at all
    with pytest.raises(ValidationFailed):
        catalog.resolve("NVIDIA RTX 9090")
    assert runpod_emulator.request_log.count(("POST", "/v2/pods")) == 2


def test_the_catalogue_is_fetched_once_per_ttl(catalog, clock, runpod_emulator):
    # Given several resolutions within the TTL, successful or not
    catalog.resolve("rtx-4090")
    clock.now += 3599
    catalog.resolve("nvidia-t4")
    with pytest.raises(ValidationFailed):
        catalog.resolve("nope")
    assert fetches(runpod_emulator) == 1
    # When the TTL has passed, the next resolution fetches again
    clock.now += 1
    catalog.resolve("rtx-4090")
    assert fetches(runpod_emulator) == 2


def test_a_failed_refresh_keeps_the_stale_catalogue_and_retries_later(catalog, clock, runpod_emulator):
    # Given a catalogue fetched once, and RunPod failing from now on
    catalog.resolve("rtx-4090")
    runpod_emulator.add_fault("status", status=500, path="/v2/catalog/gpus")
    # When the TTL has passed, the failed refresh falls back to the stale copy
    clock.now += 3600
    assert catalog.resolve("rtx-4090").id == RTX_4090
    # And the next resolutions do not hammer RunPod until a minute has passed
    catalog.resolve("t4")
    assert fetches(runpod_emulator) == 2
    clock.now += 60
    runpod_emulator.clear_faults()
    catalog.resolve("t4")
    assert fetches(runpod_emulator) == 3


def test_without_any_catalogue_a_failure_is_raised(catalog, runpod_emulator):
    runpod_emulator.add_fault("status", status=500, path="/v2/catalog/gpus", times=1)
    with pytest.raises(RunPodError) as err:
        catalog.resolve("rtx-4090")
    assert not isinstance(err.value, ValidationFailed)
    # And the next call tries again rather than remember the failure
    assert catalog.resolve("rtx-4090").id == RTX_4090


def test_an_empty_catalogue_is_runpods_fault_not_the_users(catalog, runpod_emulator):
    runpod_emulator.add_fault("status", status=200, body={"gpus": []}, path="/v2/catalog/gpus", times=1)
    with pytest.raises(RunPodError) as err:
        catalog.resolve("rtx-4090")
    assert err.value.status == 502
    assert catalog.resolve("rtx-4090").id == RTX_4090


@pytest.mark.parametrize(
    "text,expected",
    [("NVIDIA GeForce RTX 4090", "nvidia-geforce-rtx-4090"), ("A100-SXM4-80GB", "a100-sxm4-80gb"),
     ("  RTX  PRO 6000 (Max-Q) ", "rtx-pro-6000-max-q"), ("MIG 1g.24gb", "mig-1g-24gb")],
)
def test_slug(text, expected):
    assert slug(text) == expected
