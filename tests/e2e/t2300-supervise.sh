#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2300-supervise: the agent runs the service in the live release, in its own
# process group with a clean environment; restarts it after a crash with a
# growing delay and no busy loop or zombies; stops the whole group, with KILL
# after stop_timeout; and takes over cleanly from an agent killed with -9.
# shellcheck disable=SC2016 # wait_for evaluates its single-quoted conditions
. "$(dirname "$0")/lib.sh"

SERVE="$AGENT_PY -m http.server"
# The service starts only when the release holds a file "ok".
gated() {	# prints the command line for the config
	echo "command = [ -e ok ] || { echo \"no ok file\" >&2; exit 3; }; exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1"
}

# The utime + stime of PID in milliseconds.
cpu_ms() {	# PID
	local f
	read -ra f <<<"$(sed 's/.*) //' "/proc/$1/stat")"
	# fields 14 and 15 of stat; after "pid (comm) " they are 12th and 13th
	echo $(((f[11] + f[12]) * 1000 / $(getconf CLK_TCK)))
}

environment_and_group() {
	agent_fresh
	agent_config "environment = PYTHONUNBUFFERED=1 FOO=bar" "umask = 0027"
	local id pid k keys
	id=$(agent_release 1)
	agent_switch "$id"
	SECRET_OF_THE_CALLER=leak agent_start
	agent_wait_state ready
	pid=$(agent_json pid "$T/status.json")
	tr '\0' '\n' <"/proc/$pid/environ" >"$T/env"
	cat "$T/env"
	keys=$(sed 's/=.*//' "$T/env" | sort | tr '\n' ' ')
	for k in $keys; do
		case "$k" in
		PATH | HOME | LANG | REDEPLOY_RELEASE | REDEPLOY_COMMIT | FOO | \
			PYTHONUNBUFFERED) ;;
		PWD) ;;	# /bin/sh exports it
		*) fail "unexpected variable $k in the service's environment" ;;
		esac
	done
	for k in PATH HOME REDEPLOY_RELEASE REDEPLOY_COMMIT FOO; do
		grep -q "^$k=" "$T/env" || fail "no $k in the service's environment"
	done
	grep -qx "REDEPLOY_RELEASE=$id" "$T/env" || fail "REDEPLOY_RELEASE is not $id"
	grep -qx "REDEPLOY_COMMIT=$(agent_sha "$id")" "$T/env" ||
		fail "REDEPLOY_COMMIT is not the commit of $id"
	grep -qx "FOO=bar" "$T/env" || fail "FOO=bar from the config is missing"
	[ "$(readlink "/proc/$pid/cwd")" = "$LIVE/releases/$id" ] ||
		fail "cwd is $(readlink "/proc/$pid/cwd"), not the release"
	grep -q '^Umask:[[:space:]]*0027$' "/proc/$pid/status" ||
		fail "umask: $(grep Umask "/proc/$pid/status")"
	# its own process group (and session), not the agent's
	local pgid sid apgid
	read -r pgid sid <<<"$(ps -o pgid=,sid= -p "$pid")"
	apgid=$(ps -o pgid= -p "$AGENT_PID" | tr -d ' ')
	[ "$pgid" = "$pid" ] || fail "the service's pgid is $pgid, not its pid $pid"
	[ "$pgid" != "$apgid" ] || fail "the service is in the agent's process group"
	echo "pgid=$pgid sid=$sid agent pgid=$apgid"
	# stdin is not the agent's: /dev/null
	[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ] ||
		fail "the service's stdin is $(readlink "/proc/$pid/fd/0")"
}

clean_signals() {
	agent_fresh "command = exec sleep 1000" "ready = none"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local pid
	pid=$(agent_json pid "$T/status.json")
	grep -q '^SigBlk:[[:space:]]*0*$' "/proc/$pid/status" ||
		fail "the service starts with blocked signals: $(grep SigBlk "/proc/$pid/status")"
	grep -q '^SigIgn:[[:space:]]*0*$' "/proc/$pid/status" ||
		fail "the service starts with ignored signals: $(grep SigIgn "/proc/$pid/status")"
}

