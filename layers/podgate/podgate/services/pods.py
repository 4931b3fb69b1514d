"""Pod operations with the ownership rules of shared/API.md.

A `user` sees and acts only on pods it created through the API; an `admin` on every pod of
the RunPod account. A pod the caller may not see is answered exactly like a missing one (404),
so ids of other people's pods cannot be probed. RunPod is the source of truth for a pod's
state; the ownership table only says who created what.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import UTC, datetime

from podgate.errors import (
    PodNotFound,
    RunPodConflict,
    RunPodError,
    RunPodNotFound,
    RunPodTimeout,
    RunPodUnavailable,
)
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
from podgate.observability import count, redact_for_request
from podgate.repositories.pods import PodRecordsRepository
from podgate.services.gpu_catalog import GpuCatalog

log = logging.getLogger(__name__)

# Set on every pod the API creates, so a create whose answer was lost can be found again.
CREATE_TAG_ENV = "PODGATE_CREATE_TAG"
STOPPED_STATES = frozenset({"EXITED"})
CREATE_ATTEMPTS = 2
_POD_ID = re.compile(POD_ID_PATTERN)


def create_tag(pod: RunPodPod) -> str | None:
    return (pod.env or {}).get(CREATE_TAG_ENV)


def _create_tag(username: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{username}\n{idempotency_key}".encode()).hexdigest()[:32]


def _outcome_unknown(exc: RunPodError) -> bool:
    """Did RunPod perhaps start the pod although the call failed? Timeouts, broken connections,
    unreadable answers and plain 5xx (RunPod has answered 500 to a create that billed a pod)
    leave it open; a 4xx refusal does not."""
    if isinstance(exc, (RunPodTimeout, RunPodUnavailable)):
        return True
    return type(exc) is RunPodError and (exc.upstream_status is None or exc.upstream_status >= 500)


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
        if not _POD_ID.fullmatch(pod_id):
            raise PodNotFound()
        record = self._records.get(pod_id)
        if who.is_admin:
            return record
        if record is None or record.owner != who.username:
            raise PodNotFound()
        return record

    def list(self, who: Principal) -> PodListResponse:
        records = (
            self._records.list_all(include_pending=True)
            if who.is_admin
            else self._records.list_by_owner(who.username, include_pending=True)
        )
        by_id = {r.pod_id: r for r in records if not r.pending}
        # A create whose answer was lost leaves only a pending record until the reconciler
        # (or a retry with the same Idempotency-Key) completes it: match those by create tag.
        by_tag = {r.create_tag: r for r in records if r.pending and r.create_tag}
        pods = self._runpod.list_pods()
        items: list[PodItem] = []
        for pod in pods:
            record = by_id.get(pod.id) or by_tag.get(create_tag(pod) or "")
            if record is not None or who.is_admin:
                items.append(_item(pod, record))
        gone = set(by_id) - {p.id for p in pods}
        if gone:
            # Records whose pod no longer exists on RunPod (deleted elsewhere); the reconciler
            # removes them, the list just doesn't show them.
            log.warning("pod records without a RunPod pod", extra={"pod_ids": sorted(gone)})
        items.sort(key=lambda i: (i.created_at or "", i.pod_id))
        return PodListResponse(pods=[i.pod_id for i in items], items=items)

    def get(self, who: Principal, pod_id: str) -> PodItem:
        record = self._visible_record(who, pod_id)
        try:
            pod = self._runpod.get_pod(pod_id)
        except RunPodNotFound:
            raise PodNotFound() from None
        return _item(pod, record)

    def create(
        self, who: Principal, req: CreatePodRequest, *, idempotency_key: str | None = None
    ) -> CreatePodResponse:
        """Create the pod, never leaving it without an ownership record.

        The order is: pending record (names the owner and the create tag), RunPod create with
        the tag in the pod's env, then the pending record is swapped for the real one. If RunPod
        fails in a way that may still have started the pod (timeout, reset, 5xx), the pod is
        looked up by its tag before anything is retried or answered. With an Idempotency-Key
        the tag is derived from user and key, so a retry finds the pod an earlier attempt
        started instead of starting a second one.
        """
        redact_for_request(*(req.env or {}).values())
        gpu = self._catalog.resolve(req.gpu_type)
        tag = _create_tag(who.username, idempotency_key)
        pending = PodRecord(
            pod_id=PodRecord.pending_id(tag),
            owner=who.username,
            name=req.name,
            image=req.image,
            gpu_type=gpu.id,
            gpu_count=req.gpu_count,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            create_tag=tag,
        )
        earlier = self._records.get(pending.pod_id) if idempotency_key else None
        pod = self._find_by_tag(tag) if earlier else None
        if pod is None:
            if earlier is None:
                self._records.put(pending)
            pod = self._start(self._runpod_request(req, gpu.id, tag), pending)
        else:
            log.info("an earlier attempt with this key started the pod", extra={"pod_id": pod.id})
        self._records.complete(earlier or pending, pod.id)
        count("PodsCreated")
        log.info("pod created", extra={"pod_id": pod.id, "gpu_type": gpu.id, "owner": who.username})
        return CreatePodResponse(pod_id=pod.id)

    @staticmethod
    def _runpod_request(req: CreatePodRequest, gpu_id: str, tag: str) -> RunPodCreatePod:
        return RunPodCreatePod(
            name=req.name,
            image=req.image,
            cloud=req.cloud_type,
            gpu={"id": gpu_id, "count": req.gpu_count},
            disk=req.container_disk_gb,
            mounts={"persistent": {"size": req.volume_gb, "path": "/workspace"}} if req.volume_gb else None,
            ports=req.ports,
            env={**(req.env or {}), CREATE_TAG_ENV: tag},
        )

    def _start(self, body: RunPodCreatePod, pending: PodRecord) -> RunPodPod:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self._runpod.create_pod(body)
            except (RunPodTimeout, RunPodUnavailable, RunPodError) as exc:
                if not _outcome_unknown(exc):
                    # RunPod refused (capacity, rate limit, bad key...): nothing was started.
                    self._records.delete(pending.pod_id)
                    raise
                log.warning("create failed with an unknown outcome; looking for the pod",
                            extra={"error": type(exc).__name__, "attempt": attempt, "tag": pending.create_tag})
                try:
                    found = self._find_by_tag(pending.create_tag)
                except RunPodError:
                    found = None  # cannot tell; the pending record stays for the reconciler
                if found is not None:
                    return found
                if attempt == CREATE_ATTEMPTS or isinstance(exc, RunPodTimeout):
                    # A timeout has used the time a second attempt would need. The pending
                    # record stays: the reconciler adopts the pod if it turns up.
                    raise
        raise AssertionError("unreachable")

    def _still_exists(self, pod_id: str) -> bool:
        try:
            self._runpod.get_pod(pod_id)
        except RunPodNotFound:
            return False
        return True

    def _find_by_tag(self, tag: str) -> RunPodPod | None:
        return next((p for p in self._runpod.list_pods() if create_tag(p) == tag), None)

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
        count("PodsStopped")
        log.info("pod stopped", extra={"pod_id": pod_id, "by": who.username})
        return StopPodResponse()

    def delete(self, who: Principal, pod_id: str) -> DeletePodResponse:
        record = self._visible_record(who, pod_id)
        try:
            self._runpod.terminate_pod(pod_id)
        except RunPodNotFound:
            if record is None:
                raise PodNotFound() from None
            if self._still_exists(pod_id):
                # A 404 for a pod RunPod still lists is RunPod misbehaving: keep the record,
                # so the owner can see the pod and try again.
                raise RunPodError() from None
            # The pod is already gone (an earlier delete failed after terminating it):
            # finish the job by dropping the record; the next delete is a 404.
            log.info("pod already gone on RunPod; removing its record", extra={"pod_id": pod_id})
        if record is not None:
            self._records.delete(pod_id)
        count("PodsDeleted")
        log.info("pod deleted", extra={"pod_id": pod_id, "by": who.username})
        return DeletePodResponse()
