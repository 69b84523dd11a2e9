#!/usr/bin/env bash
# Runs `make STAGE` for each STAGE in order (make test calls it with every
# stage), stopping at the first that fails, and says where the time went:
#
#   * a line when each stage starts and ends, with the time of day, the
#     stage's own time and the total so far;
#   * a summary of every stage's time at the end, whether the run passed,
#     failed or was stopped;
#   * with KWASM_TEST_BUDGET=SECONDS (.ci/run sets it below CI's limit), a
#     deadline: when the run outlives it, the process tree of the stage that
#     is still running (which test, which qemu, which compiler) is printed,
#     then the stage is stopped and the run fails with status 124. A CI log
#     that ends in a timeout then names its cause rather than ending mid-line.
#
# Usage: scripts/test-stages.sh STAGE...
set -uo pipefail

budget=${KWASM_TEST_BUDGET:-0}
start=$(date +%s)
stage="" stage_start=$start pid="" watchdog=""
times=()

now() { date +%s; }
stamp() { date -u +%H:%M:%S; }
say() { echo "==> [$(stamp) +$(($(now) - start))s] $*"; }

summary() {
	echo "==> stage times (total $(($(now) - start))s):"
	for t in "${times[@]}"; do echo "    $t"; done
}

# The deadline: print what is running, stop it, report, fail.
on_deadline() {
	trap - USR1
	echo
	say "over the budget of ${budget}s (KWASM_TEST_BUDGET) in stage '$stage'," \
		"after $(($(now) - stage_start))s in it; still running:"
	[ -n "$pid" ] && ps --forest -s "$pid" -o pid,etime,time,args | cut -c1-220 | head -n 60
	[ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null
	sleep 5
	[ -n "$pid" ] && kill -KILL -- "-$pid" 2>/dev/null
	times+=("$(printf '%-14s %5ss  stopped at the deadline' "$stage" $(($(now) - stage_start)))")
	summary
	exit 124
}

# Ctrl-C or a TERM from outside: stop the stage's whole process group.
on_stop() {
	trap - INT TERM
	[ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null
	stop_watchdog
	times+=("$(printf '%-14s %5ss  interrupted' "$stage" $(($(now) - stage_start)))")
	summary
	exit 130
}

trap on_deadline USR1
trap on_stop INT TERM

if [ "$budget" -gt 0 ]; then
	(
		trap - INT TERM
		exec >/dev/null 2>&1
		sleep "$budget" && kill -USR1 $$
	) &
	watchdog=$!
fi

stop_watchdog() {
	[ -n "$watchdog" ] || return 0
	pkill -P "$watchdog" 2>/dev/null
	kill "$watchdog" 2>/dev/null
	watchdog=""
}

status=0
for stage in "$@"; do
	stage_start=$(now)
	say "make $stage"
	# Its own process group, so the deadline can stop all of it.
	setsid make --no-print-directory "$stage" &
	pid=$!
	# `wait` returns early when a trapped signal arrives; wait again until
	# the stage has really ended.
	while :; do
		wait "$pid"
		status=$?
		kill -0 "$pid" 2>/dev/null || break
	done
	pid=""
	took=$(($(now) - stage_start))
	if [ "$status" -ne 0 ]; then
		times+=("$(printf '%-14s %5ss  FAILED (status %s)' "$stage" "$took" "$status")")
		say "make $stage failed after ${took}s (status $status)"
		break
	fi
	times+=("$(printf '%-14s %5ss' "$stage" "$took")")
	say "make $stage: ok in ${took}s"
done

stop_watchdog
summary
exit "$status"
