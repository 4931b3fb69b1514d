"""Reconciliation: make the ownership table and RunPod agree again.

Runs on a schedule (template.yaml: ReconcileFunction, EventBridge), by hand
(`make reconcile`), and in the load test. It fixes what is safe and logs the rest:

- a pending record whose pod exists (found by its create tag) is completed: the pod gets its
  owner, as if the create had finished;
- a pending record with no pod, older than the grace period, is removed (the create failed);
- a record whose pod no longer exists on RunPod is removed (the pod was deleted elsewhere);
- a pod that carries a create tag but has no record at all cannot be given an owner safely:
  it is logged (admins still see and can delete it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from podgate.observability import metrics
from podgate.repositories.pods import PodRecordsRepository
from podgate.services.pods import create_tag

log = logging.getLogger(__name__)

# Longer than any create can take (the function timeout), so an in-flight create is never
# mistaken for a failed one.
PENDING_GRACE_SECONDS = 600


@dataclass
class ReconcileReport:
    adopted: list[str] = field(default_factory=list)
    stale_pending_removed: list[str] = field(default_factory=list)
    stale_records_removed: list[str] = field(default_factory=list)
    untracked_pods: list[str] = field(default_factory=list)
    pods: int = 0
    records: int = 0

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items()}


def _age_seconds(created_at: str, now: float) -> float:
    try:
        return now - datetime.fromisoformat(created_at).timestamp()
    except ValueError:
        return float("inf")  # unreadable timestamps are old enough to clean


class Reconciler:
    def __init__(
        self,
        runpod,
        records: PodRecordsRepository,
        *,
        pending_grace_seconds: float = PENDING_GRACE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._runpod = runpod
        self._records = records
        self._grace = pending_grace_seconds
        self._clock = clock

    def run(self) -> ReconcileReport:
        # Records first, pods second: a create that completes in between then shows up as a
        # pod with no record yet (left alone), never as a record with no pod (deleted).
        records = self._records.list_all(include_pending=True)
        pods = self._runpod.list_pods()
        now = self._clock()
        report = ReconcileReport(pods=len(pods), records=len(records))
        pod_ids = {p.id for p in pods}
        by_tag = {tag: p for p in pods if (tag := create_tag(p))}
        recorded = {r.pod_id for r in records if not r.pending}

        for rec in (r for r in records if r.pending):
            pod = by_tag.get(rec.create_tag)
            if pod is not None and pod.id not in recorded:
                self._records.complete(rec, pod.id)
                recorded.add(pod.id)
                report.adopted.append(pod.id)
            elif pod is not None:
                self._records.delete(rec.pod_id)  # completed meanwhile; the pending copy is left over
            elif _age_seconds(rec.created_at, now) > self._grace:
                self._records.delete(rec.pod_id)
                report.stale_pending_removed.append(rec.pod_id)

        for rec in (r for r in records if not r.pending and r.pod_id not in pod_ids):
            self._records.delete(rec.pod_id)
            report.stale_records_removed.append(rec.pod_id)

        report.untracked_pods = sorted(
            p.id for p in pods if p.id not in recorded and create_tag(p) is not None
        )
        if report.untracked_pods:
            log.warning("pods started by the API have no ownership record; only admins see them",
                        extra={"pod_ids": report.untracked_pods})
        for name, found in (
            ("ReconcileAdopted", report.adopted),
            ("ReconcileStaleRecords", report.stale_records_removed),
            ("ReconcileUntrackedPods", report.untracked_pods),
        ):
            metrics.add_metric(name=name, unit="Count", value=len(found))
        log.info("reconciled", extra=report.as_dict())
        return report