# A crash loop: restarts 1 -> 7 with delays 0.2 0.4 0.4 0.4 0.4 0.4
# (restart_delay 0.1 doubling, capped at 0.4) take ~2.2 s, the agent mostly
# sleeping; the state is backoff, the last exit code 3; no zombies; each
# exit is one line with exit=, signal=, uptime=.
crash_loop_checks() {
	local t0 t1 c0 c1 r
	wait_for '[ "$(agent_field restarts)" -ge 1 ]' 5 ||
		fail "no restart after the service exited; status: $(cat "$T/status.json")"
	t0=$(agent_ms)
	c0=$(cpu_ms "$AGENT_PID")
	wait_for '[ "$(agent_field restarts)" -ge 7 ]' 10
	t1=$(agent_ms)
	c1=$(cpu_ms "$AGENT_PID")
	echo "restarts 1 -> 7 in $((t1 - t0)) ms, agent cpu $((c1 - c0)) ms"
	[ $((t1 - t0)) -ge 1500 ] ||
		fail "6 restarts in $((t1 - t0)) ms: no growing delay (expected ~2.2 s)"
	[ $((t1 - t0)) -le 8000 ] ||
		fail "6 restarts took $((t1 - t0)) ms: restart_max_delay 0.4 not applied"
	[ $((c1 - c0)) -lt $(((t1 - t0) / 2)) ] ||
		fail "the agent used $((c1 - c0)) ms of cpu in $((t1 - t0)) ms: busy loop"
	agent_wait_state backoff
	[ "$(agent_json last_exit.code "$T/status.json")" = 3 ] ||
		fail "last_exit: $(cat "$T/status.json")"
	r=$(agent_json restarts "$T/status.json")
	wait_for '[ "$(agent_field restarts)" -gt '"$r"' ]' 5 ||
		fail "restarts do not increase"
	wait_for '[ -z "$(agent_zombies)" ]' 3 ||
		fail "zombies of the agent: $(agent_zombies | tr '\n' ' ')"
	grep 'exit=3' "$AGENT_ERR" | grep 'signal=' | grep -q 'uptime=' ||
		fail "no line with exit=3 signal= uptime= in the agent's log:
$(sed 's/^/| /' "$AGENT_ERR")"
}

crash_loop_from_start() {
	agent_fresh
	agent_config "$(gated)" "restart_delay = 0.1" "restart_max_delay = 0.4"
	local id
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	crash_loop_checks
	grep -q 'no ok file' "$AGENT_ERR" || fail "the service's stderr is not logged"
	# fixed in place: the next attempt comes up by itself
	touch "$LIVE/releases/$id/ok"
	agent_wait_state ready 5
	agent_service_answers
}

crash_loop_after_ready() {
	agent_fresh
	agent_config "command = [ -e crash ] && { echo crashing >&2; exit 3; }; exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1" \
		"restart_delay = 0.1" "restart_max_delay = 0.4"
	local id pid
	id=$(agent_release 1)
	agent_switch "$id"
	agent_start
	agent_wait_state ready
	pid=$(agent_json pid "$T/status.json")
	touch "$LIVE/releases/$id/crash"
	kill -KILL "$pid"
	crash_loop_checks
	grep -q 'crashing' "$AGENT_ERR" || fail "the service's stderr is not logged"
	rm "$LIVE/releases/$id/crash"
	agent_wait_state ready 5
	agent_service_answers
	[ "$(agent_servers | wc -l)" -eq 1 ] || fail "servers: $(agent_servers)"
}

backoff_then_fixed_release() {
	agent_fresh
	agent_config "$(gated)" "restart_delay = 20" "restart_max_delay = 30"
	local bad good t0 t1
	bad=$(agent_release 1)
	good=$(agent_release 2 ok)
	agent_switch "$bad"
	agent_start
	wait_for '[ "$(agent_field last_exit.code)" = 3 ]' 10
	# a fixed release and a restart: no waiting for the 20 s backoff
	agent_switch "$good"
	t0=$(agent_ms)
	agent_expect 200 POST /restart
	t1=$(agent_ms)
	[ $((t1 - t0)) -lt 10000 ] || fail "the restart waited $((t1 - t0)) ms"
	[ "$(agent_json release)" = "$good" ] || fail "answer: $(cat "$T/resp.body")"
	agent_service_answers
	agent_wait_state ready
	[ "$(agent_servers | wc -l)" -eq 1 ] || fail "servers: $(agent_servers)"
}

