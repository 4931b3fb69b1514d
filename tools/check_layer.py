#!/usr/bin/env python3
"""Checks what `sam build` made of PodgateLayer, then prints a one-screen summary.

    python3 tools/check_layer.py [--build-dir .aws-sam/build] [--architecture arm64]

`make build` runs it after `sam build`. It fails (exit 1) when the layer:

* holds a native extension for another machine or Python than the one asked for (an ELF
  e_machine other than the architecture's, or a `.cpython-3XY-` tag other than cp313): the
  mistake a plain `pip install` on the build machine makes, and the one a direct
  `sam build --parameter-overrides Architecture=x86_64` makes without PODGATE_ARCHITECTURE;
* does not match the template's resolved BuildArchitecture for the layer;
* bundles boto3/botocore/s3transfer (the runtime ships them);
* carries caches, tests or type stubs in the podgate package;
* lacks a requirement of layers/podgate/requirements.txt, or holds a version other than the one
  requirements-dev.txt pins (a stale cached build, or a pin changed on one side only).

Standard library only, so it runs before any venv exists.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER_ID = "PodgateLayer"
ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64
TRIPLET = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
PYTHON_TAG = "313"
RUNTIME_SHIPPED = ("boto3", "botocore", "s3transfer")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """name -> version for the `name==version` lines of a requirements file (no -r following)."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if m:
            out[normalize(m.group(1))] = m.group(2)
    return out


def requirement_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if m and not line.lstrip().startswith(("#", "-")):
            names.append(normalize(m.group(1)))
    return names


def elf_machine(path: Path) -> int | None:
    with open(path, "rb") as fh:
        head = fh.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def template_build_architecture(build_dir: Path) -> str | None:
    """PodgateLayer's Metadata.BuildArchitecture in the built template (SAM resolves it)."""
    text = (build_dir / "template.yaml").read_text()
    block = re.search(rf"^  {LAYER_ID}:\n((?:    .*\n|\s*\n)*)", text, re.MULTILINE)
    if not block:
        return None
    m = re.search(r"^\s+BuildArchitecture:\s*(\S+)", block.group(1), re.MULTILINE)
    return m.group(1).strip("'\"") if m else None


def check_package(python_dir: Path) -> list[str]:
    errors = []
    for path in sorted((python_dir / "podgate").rglob("*")):
        junk = path.name in ("__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache", "py.typed")
        if junk or path.suffix in (".pyc", ".pyo", ".pyi") or path.name.startswith("test_"):
            errors.append(f"{path.relative_to(python_dir)}: caches, tests and type stubs stay out of the layer")
    return errors


def check_natives(python_dir: Path, natives: list[Path], architecture: str) -> list[str]:
    errors = []
    want = f"cp{PYTHON_TAG} {TRIPLET[architecture]}"
    for so in natives:
        rel = so.relative_to(python_dir)
        machine = elf_machine(so)
        if machine is None:
            continue
        if machine != ELF_MACHINE[architecture]:
            errors.append(f"{rel}: ELF machine {machine}, not {architecture} ({ELF_MACHINE[architecture]})")
        tag = re.search(r"\.cpython-(\d+)-([a-z0-9_]+-linux-gnu)\.so$", so.name)
        if tag and f"cp{tag.group(1)} {tag.group(2)}" != want:
            errors.append(f"{rel}: built for cp{tag.group(1)} {tag.group(2)}, not {want}")
    return errors


def check_versions(installed: dict[str, str]) -> list[str]:
    errors = []
    layer_reqs = ROOT / "layers" / "podgate" / "requirements.txt"
    for name in requirement_names(layer_reqs):
        if name not in installed:
            errors.append(f"{name} (layers/podgate/requirements.txt) is not in the layer")
    pinned = pins(ROOT / "requirements-dev.txt") | pins(layer_reqs)
    for name, version in sorted(installed.items()):
        if name in pinned and pinned[name] != version:
            errors.append(f"{name} {version} in the layer, {pinned[name]} pinned (stale cache? build with --no-cached)")
    return errors


def check(build_dir: Path, architecture: str) -> tuple[list[str], list[str]]:
    """(errors, summary lines)."""
    python_dir = build_dir / LAYER_ID / "python"
    if not (python_dir / "podgate" / "__init__.py").is_file():
        return [f"{python_dir}/podgate/__init__.py missing: did `sam build` run?"], []
    errors: list[str] = []
    resolved = template_build_architecture(build_dir)
    if resolved != architecture:
        errors.append(f"built template says BuildArchitecture {resolved!r}, expected {architecture!r}")
    bundled = [name for name in RUNTIME_SHIPPED if (python_dir / name).exists()]
    errors += [f"{name} is bundled; the Lambda runtime ships it" for name in bundled]
    errors += check_package(python_dir)
    natives = sorted(p for p in python_dir.rglob("*.so*") if p.is_file())
    errors += check_natives(python_dir, natives, architecture)
    installed = {}
    for info in python_dir.glob("*.dist-info"):
        m = re.match(r"(.+?)-([^-]+)\.dist-info$", info.name)
        if m:
            installed[normalize(m.group(1))] = m.group(2)
    errors += check_versions(installed)

    files = [p for p in python_dir.rglob("*") if p.is_file()]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    functions = sorted(p.name for p in build_dir.iterdir() if p.is_dir() and p.name != LAYER_ID)
    notes = [
        f"layer: {architecture}, {len(installed)} distributions, {len(files)} files, {size_mb:.1f} MB unzipped",
        "native: " + (", ".join(str(p.relative_to(python_dir)) for p in natives) or "none"),
        "dists: " + ", ".join(f"{n}=={v}" for n, v in sorted(installed.items())),
        f"functions ({len(functions)}): " + ", ".join(functions),
    ]
    return errors, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    ap.add_argument(
        "--architecture",
        choices=sorted(ELF_MACHINE),
        help="the architecture asked for (default: the layer's BuildArchitecture in the built template)",
    )
    args = ap.parse_args(argv)
    template = args.build_dir / "template.yaml"
    if not template.is_file():
        print(f"check_layer: ERROR {template} missing: run `make build` first", file=sys.stderr)
        return 1
    architecture = args.architecture or template_build_architecture(args.build_dir) or "arm64"
    errors, notes = check(args.build_dir, architecture)
    for line in notes:
        print(f"check_layer: {line}")
    for line in errors:
        print(f"check_layer: ERROR {line}", file=sys.stderr)
    print(f"check_layer: {'FAILED' if errors else 'ok'} ({args.build_dir})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
