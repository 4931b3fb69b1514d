"""The reconciler on moto with a fake RunPod: every kind of disagreement, and what it does."""

from datetime import UTC, datetime, timedelta

import pytest

from podgate.models.domain import PodRecord
from podgate.models.runpod import RunPodPod
from podgate.repositories.pods import PodRecordsRepository
from podgate.services.reconcile import Reconciler

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class FakeRunPod:
    def __init__(self, *pods: RunPodPod) -> None:
        self.pods = list(pods)

    def list_pods(self):
        return self.pods


def pod(pod_id: str, tag: str | None = None) -> RunPodPod:
    env = {"PODGATE_CREATE_TAG": tag} if tag else {}
    return RunPodPod.model_validate({"id": pod_id, "status": "RUNNING", "env": env})


def record(pod_id: str, owner: str = "alice", tag: str = "", age: timedelta = timedelta(0)) -> PodRecord:
    return PodRecord(pod_id, owner, "n", "img", "Tesla T4", 1, (NOW - age).isoformat(), create_tag=tag)


@pytest.fixture
def repo(dynamodb_tables):
    return PodRecordsRepository(dynamodb_tables["PodsTable"])


def test_every_disagreement(repo):
    repo.put(record("keep1", tag="t-keep"))                                   # fine as is
    repo.put(record("gone1"))                                                 # pod deleted elsewhere
    repo.put(record(PodRecord.pending_id("t-adopt"), owner="bob", tag="t-adopt"))  # answer lost
    repo.put(record(PodRecord.pending_id("t-fresh"), tag="t-fresh"))          # create in flight
    repo.put(record(PodRecord.pending_id("t-old"), tag="t-old", age=timedelta(hours=1)))  # create failed
    runpod = FakeRunPod(pod("keep1", "t-keep"), pod("adopt1", "t-adopt"), pod("stray1", "t-stray"), pod("console1"))

    report = Reconciler(runpod, repo, clock=NOW.timestamp).run()

    assert report.adopted == ["adopt1"]
    assert report.stale_records_removed == ["gone1"]
    assert report.stale_pending_removed == [PodRecord.pending_id("t-old")]
    assert report.untracked_pods == ["stray1"]  # tagged by the API but nobody's: logged, kept
    remaining = {r.pod_id: r.owner for r in repo.list_all(include_pending=True)}
    assert remaining == {"keep1": "alice", "adopt1": "bob", PodRecord.pending_id("t-fresh"): "alice"}


def test_a_second_run_changes_nothing(repo):
    repo.put(record(PodRecord.pending_id("t1"), tag="t1"))
    runpod = FakeRunPod(pod("p1", "t1"))
    Reconciler(runpod, repo, clock=NOW.timestamp).run()
    again = Reconciler(runpod, repo, clock=NOW.timestamp).run()
    assert (again.adopted, again.stale_pending_removed, again.stale_records_removed) == ([], [], [])