killed_service_restarted() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local old new
	old=$(agent_json pid "$T/status.json")
	kill -KILL "$old"
	wait_for '[ "$(agent_field pid)" != '"$old"' ] && [ "$(agent_json state "$T/status.json")" = ready ]' 10
	new=$(agent_json pid "$T/status.json")
	[ "$(agent_json last_exit.signal "$T/status.json")" = 9 ] ||
		fail "last_exit: $(cat "$T/status.json")"
	[ "$(agent_json restarts "$T/status.json")" -ge 1 ] ||
		fail "restarts: $(cat "$T/status.json")"
	agent_service_answers
	[ "$(agent_servers)" = "$new" ] || fail "servers: $(agent_servers)"
	grep 'signal=9' "$AGENT_ERR" | grep -q 'uptime=' ||
		fail "no exit line with signal=9 uptime= in the agent's log"
}

term_ignored_killed() {
	agent_fresh
	agent_config "command = trap '' TERM; exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1" \
		"stop_timeout = 1.5"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local old t0 t1
	old=$(agent_json pid "$T/status.json")
	t0=$(agent_ms)
	agent_expect 200 POST /restart
	t1=$(agent_ms)
	echo "restart took $((t1 - t0)) ms"
	[ $((t1 - t0)) -ge 1500 ] ||
		fail "the restart took $((t1 - t0)) ms, less than stop_timeout 1.5 s"
	[ $((t1 - t0)) -lt 10000 ] || fail "the restart took $((t1 - t0)) ms"
	! agent_alive "$old" || fail "the old service $old survived"
	[ "$(agent_json pid)" != "$old" ] || fail "same pid"
	agent_service_answers
	[ "$(agent_servers | wc -l)" -eq 1 ] || fail "servers: $(agent_servers)"
}

stop_signal_int() {
	agent_fresh
	agent_config "command = trap '' TERM; exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1" \
		"stop_signal = INT" "stop_timeout = 10"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local t0 t1
	t0=$(agent_ms)
	agent_expect 200 POST /restart
	t1=$(agent_ms)
	[ $((t1 - t0)) -lt 5000 ] ||
		fail "the restart took $((t1 - t0)) ms: INT was not sent"
	agent_expect 200 GET '/log?lines=50'
	grep -q 'Keyboard interrupt' "$T/resp.body" ||
		fail "the service did not see SIGINT: $(cat "$T/resp.body")"
}

sleep_child() {	# PGID: the pid of the sleep 1000 in that group
	local p
	for p in $(agent_group_pids "$1"); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ]; then
			echo "$p"
			return 0
		fi
	done
	fail "no sleep in process group $1"
}

children_die() {
	agent_fresh
	agent_config "command = sleep 1000 & exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local old child
	old=$(agent_json pid "$T/status.json")
	child=$(sleep_child "$old")
	agent_expect 200 POST /restart
	agent_wait_gone "$child" 5 || fail "the old service's child $child survived"
	! agent_alive "$old" || fail "the old service survived"
	sleep_child "$(agent_json pid)" >/dev/null
}

children_ignoring_term_die() {
	agent_fresh
	agent_config "command = (trap '' TERM; exec sleep 1000) & exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1" \
		"stop_timeout = 1"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local old child
	old=$(agent_json pid "$T/status.json")
	child=$(sleep_child "$old")
	agent_expect 200 POST /restart
	# the leader left on TERM; the child that ignored it gets KILL
	agent_wait_gone "$child" 10 ||
		fail "the old group's child $child (ignoring TERM) survived the restart"
	# and the same when the agent stops
	child=$(sleep_child "$(agent_json pid)")
	kill -TERM "$AGENT_PID"
	agent_wait_gone "$AGENT_PID" 15
	! agent_alive "$child" || fail "a child ignoring TERM survived the agent's stop"
}

