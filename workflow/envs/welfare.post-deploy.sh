#!/usr/bin/env bash
# Runs inside the freshly created conda env, from the workflow's working directory (the repo root).
# A GPU site installs its CUDA torch into the env first; pip then keeps it (torch>= range).
set -euo pipefail
pip install --quiet -r requirements.lock
pip install --quiet --no-deps -e .
