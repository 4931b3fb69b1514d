#!/usr/bin/env bash
# tools/sam.sh ARGS...: the AWS SAM CLI this repository pins, run as `sam ARGS...`.
#
# On first use (or when SAM_CLI_VERSION changes) it installs aws-sam-cli==$SAM_CLI_VERSION from
# PyPI into its own venv, $SAM_VENV (default: .venv-sam in the repository, git-ignored by the
# .gitignore inside it). No Docker and no root needed: `make build` and `make validate` use it on
# a fresh machine and in CI. `make test-sam` hands the same venv to sam-local-setup.sh, so one
# SAM CLI serves build, validate and `sam local`.
#
# `sam build` without --use-container runs the python3.13 workflow for the functions, which needs
# a python3.13 on PATH: $PYTHON_BOOT (the root Makefile's), else pyenv's 3.13.x, else PATH's.
# The layer's Makefile uses the same interpreter's pip (layers/podgate/Makefile).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
SAM_VENV="${SAM_VENV:-$ROOT/.venv-sam}"

find_python313() {
  local p
  for p in ${PYTHON_BOOT:-} $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 2>/dev/null) \
           $(command -v python3.13 2>/dev/null || true); do
    if "$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

PY313="$(find_python313)" || {
  echo "tools/sam.sh: python3.13 not found (pyenv install 3.13, or set PYTHON_BOOT=/path/to/python3.13)" >&2
  exit 1
}

have=""
[ -x "$SAM_VENV/bin/sam" ] && have="$("$SAM_VENV/bin/sam" --version 2>/dev/null | awk '{print $NF}')" || true
if [ "$have" != "$SAM_CLI_VERSION" ]; then
  echo "tools/sam.sh: installing aws-sam-cli==$SAM_CLI_VERSION into $SAM_VENV" >&2
  t0=$SECONDS
  if [ ! -x "$SAM_VENV/bin/python" ]; then
    "$PY313" -m venv "$SAM_VENV"
  fi
  # Keep the venv out of git (python3.13's venv writes this too; older ones don't).
  echo '*' >"$SAM_VENV/.gitignore"
  "$SAM_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION" \
    2> >(grep -v "^WARNING: Location" >&2)
  echo "tools/sam.sh: $("$SAM_VENV/bin/sam" --version) installed in $((SECONDS - t0)) s" >&2
fi

# The real python3.13 first on PATH: SAM's build workflows and the layer's pip run on it.
export PATH="$(dirname "$PY313"):$PATH"
export SAM_CLI_TELEMETRY=0
# The Makefile's PYTHONPATH is for the dev venv; the SAM CLI's interpreter must not import from it.
unset PYTHONPATH
exec "$SAM_VENV/bin/sam" "$@"