agent_term_stops_service() {	# SIGNAL
	agent_fresh
	agent_config "command = sleep 1000 & exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local pid child rc=0
	pid=$(agent_json pid "$T/status.json")
	child=$(sleep_child "$pid")
	kill "-$1" "$AGENT_PID"
	wait "$AGENT_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "the agent exited $rc after SIG$1"
	! agent_alive "$pid" || fail "the service $pid survived the agent"
	! agent_alive "$child" || fail "the service's child $child survived"
	[ -z "$(agent_group_pids "$pid")" ] ||
		fail "left in the service's group: $(agent_group_pids "$pid")"
	[ -z "$(agent_servers)" ] || fail "servers left: $(agent_servers)"
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AGENT_SVC_PORT/") || true
	[ "$code" = 000 ] || fail "the service port still answers ($code)"
}
agent_term() { agent_term_stops_service TERM; }
agent_int() { agent_term_stops_service INT; }

agent_kill9_takeover() {
	agent_fresh
	agent_config "command = sleep 1000 & exec $SERVE $AGENT_SVC_PORT --bind 127.0.0.1"
	agent_switch "$(agent_release 1)"
	agent_start
	agent_wait_state ready
	local old child first new
	old=$(agent_json pid "$T/status.json")
	child=$(sleep_child "$old")
	[ -s "$AGENT_TOKEN.service.pid" ] ||
		fail "no pidfile $AGENT_TOKEN.service.pid"
	first=$AGENT_PID
	kill -KILL "$first"
	agent_wait_gone "$first"
	agent_start
	agent_wait_state ready
	new=$(agent_json pid "$T/status.json")
	[ "$new" != "$old" ] || fail "the service was not restarted"
	! agent_alive "$old" || fail "the old service $old still runs"
	! agent_alive "$child" || fail "the old service's child $child still runs"
	[ "$(agent_servers)" = "$new" ] ||
		fail "servers: $(agent_servers | tr '\n' ' '), expected only $new"
	agent_service_answers
}

# A pidfile naming a process group that is not the service's (a pid
# reused since, or a file planted in the directory): nothing is killed.
stale_pidfile_kills_nothing() {
	agent_fresh
	agent_switch "$(agent_release 1)"
	setsid sleep 1000 </dev/null >/dev/null 2>&1 &
	local victim=$!
	at_exit "kill $victim"
	wait_for "[ \"\$(ps -o pgid= -p $victim | tr -d ' ')\" = $victim ]" 5
	echo "$victim" >"$AGENT_TOKEN.service.pid"
	agent_start
	agent_wait_state ready
	agent_alive "$victim" ||
		fail "the agent killed process group $victim named by a stale pidfile"
	kill "$victim"
}

test_expect "the service: clean environment, release cwd, umask, own group" environment_and_group
test_expect "the service starts with no blocked or ignored signals" clean_signals
test_expect "a service that exits at once backs off (no busy loop, no zombies)" crash_loop_from_start
test_expect "a service that was ready and then crash-loops backs off the same" crash_loop_after_ready
test_expect "in backoff, a fixed release + POST /restart comes up at once" backoff_then_fixed_release
test_expect "a service killed with -9 is restarted; last_exit signal 9" killed_service_restarted
test_expect "a service ignoring SIGTERM is killed after stop_timeout" term_ignored_killed
test_expect "stop_signal = INT is the signal sent" stop_signal_int
test_expect "the service's forked children die with it on restart" children_die
test_expect "children that ignore SIGTERM are killed too" children_ignoring_term_die
test_expect "SIGTERM to the agent stops the service group; the agent exits 0" agent_term
test_expect "SIGINT to the agent stops the service group; the agent exits 0" agent_int
test_expect "kill -9 of the agent: a new agent stops the old service, runs one" agent_kill9_takeover
test_expect "a stale pidfile naming another process group kills nothing" stale_pidfile_kills_nothing
agent_kill_all
test_done
