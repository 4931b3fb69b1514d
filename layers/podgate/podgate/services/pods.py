"""Pod operations with the ownership rules of shared/API.md.

A `user` sees and acts only on pods it created through the API; an `admin` on every pod of
the RunPod account. A pod the caller may not see is answered exactly like a missing one (404),
so ids of other people's pods cannot be probed. RunPod is the source of truth for a pod's
state; the ownership table only says who created what.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime

from podgate.errors import PodNotFound, RunPodConflict, RunPodNotFound
from podgate.models.api import (
    POD_ID_PATTERN,
    CreatePodRequest,
    CreatePodResponse,
    DeletePodResponse,
    PodItem,
    PodListResponse,
    StopPodResponse,
)
from podgate.models.domain import PodRecord, Principal
from podgate.models.runpod import RunPodCreatePod, RunPodPod
from podgate.repositories.pods import PodRecordsRepository
from podgate.services.gpu_catalog import GpuCatalog

log = logging.getLogger(__name__)

# Set on every pod the API creates, so a create whose answer was lost can be found again.
CREATE_TAG_ENV = "PODGATE_CREATE_TAG"
STOPPED_STATES = frozenset({"EXITED"})
_POD_ID = re.compile(POD_ID_PATTERN)


def _item(pod: RunPodPod, record: PodRecord | None) -> PodItem:
    gpu = pod.gpu
    return PodItem(
        pod_id=pod.id,
        name=pod.name or (record.name if record else ""),
        image=pod.image or (record.image if record else ""),
        gpu_type=gpu.id if gpu and gpu.id else (record.gpu_type if record else None),
        gpu_count=gpu.count if gpu and gpu.count is not None else (record.gpu_count if record else 0),
        status=pod.status or "PROVISIONING",
        owner=record.owner if record else None,
        created_at=record.created_at if record else pod.createdAt,
        cost_per_hr=pod.cost,
    )


class PodService:
    def __init__(self, runpod, records: PodRecordsRepository, catalog: GpuCatalog) -> None:
        self._runpod = runpod
        self._records = records
        self._catalog = catalog

    def _visible_record(self, who: Principal, pod_id: str) -> PodRecord | None:
        """The pod's record, or PodNotFound when the caller may not see the pod."""
        if not _POD_ID.match(pod_id):
            raise PodNotFound()
        record = self._records.get(pod_id)
        if who.is_admin:
            return record
        if record is None or record.owner != who.username:
            raise PodNotFound()
        return record

    def list(self, who: Principal) -> PodListResponse:
        records = self._records.list_all() if who.is_admin else self._records.list_by_owner(who.username)
        by_id = {r.pod_id: r for r in records}
        pods = self._runpod.list_pods()
        visible = [p for p in pods if who.is_admin or p.id in by_id]
        gone = set(by_id) - {p.id for p in pods}
        if gone:
            # Records whose pod no longer exists on RunPod (deleted elsewhere); the reconciler
            # cleans them up, the list just doesn't show them.
            log.warning("pod records without a RunPod pod", extra={"pod_ids": sorted(gone)})
        items = [_item(p, by_id.get(p.id)) for p in visible]
        items.sort(key=lambda i: (i.created_at or "", i.pod_id))
        return PodListResponse(pods=[i.pod_id for i in items], items=items)

    def get(self, who: Principal, pod_id: str) -> PodItem:
        record = self._visible_record(who, pod_id)
        try:
            pod = self._runpod.get_pod(pod_id)
        except RunPodNotFound:
            raise PodNotFound() from None
        return _item(pod, record)

    def create(self, who: Principal, req: CreatePodRequest) -> CreatePodResponse:
        gpu = self._catalog.resolve(req.gpu_type)
        tag = uuid.uuid4().hex
        body = RunPodCreatePod(
            name=req.name,
            image=req.image,
            cloud=req.cloud_type,
            gpu={"id": gpu.id, "count": req.gpu_count},
            disk=req.container_disk_gb,
            mounts={"persistent": {"size": req.volume_gb, "path": "/workspace"}} if req.volume_gb else None,
            ports=req.ports,
            env={**(req.env or {}), CREATE_TAG_ENV: tag},
        )
        pod = self._runpod.create_pod(body)
        record = PodRecord(
            pod_id=pod.id,
            owner=who.username,
            name=req.name,
            image=req.image,
            gpu_type=gpu.id,
            gpu_count=req.gpu_count,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        try:
            self._records.put(record)
        except Exception:
            # Without a record nobody but an admin could see or stop a pod that bills by the
            # hour: undo the create rather than leave an orphan.
            log.exception("recording pod ownership failed; terminating the new pod", extra={"pod_id": pod.id})
            try:
                self._runpod.terminate_pod(pod.id)
            except Exception:
                log.exception("terminating the unrecorded pod failed", extra={"pod_id": pod.id, "tag": tag})
            raise
        log.info("pod created", extra={"pod_id": pod.id, "gpu_type": gpu.id, "owner": who.username})
        return CreatePodResponse(pod_id=pod.id)

    def stop(self, who: Principal, pod_id: str) -> StopPodResponse:
        self._visible_record(who, pod_id)
        try:
            self._runpod.stop_pod(pod_id)
        except RunPodNotFound:
            raise PodNotFound() from None
        except RunPodConflict:
            # Stop is idempotent (API.md): an already stopped pod is a success, anything else
            # the state machine refuses is a genuine 409.
            try:
                pod = self._runpod.get_pod(pod_id)
            except RunPodNotFound:
                raise PodNotFound() from None
            if pod.status not in STOPPED_STATES:
                raise RunPodConflict(f"Pod is {pod.status} and cannot be stopped") from None
        log.info("pod stopped", extra={"pod_id": pod_id, "by": who.username})
        return StopPodResponse()

    def delete(self, who: Principal, pod_id: str) -> DeletePodResponse:
        record = self._visible_record(who, pod_id)
        try:
            self._runpod.terminate_pod(pod_id)
        except RunPodNotFound:
            if record is None:
                raise PodNotFound() from None
            # The pod is already gone (an earlier delete failed after terminating it):
            # finish the job by dropping the record; the next delete is a 404.
            log.info("pod already gone on RunPod; removing its record", extra={"pod_id": pod_id})
        if record is not None:
            self._records.delete(pod_id)
        log.info("pod deleted", extra={"pod_id": pod_id, "by": who.username})
        return DeletePodResponse()
