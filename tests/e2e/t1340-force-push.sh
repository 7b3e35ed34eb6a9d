#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1340-force-push: a deploy names the commit it replaces as well as the
# one it deploys: a force-push to an older commit says it goes back, from
# which commit to which, and its syslog event carries from= and to=.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ns_isolate

TAG=rdfp$$

# v1, v2 deployed, then master forced back to v1.
force_back() {
	new_repo "syslog_tag = $TAG"
	make_site 1
	push
	V1=$(git -C "$WORK" rev-parse HEAD)
	make_site 2
	GL_USER=alice push
	V2=$(git -C "$WORK" rev-parse HEAD)
	output_has "replacing ${V1:0:7}"
	GL_USER=mallory push -f "$V1:refs/heads/master"
	assert_deployed "$V1"
}

output_names_both() {
	force_back
	output_has "going back from ${V2:0:7} to the older ${V1:0:7} (a force-push)"
	# a rewritten history says so too: v2 again, then a commit on v1
	push -f "$V2:refs/heads/master"
	git -C "$WORK" checkout -q "$V1"
	commit_file other.txt sideways
	push -f HEAD:refs/heads/master
	output_has "replacing ${V2:0:7}, which it does not descend from"
}
test_expect "a force-push to an older commit names both commits" output_names_both

event_names_both() {
	start_rsyslog
	force_back
	wait_syslog "$TAG\[[0-9]*\]: deploy .*pusher=mallory"
	grep -q "$TAG\[[0-9]*\]: deploy release=[^ ]* commit=$V1 ref=refs/heads/master pusher=mallory from=$V2 to=$V1 .*result=deployed" "$SYSLOG_FILE" ||
		fail "no from=$V2 to=$V1 in: $(grep "pusher=mallory" "$SYSLOG_FILE")"
}
why=$(syslog_unavailable)
if [ -z "$why" ]; then
	test_expect "its syslog event has from= and to=" event_names_both
else
	test_skip "its syslog event has from= and to=" "$why"
fi
test_done
