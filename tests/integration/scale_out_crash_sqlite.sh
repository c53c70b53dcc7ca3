#!/usr/bin/env bash
# ctest-labels: slow
# scale_out_crash_sqlite.sh - scale_out_crash.sh (2 API nodes, 3 workers, kill -9 of workers and
# of an API node; every call and stage exactly once, no duplicate CRM rows or outbox effects) on
# the data directory's SQLite store shared by several processes (WAL), with 20 calls: the
# PostgreSQL run (scale_out_crash) has the 100.
SCALE_STORE=sqlite SCALE_CALLS=${SCALE_CALLS:-20} exec bash "$(dirname "${BASH_SOURCE[0]}")/scale_out_crash.sh"
