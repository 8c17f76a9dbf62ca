#!/bin/sh
# smoke-pass: the always-passing fixture of the GPU validation images. It
# proves the plumbing (image build, publish, sandbox start, assertion), not
# the GPU: the SUCCESS marker on stdout, exit 0.
echo "smoke-pass: running as uid $(id -u) in $(pwd)" >&2
echo "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass"
exit 0
