#!/bin/sh
# smoke-fail: the always-failing fixture of the GPU validation images. A
# harness must report it as failed: the FAILURE marker on stderr, exit 42,
# and nothing on stdout that looks like success.
echo "smoke-fail: running as uid $(id -u) in $(pwd)" >&2
echo "OPENSHELL_GPU_WORKLOAD_FAILURE smoke-fail intentional failure (fixture exits 42)" >&2
exit 42
