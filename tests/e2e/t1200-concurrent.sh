#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1200-concurrent: deploys serialize on a kernel lock on PATH/.lock; a
# waiting hook deploys the newest branch tip; current is always complete.
. "$(dirname "$0")/lib.sh"

# Push REFSPEC in the background with output in FILE; sets bg_pid.
push_bg() {	# FILE REFSPEC
	timeout -k 5 120 git -C "$WORK" push -q -f origin "$2" >"$1" 2>&1 &
	bg_pid=$!
}

# Until $T/stop exists (or $T is gone), read the live site through current
# as a web server would; note in FILE each time it is not a complete release.
watch_current() {	# FILE
	local n=0
	until [ -e "$T/stop" ] || [ ! -d "$T" ]; do
		if ! { read -r _ <"$LIVE/current/index.html"; } 2>/dev/null ||
		    [ ! -f "$LIVE/current/deep/er/est/file.txt" ]; then
			echo "check $n: current is not a complete release" >>"$1"
		fi
		n=$((n + 1))
	done
	echo "$n" >"$1.count"
}

ten_pushes() {
	local i pid tip id watcher shas=() pids=()
	new_repo
	make_site 0
	push
	live_id >/dev/null
	for i in $(seq 1 10); do
		commit_file "n$i.txt" "commit $i"
		shas+=("$(git -C "$WORK" rev-parse HEAD)")
	done
	rm -f "$T/stop" "$T/watch" "$T/watch.count"
	watch_current "$T/watch" &
	watcher=$!
	for i in "${!shas[@]}"; do
		push_bg "$T/push.$i" "${shas[i]}:refs/heads/master"
		pids+=("$bg_pid")
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || true
	done
	wait_unlocked
	touch "$T/stop"
	wait "$watcher"
	[ ! -e "$T/watch" ] || fail "during the pushes: $(sort -u "$T/watch" | head -n 3)"
	[ "$(cat "$T/watch.count")" -gt 0 ] || fail "the site was never read"
	tip=$(git -C "$REPO" rev-parse --verify master) ||
		fail "no push reached the repository"
	[ "$(live_commit)" = "$tip" ] ||
		fail "live commit $(live_commit) is not master $tip"
	assert_deployed "$tip"
	assert_no_debris
	for i in "${!shas[@]}"; do
		output_lacks "deploy failed" "$T/push.$i"
	done
	# every release left is complete, not only the current one
	for id in $(cd "$LIVE/releases" && find . -mindepth 1 -maxdepth 1 \
	    -type d ! -name '.*' -printf '%f\n'); do
		assert_release_complete "$id"
	done
}
test_expect "10 concurrent pushes: master is live, complete, no debris" ten_pushes

waits_for_lock() {
	local id
	new_repo
	make_site 1
	push
	id=$(live_id)
	hold_lock
	make_site 2
	push_bg "$T/push.bg" HEAD:refs/heads/master
	wait_for "grep -qF 'waiting for' '$T/push.bg'" 30
	kill -0 "$bg_pid" 2>/dev/null ||
		fail "push finished while the lock was held: $(cat "$T/push.bg")"
	assert_current "$id"
	assert_no_debris
	release_lock
	wait "$bg_pid" || fail "push failed: $(cat "$T/push.bg")"
	wait_unlocked
	assert_deployed HEAD
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories, expected 2"
}
test_expect "a push waits for a deploy in progress, then deploys" waits_for_lock

newest_tip() {
	local id p2 p3 v3 n
	new_repo
	make_site 1
	push
	id=$(live_id)
	hold_lock
	make_site 2
	push_bg "$T/push.2" HEAD:refs/heads/master
	p2=$bg_pid
	wait_for "grep -qF 'waiting for' '$T/push.2'" 30
	make_site 3
	v3=$(git -C "$WORK" rev-parse HEAD)
	push_bg "$T/push.3" HEAD:refs/heads/master
	p3=$bg_pid
	wait_for "grep -qF 'waiting for' '$T/push.3'" 30
	assert_current "$id"
	release_lock
	wait "$p2" || fail "push of v2 failed: $(cat "$T/push.2")"
	wait "$p3" || fail "push of v3 failed: $(cat "$T/push.3")"
	wait_unlocked
	assert_deployed "$v3"
	# v2 was never deployed: the first waiter took the newest tip, v3, and
	# the other found it live
	n=$(count_releases)
	[ "$n" -eq 2 ] || fail "$n release directories, expected 2 (v1, v3)"
	cat "$T/push.2" "$T/push.3" >"$T/push.both"
	output_has "already live" "$T/push.both"
	assert_no_debris
}
test_expect "waiting hooks deploy the newest tip once; the other is a no-op" newest_tip

deploy_waits() {
	local id pid v2
	new_repo
	make_site 1
	push
	id=$(live_id)
	make_site 2
	v2=$(git -C "$WORK" rev-parse HEAD)
	push HEAD:refs/heads/other
	hold_lock
	timeout -k 5 120 "$REDEPLOY" -c "$CONFIG" deploy "$v2" \
		>"$T/deploy.out" 2>&1 &
	pid=$!
	wait_for "grep -qF 'waiting for' '$T/deploy.out'" 30
	assert_current "$id"
	release_lock
	wait "$pid" || fail "redeploy deploy failed: $(cat "$T/deploy.out")"
	wait_unlocked
	assert_deployed "$v2"
}
test_expect "redeploy deploy by hand waits for the same lock" deploy_waits

test_done
