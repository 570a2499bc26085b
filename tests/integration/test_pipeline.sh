#!/usr/bin/env bash
# Pipelined writes against the fixture's PostgreSQL: tests/integration/test_pipeline.c.
source "$(dirname "$0")/lib.sh"
"$MC_BUILD_DIR/tests/integration/test_pipeline"
