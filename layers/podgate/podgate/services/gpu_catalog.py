"""Turns the `gpu_type` a user typed into one of RunPod's GPU ids, or a helpful 422.

RunPod's ids are vendor marketing strings matched exactly ("NVIDIA GeForce RTX 4090"), and a
near miss ("NVIDIA RTX 4090") is not rejected as unknown: RunPod answers that no instances are
available, which sends people hunting for capacity that was never the problem (runpodctl PR
#260). So every name is resolved against the live catalogue before a create, and an unknown
one is a validation error with suggestions.

Accepted, case-insensitively: the id or display name itself, or a slug of either
("rtx-4090", "nvidia-rtx-4090", "RTX 4090"), including the id without its vendor prefix (so
the seed's "nvidia-t4" finds "Tesla T4"). An exact id or display name beats a slug; a slug
that still fits several types is refused with the candidates listed.

The catalogue is fetched once per TTL per container. When a refresh fails, the stale copy is
used: the GPU list changes rarely, and refusing every create while RunPod's catalogue endpoint
hiccups would be worse.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol

from podgate.errors import RunPodError, ValidationFailed
from podgate.models.runpod import GpuType

log = logging.getLogger(__name__)

VENDOR_PREFIXES = ("NVIDIA GeForce ", "NVIDIA ", "Tesla ", "AMD ")
_MAX_SUGGESTIONS = 3
STALE_RETRY_SECONDS = 60.0
_ECHO_CHARS = 64  # how much of an unknown name is quoted back


class GpuTypeSource(Protocol):
    def list_gpu_types(self) -> list[GpuType]: ...


def slug(text: str) -> str:
    """Lowercase, with every run of non-alphanumerics collapsed to one "-"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def aliases(gpu: GpuType) -> set[str]:
    """The slugs a GPU type answers to, besides its exact id and display name."""
    names = {slug(gpu.id)}
    if gpu.displayName:
        names |= {slug(gpu.displayName), "nvidia-" + slug(gpu.displayName)}
    for prefix in VENDOR_PREFIXES:
        if gpu.id.lower().startswith(prefix.lower()):
            bare = slug(gpu.id[len(prefix) :])
            names |= {bare, "nvidia-" + bare}
    names.discard("")
    return names


class _Index:
    def __init__(self, types: list[GpuType]) -> None:
        self.by_id = {t.id: t for t in types}
        self.exact: dict[str, set[str]] = {}
        self.alias: dict[str, set[str]] = {}
        for gpu in types:
            for name in (gpu.id, gpu.displayName):
                if name:
                    self.exact.setdefault(name.casefold(), set()).add(gpu.id)
            for name in aliases(gpu):
                self.alias.setdefault(name, set()).add(gpu.id)


class GpuCatalog:
    def __init__(
        self,
        client: GpuTypeSource,
        ttl_seconds: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._index: _Index | None = None
        self._fetched_at = 0.0
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def resolve(self, name: str) -> GpuType:
        """The catalogue entry `name` designates; ValidationFailed (422) if none or several."""
        index = self._current()
        query = name.strip()
        for candidates in (index.exact.get(query.casefold()), index.alias.get(slug(query))):
            if not candidates:
                continue
            if len(candidates) > 1:
                choices = ", ".join(sorted(candidates))
                raise _invalid(f"gpu_type {_echo(name)} is ambiguous; use one of: {choices}")
            return index.by_id[next(iter(candidates))]
        suggestions = _suggest(index, query)
        if suggestions:
            raise _invalid(f"Unknown gpu_type {_echo(name)}; did you mean: {', '.join(suggestions)}?")
        # Nothing resembles the name: offer a few real types rather than no help at all.
        examples = ", ".join(sorted(index.by_id)[:_MAX_SUGGESTIONS])
        raise _invalid(f"Unknown gpu_type {_echo(name)}; available types include: {examples}")

    def _current(self) -> _Index:
        with self._lock:
            now = self._clock()
            if self._index is not None and now < self._expires_at:
                return self._index
            try:
                types = self._fetch()
            except RunPodError:
                if self._index is None:
                    raise
                age = now - self._fetched_at
                log.warning("GPU catalogue refresh failed; using the one from %.0f s ago", age)
                # Try again soon, but not on every request while RunPod is down.
                self._expires_at = now + min(self._ttl, STALE_RETRY_SECONDS)
                return self._index
            self._index = _Index(types)
            self._fetched_at = now
            self._expires_at = now + self._ttl
            return self._index

    def _fetch(self) -> list[GpuType]:
        types = self._client.list_gpu_types()
        if not types:
            # RunPod misbehaving; answering "unknown gpu_type" would blame the user for it.
            log.warning("RunPod returned an empty GPU catalogue")
            raise RunPodError()
        return types


def _suggest(index: _Index, query: str) -> list[str]:
    """Up to three ids: first types the name is the start of ("h100" -> every H100), then the
    closest spellings ("rtx-4009" -> RTX 4090)."""
    wanted = slug(query)
    if not wanted:
        return []
    extensions = sorted((a for a in index.alias if a.startswith(wanted + "-")), key=lambda a: (len(a), a))
    # Aliases include the slugs of every id and display name, so they cover both.
    similar = difflib.get_close_matches(wanted, list(index.alias), n=10, cutoff=0.6)
    ids: list[str] = []
    for alias in [*extensions, *similar]:
        for gpu_id in sorted(index.alias[alias]):
            if gpu_id not in ids:
                ids.append(gpu_id)
    return ids[:_MAX_SUGGESTIONS]


def _echo(name: str) -> str:
    return repr(name if len(name) <= _ECHO_CHARS else name[:_ECHO_CHARS] + "...")


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"loc": ["body", "gpu_type"], "msg": message}])
