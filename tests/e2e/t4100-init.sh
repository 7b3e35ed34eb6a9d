#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t4100-init: scripts/redeployd.init, the LSB init script for machines
# without systemd, run for real as root with its paths in the scratch
# directory: start waits until the agent answers /health and records its
# pid, a second start starts nothing, status answers as LSB says, reload
# sends SIGHUP, stop takes the agent and its service down, a bad config
# does not start, and a pid file never makes it touch another process.
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

INIT=$TEST_ROOT/scripts/redeployd.init

if ! is_root; then
	test_skip "the init script starts, stops and reports redeployd" "needs root"
	test_done
fi

export REDEPLOYD REDEPLOY_CONFDIR=$T/etc REDEPLOY_RUNDIR=$AGENT_RUN
AGENT_CONFIG=$REDEPLOY_CONFDIR/thesite.ini
PIDF=$AGENT_RUN/thesite.pid

# The scene of the t2xxx tests, its config as $REDEPLOY_CONFDIR/thesite.ini
# (the service user re-reads it on SIGHUP), a release live, and no run
# directory: start makes it.  A static site's config (no [agent]) in the
# same directory is no instance.
mkdir -m 755 "$REDEPLOY_CONFDIR"
agent_fresh
ID=$(agent_release 1)
agent_switch "$ID"
rm -rf "$AGENT_RUN"
printf '[deploy]\npath = %s/static\n' "$T" >"$REDEPLOY_CONFDIR/static.ini"
cp "$AGENT_CONFIG" "$T/thesite.ini"

# Stop, by pid, every agent running a config of $REDEPLOY_CONFDIR (also
# those a failed test did not record), then what agent_kill_all stops.
init_kill_all() {
	local p
	for p in /proc/[0-9]*; do
		grep -qaF -- "$REDEPLOY_CONFDIR/" "$p/cmdline" 2>/dev/null &&
			agent_kill "${p#/proc/}"
	done
	agent_kill_all
}
at_exit init_kill_all

