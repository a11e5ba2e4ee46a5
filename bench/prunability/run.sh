#!/bin/sh
# The prunability benchmark (see run.py): build the CLI, then run every torchvision model.
set -e
cd "$(dirname "$0")/../.."
dotnet build src/Lopper.Cli -c Release 2>&1 | grep -E "error|Elapsed" || true
exec /usr/bin/python3 bench/prunability/run.py "$@"
