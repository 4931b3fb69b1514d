import pytest
from pydantic import ValidationError

from podgate.models.api import CreatePodRequest, PodIdRequest

SEED = {"name": "my-pod", "image": "my-image", "gpu_type": "nvidia-t4"}


def test_seed_body_is_valid_with_documented_defaults():
    req = CreatePodRequest.model_validate(SEED)
    assert (req.gpu_count, req.cloud_type, req.env, req.ports) == (1, "SECURE", None, None)


@pytest.mark.parametrize(
    "change,field",
    [
        ({"gpu_typ": "x"}, "gpu_typ"),
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": "tab\tname"}, "name"),
        ({"name": "   "}, "name"),
        ({"image": "Bad/Image"}, "image"),
        ({"image": "a//b"}, "image"),
        ({"image": "x" * 513}, "image"),
        ({"gpu_count": 0}, "gpu_count"),
        ({"gpu_count": 9}, "gpu_count"),
        ({"cloud_type": "ALL"}, "cloud_type"),
        ({"ports": ["8888"]}, "ports"),
        ({"ports": ["70000/tcp"]}, "ports"),
        ({"env": {"1BAD": "v"}}, "env"),
        ({"env": {"BAD-NAME": "v"}}, "env"),
        ({"env": {"PODGATE_CREATE_TAG": "spoof"}}, "env"),
        ({"env": {"OK": 5}}, "env"),
        # regressions: `$` also matched before a trailing newline; JSON types were coerced
        ({"image": "my-image\n"}, "image"),
        ({"env": {"A\n": "x"}}, "env"),
        ({"gpu_count": "2"}, "gpu_count"),
        ({"gpu_count": True}, "gpu_count"),
        ({"gpu_count": 1.0}, "gpu_count"),
        ({"container_disk_gb": "10"}, "container_disk_gb"),
        ({"name": 5}, "name"),
    ],
)
def test_invalid_create_bodies(change, field):
    with pytest.raises(ValidationError) as info:
        CreatePodRequest.model_validate({**SEED, **change})
    assert field in {str(err["loc"][0]) for err in info.value.errors()}


@pytest.mark.parametrize(
    "image",
    ["my-image", "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04", "ghcr.io/org/app:v1",
     "localhost:5000/team/app", "docker.io/library/ubuntu@sha256:" + "a" * 64],
)
def test_valid_image_references(image):
    assert CreatePodRequest.model_validate({**SEED, "image": image}).image == image


def test_full_create_body():
    req = CreatePodRequest.model_validate(
        {**SEED, "gpu_count": 2, "cloud_type": "COMMUNITY", "container_disk_gb": 40, "volume_gb": 100,
         "ports": ["8888/http", "22/tcp"], "env": {"HF_TOKEN": "secret", "_X1": ""}}
    )
    assert req.env == {"HF_TOKEN": "secret", "_X1": ""}


@pytest.mark.parametrize("pod_id,ok", [("pod-123", True), ("abc_DEF9", True), ("", False), ("a/b", False),
                                        ("x" * 65, False), ("../etc", False), ("abc\n", False), (123, False)])
def test_pod_id(pod_id, ok):
    if ok:
        assert PodIdRequest.model_validate({"pod_id": pod_id}).pod_id == pod_id
    else:
        with pytest.raises(ValidationError):
            PodIdRequest.model_validate({"pod_id": pod_id})
