"""tests/sam is `make test-sam` (real SAM CLI, Docker, root): never collected by `make test`.

Run it with `make test-sam` (tests/sam/run_sam_local.py); docs/DEPLOY-LOCAL-SAM.md says more.
"""

collect_ignore_glob = ["*"]
