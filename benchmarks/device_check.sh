#!/usr/bin/env bash
# The accelerator check in one command: benchmarks/device_check.py (its docstring says what it
# measures) on a machine whose Python has JAX and the rest of the runtime but not navix and
# tensorboardX, and no network (docs/benchmarks.md#accelerator-check).
#
#   benchmarks/device_check.sh OUT [device_check.py's options, e.g. --budget 400]
#
# The wheels of wheels/device/ (`make device-wheels`, carried with the working tree) are unpacked
# into a folder put on PYTHONPATH, each only where its distribution is missing: no pip, no
# network, nothing of the machine's Python replaced. The repository goes on PYTHONPATH too
# (jaxbidir runs from the checkout, not installed). PYTHON=... chooses the interpreter.
set -euo pipefail

out=${1:?usage: benchmarks/device_check.sh OUT [options]}
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$(command -v python3 || command -v python)}
site=${DEVICE_SITE:-${TMPDIR:-/tmp}/jaxbidir-device-site}
shopt -s nullglob
wheels=("$repo"/wheels/device/*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
  echo "warning: no wheels in $repo/wheels/device (make device-wheels, and carry the folder);" \
    "going on with what $python has" >&2
fi

mkdir -p "$site"
"$python" - "$site" "${wheels[@]}" <<'EOF'
"""Unpack each wheel whose distribution this Python lacks into the folder argv[1] (a wheel is
a zip of what site-packages holds: enough for these, none has a .data folder or scripts)."""
import importlib.metadata
import sys
import zipfile
from pathlib import Path

site = sys.argv[1]
for wheel in map(Path, sys.argv[2:]):
    name = wheel.name.split("-")[0]
    try:
        print(f"{name}: {importlib.metadata.version(name)} already here, kept")
    except importlib.metadata.PackageNotFoundError:
        zipfile.ZipFile(wheel).extractall(site)
        print(f"{name}: unpacked from {wheel.name}")
EOF

export PYTHONPATH="$site:$repo${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" "$repo/benchmarks/device_check.py" "$out" "$@"