# The tests up to restart_starts_anew are one sequence; the later ones
# begin from this: no agent, no pid file, thesite's config as above, no
# other instance.
init_reset() {
	init_kill_all
	rm -f "$AGENT_RUN"/*.pid
	find "$REDEPLOY_CONFDIR" -name '*.ini' ! -name thesite.ini \
		! -name static.ini -delete
	cp "$T/thesite.ini" "$AGENT_CONFIG"
}

# Run the init script; its output (stdout and stderr) in $T/init.out.
initd() {	# ARGS...
	"$INIT" "$@" >"$T/init.out" 2>&1
}

# Run the init script, failing unless it exits WANT.
init_expect() {	# WANT ARGS...
	local want=$1 rc=0
	shift
	initd "$@" || rc=$?
	[ "$rc" = "$want" ] && return 0
	fail "'redeployd.init $*' exited $rc, expected $want; it said:
$(sed 's/^/| /' "$T/init.out")"
}

# The live redeployd processes running CONFIG (default thesite's).
init_agents() {	# [CONFIG]
	local p exe
	exe=$(readlink -f "$REDEPLOYD")
	for p in /proc/[0-9]*; do
		grep -qaF -- "${1:-$AGENT_CONFIG}" "$p/cmdline" 2>/dev/null || continue
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] || continue
		agent_alive "${p#/proc/}" && echo "${p#/proc/}"
	done
	return 0
}

# The pid in the pid file, after checking that it is the one agent of
# thesite; cleaned up at exit like the agents agent_start starts.
init_pid() {
	local pid agents
	pid=$(cat "$PIDF" 2>/dev/null) || { fail "no pid file $PIDF"; return 1; }
	echo "$pid" >>"$T/agent.pids"
	at_exit "agent_kill $pid"
	agents=$(init_agents)
	[ "$agents" = "$pid" ] ||
		{ fail "pid file says '$pid', the running agents are '$agents'"; return 1; }
	echo "$pid"
}

start_waits_for_health() {
	init_expect 0 start
	output_has "redeployd thesite started (pid" "$T/init.out"
	output_lacks static "$T/init.out"
	[ "$(stat -c %a "$AGENT_RUN")" = 755 ] || fail "run directory mode"
	local pid
	pid=$(init_pid)
	output_has "(pid $pid," "$T/init.out"
	# it said started once the agent answered
	[ "$(agent_health)" = 200 ] || fail "no /health after start"
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f -c $AGENT_CONFIG" ||
		fail "agent runs: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	agent_auth
	agent_wait_state ready
	agent_service_answers
	[ "$(agent_json agent_pid "$T/status.json")" = "$pid" ] ||
		fail "/status agent_pid is not the pid file's $pid: $(cat "$T/status.json")"
}

start_again_is_noop() {
	local pid svc
	pid=$(init_pid)
	svc=$(agent_field pid)
	init_expect 0 start
	output_has "redeployd thesite is already running (pid $pid)" "$T/init.out"
	init_expect 0 start thesite
	output_has "already running" "$T/init.out"
	[ "$(init_pid)" = "$pid" ] || fail "the pid file changed"
	# a second agent would have stopped the service before failing to bind
	[ "$(agent_field pid)" = "$svc" ] || fail "the service was restarted"
	agent_alive "$svc" || fail "the service $svc is gone"
}

status_running() {
	local pid
	pid=$(init_pid)
	init_expect 0 status
	output_has "redeployd thesite is running (pid $pid)" "$T/init.out"
	output_lacks static "$T/init.out"
	init_expect 0 status thesite
	output_has "is running (pid $pid)" "$T/init.out"
}

# SIGHUP: the agent re-reads the config, the running service is left
# alone, the next restart runs it with the new settings.
reload_rereads_config() {
	local pid svc new
	pid=$(init_pid)
	svc=$(agent_field pid)
	agent_config "environment = PYTHONUNBUFFERED=1 INIT_MARK=reloaded"
	init_expect 0 reload
	output_has "redeployd thesite re-reads its config (SIGHUP, pid $pid)" "$T/init.out"
	init_expect 0 force-reload thesite
	sleep 0.5
	[ "$(init_pid)" = "$pid" ] || fail "the agent changed"
	[ "$(agent_field pid)" = "$svc" ] || fail "reload restarted the service"
	agent_expect 200 POST /restart
	new=$(agent_json pid)
	[ "$(live_environ "$new" INIT_MARK)" = reloaded ] ||
		fail "the restarted service did not get the reloaded environment"
}

reload_refuses_bad_config() {
	local pid line
	pid=$(init_pid)
	cp "$AGENT_CONFIG" "$T/good.ini"
	echo "bogus = 1" >>"$AGENT_CONFIG"
	line=$(wc -l <"$AGENT_CONFIG")
	init_expect 1 reload thesite
	output_has "redeployd thesite not reloaded: " "$T/init.out"
	output_has "$AGENT_CONFIG:$line: unknown key 'bogus'" "$T/init.out"
	# restart checks first too: a bad config does not stop the agent
	init_expect 1 restart thesite
	output_has "redeployd thesite not restarted: " "$T/init.out"
	output_has "$AGENT_CONFIG:$line:" "$T/init.out"
	cp "$T/good.ini" "$AGENT_CONFIG"
	[ "$(init_pid)" = "$pid" ] || fail "the agent changed"
	[ "$(agent_health)" = 200 ] || fail "the agent does not answer"
}

stop_takes_all_down() {
	local pid svc
	pid=$(init_pid)
	svc=$(agent_field pid)
	init_expect 0 stop
	output_has "redeployd thesite stopped (was pid $pid)" "$T/init.out"
	! agent_alive "$pid" || fail "the agent $pid still runs"
	! agent_alive "$svc" || fail "the service $svc still runs"
	[ -z "$(agent_servers)" ] || fail "services left: $(agent_servers)"
	[ -z "$(init_agents)" ] || fail "agents left: $(init_agents)"
	[ ! -e "$PIDF" ] || fail "the pid file is left"
	[ "$(agent_health)" = 000 ] || fail "something still answers /health"
	init_expect 0 stop thesite
	output_has "redeployd thesite is not running" "$T/init.out"
}

status_stopped() {
	init_expect 3 status
	output_has "redeployd thesite is not running" "$T/init.out"
	init_expect 3 status thesite
	init_expect 7 reload thesite
	output_has "not running: nothing to reload" "$T/init.out"
}

restart_starts_anew() {
	local old new
	init_expect 0 restart thesite
	output_has "redeployd thesite is not running" "$T/init.out"
	output_has "redeployd thesite started" "$T/init.out"
	old=$(init_pid)
	init_expect 0 restart
	output_has "redeployd thesite stopped (was pid $old)" "$T/init.out"
	new=$(init_pid)
	[ "$new" != "$old" ] || fail "restart kept agent $old"
	! agent_alive "$old" || fail "the old agent $old still runs"
	agent_auth
	agent_wait_state ready
	init_expect 0 try-restart thesite
	output_has "started" "$T/init.out"
	init_pid >/dev/null
	init_expect 0 stop
	init_expect 0 try-restart
	output_has "redeployd thesite is not running: not restarted" "$T/init.out"
	[ ! -e "$PIDF" ] || fail "try-restart started a stopped agent"
}

bad_config_refused() {
	init_reset
	local bad=$REDEPLOY_CONFDIR/broken.ini line
	{
		echo "[agent]"
		echo "listen = 127.0.0.1:$AGENT_SVC_PORT"
		echo "token_file = $AGENT_RUN/broken-token"
		echo "[service]"
		echo "command = true"
		echo "stop_timeout = soon"
	} >"$bad"
	line=6
	init_expect 1 start broken
	output_has "redeployd broken not started: " "$T/init.out"
	output_has "$bad:$line:" "$T/init.out"
	output_has "stop_timeout" "$T/init.out"
	[ ! -e "$AGENT_RUN/broken.pid" ] || fail "a pid file for broken"
	[ ! -e "$AGENT_RUN/broken-token" ] || fail "broken's agent ran"
	[ -z "$(init_agents "$bad")" ] || fail "an agent runs broken.ini"
	# every instance: the good one starts, the bad one does not, exit 1
	init_expect 1 start
	output_has "redeployd thesite started" "$T/init.out"
	output_has "redeployd broken not started: $bad:$line:" "$T/init.out"
	init_pid >/dev/null
	init_expect 0 stop
	output_has "redeployd thesite stopped" "$T/init.out"
	output_has "redeployd broken is not running" "$T/init.out"
	rm -f "$bad"
}

# Two instances on one token_file would stop each other's service.
shared_token_refused() {
	init_reset
	local other=$REDEPLOY_CONFDIR/other.ini
	sed "s/:$AGENT_PORT\$/:$AGENT_SVC_PORT/" "$AGENT_CONFIG" >"$other"
	init_expect 1 start other
	output_has "redeployd other not started: $AGENT_CONFIG has the same token_file ($AGENT_TOKEN)" "$T/init.out"
	[ ! -e "$AGENT_RUN/other.pid" ] || fail "a pid file for other"
	rm -f "$other"
}

# An agent that exits at start (its port is taken) is reported, and its
# pid file does not stay behind.
agent_exit_reported() {
	init_reset
	local pid
	"$AGENT_PY" -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
open(sys.argv[2], "w").close()
time.sleep(60)' "$AGENT_PORT" "$T/taken" &
	pid=$!
	at_exit "kill $pid"
	wait_for "[ -e '$T/taken' ]"
	init_expect 1 start thesite
	kill "$pid"
	output_has "redeployd thesite exited at start" "$T/init.out"
	output_has syslog "$T/init.out"
	[ ! -e "$PIDF" ] || fail "the pid file is left"
	[ -z "$(init_agents)" ] || fail "agents left: $(init_agents)"
}

# A pid file naming some other process: not the agent; start starts one,
# stop stops only the agent.
foreign_pid_untouched() {
	init_reset
	local other pid
	sleep 60 &
	other=$!
	at_exit "kill $other"
	echo "$other" >"$PIDF"
	init_expect 1 status thesite
	output_has "redeployd thesite is not running (stale pid file $PIDF)" "$T/init.out"
	init_expect 0 start thesite
	output_has "redeployd thesite started" "$T/init.out"
	pid=$(init_pid)
	[ "$pid" != "$other" ] || fail "the pid file still names $other"
	echo "$other" >"$PIDF"
	init_expect 0 stop thesite
	output_has "redeployd thesite is not running" "$T/init.out"
	agent_alive "$other" || fail "stop killed the process in the pid file"
	[ ! -e "$PIDF" ] || fail "the stale pid file is left"
	echo "$pid" >"$PIDF"
	init_expect 0 stop thesite
	output_has "redeployd thesite stopped (was pid $pid)" "$T/init.out"
	agent_alive "$other" || fail "stop killed $other"
	kill "$other"
}

# make install over a running agent: the binary is a new file, the agent
# runs the deleted old one; status and stop still know it.
binary_replaced() {
	init_reset
	local bin=$T/sbin/redeployd pid
	mkdir -p "$T/sbin"
	chmod 755 "$T/sbin"
	install -m 0755 "$REDEPLOYD" "$bin"
	REDEPLOYD=$bin init_expect 0 start thesite
	pid=$(cat "$PIDF")
	echo "$pid" >>"$T/agent.pids"
	at_exit "agent_kill $pid"
	install -m 0755 "$REDEPLOYD" "$bin"
	REDEPLOYD=$bin init_expect 0 status thesite
	output_has "is running (pid $pid)" "$T/init.out"
	REDEPLOYD=$bin init_expect 0 stop thesite
	output_has "redeployd thesite stopped (was pid $pid)" "$T/init.out"
	! agent_alive "$pid" || fail "the agent $pid still runs"
}

bad_names_refused() {
	init_reset
	init_expect 2 start ../thesite
	output_has "bad instance name" "$T/init.out"
	init_expect 6 start nosuch
	output_has "no instance nosuch: $REDEPLOY_CONFDIR/nosuch.ini does not exist" "$T/init.out"
	init_expect 4 status nosuch
	init_expect 2 frobnicate
	output_has "usage:" "$T/init.out"
}

# A config saved with CRLF line ends: the init script learns listen from
# redeployd itself, so start finds /health at once and stop finds the agent.
crlf_config_starts() {
	init_reset
	sed 's/$/\r/' "$T/thesite.ini" >"$AGENT_CONFIG"
	local t0=$SECONDS pid
	init_expect 0 start thesite
	output_has "redeployd thesite started (pid" "$T/init.out"
	[ $((SECONDS - t0)) -lt 10 ] || fail "start took $((SECONDS - t0)) s"
	pid=$(init_pid)
	[ "$(agent_health)" = 200 ] || fail "no /health after start"
	init_expect 0 stop thesite
	output_has "redeployd thesite stopped (was pid $pid)" "$T/init.out"
	agent_wait_gone "$pid"
}

test_expect "start runs the agent, waits for /health, pid file holds its pid" start_waits_for_health
test_expect "start again: already running, exit 0, no second agent" start_again_is_noop
test_expect "status of a running agent: exit 0 and its pid" status_running
test_expect "reload sends SIGHUP: the next restart applies the config" reload_rereads_config
test_expect "reload and restart refuse a broken config, the agent runs on" reload_refuses_bad_config
test_expect "stop: agent and service gone, pid file removed, exit 0" stop_takes_all_down
test_expect "status after stop: exit 3; reload: exit 7" status_stopped
test_expect "restart and try-restart" restart_starts_anew
test_expect "a bad config does not start, with its file:line message" bad_config_refused
test_expect "two instances on one token_file: the second does not start" shared_token_refused
test_expect "an agent that exits at start is reported, no pid file left" agent_exit_reported
test_expect "a pid file naming another process: never signalled" foreign_pid_untouched
test_expect "a replaced binary: status and stop still find the agent" binary_replaced
test_expect "bad names, missing instances, bad actions" bad_names_refused
test_expect "a CRLF config starts at once and stops" crlf_config_starts
test_done
