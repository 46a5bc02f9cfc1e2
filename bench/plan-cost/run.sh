#!/usr/bin/env bash
# What planning costs the hot job functions on PostgreSQL, for migration 0006's versions
# (set-based statements planned on every call) and migration 0007's (primary-key
# statements whose plans are kept per connection).
#
# For each version, on a migrated database with 20,000 jobs, pgbench calls
# printmq_insert_jobs (one job), printmq_apply_results (one result) and
# printmq_mark_dispatched (one job) for 8 s each on one
# connection, with asynchronous commit for the session (the statement's work, not the
# WAL flush). 0006 runs as migrated (force_custom_plan) and with force_generic_plan.
# Then generic-plans.ts, on a second database that starts empty: a connection calls
# printmq_apply_results while the table has 5 jobs (so its kept plan is made then) and
# is timed again at 1,000, 20,000 and 100,000 jobs.
#
#   bash bench/plan-cost/run.sh [ADMIN_URL]   (default postgres://postgres@127.0.0.1:5432/test)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
admin="${1:-postgres://postgres@127.0.0.1:5432/test}"
base="${admin%/*}"
prefix="printmq_plan_cost_$$"
created=()
cleanup () { for name in "${created[@]}"; do psql "$admin" -qc "drop database if exists $name with (force)"; done; }
trap cleanup EXIT
lifecycle="$(cd "$root" && node --import tsx -e "import('./shared/job-states.ts').then((m) => console.log(JSON.stringify({ rank: m.JOB_STATE_RANK, terminal: [...m.TERMINAL_JOB_STATES] })))")"

# new_database NAME VERSION: migrated, one tenant; VERSION 0006 puts those functions back.
new_database () {
  psql "$admin" -qc "create database $1"
  created+=("$1")
  DATABASE_URL="$base/$1" PRINTMQ_LOG_LEVEL=warn node "$root/bin/printmq.js" migrate
  if [ "$2" = 0006 ]; then (cd "$root" && DATABASE_URL="$base/$1" node --import tsx "$here/install-0006.ts"); fi
  psql "$base/$1" -q -f "$here/seed-tenant.sql"
}

calls () {
  for script in insert-one-job apply-one-result mark-one-dispatched; do
    latency="$(PGOPTIONS='-c synchronous_commit=off' pgbench -n -c 1 -T 8 -D "lifecycle='$lifecycle'" -f "$here/$script.sql" "$base/$1" | grep 'latency average')"
    echo "$2 $script: $latency"
  done
}

for version in 0006 0007; do
  full="${prefix}_${version}"
  new_database "$full" "$version"
  psql "$base/$full" -q -f "$here/seed-jobs.sql" >/dev/null
  if [ "$version" = 0006 ]; then
    calls "$full" "0006 planned every call:"
    psql "$base/$full" -qc "alter function printmq_apply_results(text, jsonb, timestamptz, jsonb) set plan_cache_mode = force_generic_plan" \
      -c "alter function printmq_mark_dispatched(text, jsonb, timestamptz) set plan_cache_mode = force_generic_plan" \
      -c "alter function printmq_insert_jobs(text, jsonb, timestamptz, boolean) set plan_cache_mode = force_generic_plan"
    calls "$full" "0006 kept (generic) plan:"
  else
    calls "$full" "0007 as migrated:"
  fi
  empty="${prefix}_${version}_empty"
  new_database "$empty" "$version"
  if [ "$version" = 0006 ]; then
    psql "$base/$empty" -qc "alter function printmq_apply_results(text, jsonb, timestamptz, jsonb) set plan_cache_mode = force_generic_plan"
  fi
  (cd "$root" && DATABASE_URL="$base/$empty" LIFECYCLE="$lifecycle" LABEL="$version" node --import tsx "$here/generic-plans.ts")
done
