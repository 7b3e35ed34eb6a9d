#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1800-cli: the operator's commands: --help, --version, usage errors,
# releases, deploy by hand, install-hook.
. "$(dirname "$0")/lib.sh"

help() {
	local c
	expect_exit 0 --help
	for c in hook deploy releases check install-hook; do
		grep -qw -- "$c" "$T/cmd.out" ||
			fail "--help on stdout does not mention '$c': $(cat "$T/cmd.out")"
	done
	expect_exit 0 -h
	expect_exit 0 --version
	grep -Eq 'redeploy.*[0-9]+\.[0-9]+' "$T/cmd.out" ||
		fail "--version prints no 'redeploy N.N': $(cat "$T/cmd.out")"
}
test_expect "--help exits 0 and names every command; --version" help

# The last command printed, on stderr, a message starting "redeploy: "
# that contains WORD, and nothing on stdout.
usage_error() {	# WORD
	[ ! -s "$T/cmd.out" ] ||
		fail "a usage error printed on stdout: $(cat "$T/cmd.out")"
	head -n 1 "$T/cmd.err" | grep -q '^redeploy: ' ||
		fail "the message does not start with 'redeploy: ': $(cat "$T/cmd.err")"
	output_has "$1" "$T/cmd.err"
}

usage_errors() {
	expect_exit 2 frobnicate
	usage_error frobnicate
	expect_exit 2 -c "$CONFIG" frobnicate
	usage_error frobnicate
	expect_exit 2
	head -n 1 "$T/cmd.err" | grep -Eq '^(redeploy: |usage: )' ||
		fail "no command: says $(cat "$T/cmd.err")"
	expect_exit 2 --no-such-option
	usage_error no-such-option
	expect_exit 2 -x check
	usage_error x
	expect_exit 2 -c
	usage_error c
}
test_expect "unknown commands and options exit 2 with a redeploy: message" usage_errors

# Deploy versions 1..3 in order; sets ids (oldest first) and shas.
three_releases() {
	local i
	ids=() shas=()
	new_repo
	for i in 1 2 3; do
		make_site "$i"
		push
		ids+=("$(live_id)")
		shas+=("$(git -C "$WORK" rev-parse HEAD)")
	done
}

releases_list() {
	local ids shas want got i
	three_releases
	expect_exit 0 -c "$CONFIG" releases
	[ "$(wc -l <"$T/cmd.out")" -eq 3 ] ||
		fail "expected 3 lines: $(cat "$T/cmd.out")"
	head -n 1 "$T/cmd.out" | grep -q "^\* ${ids[2]}" ||
		fail "the first line is not '* ${ids[2]}' (current, newest): $(cat "$T/cmd.out")"
	[ "$(grep -c '^\* ' "$T/cmd.out")" -eq 1 ] ||
		fail "not exactly one line marked current: $(cat "$T/cmd.out")"
	[ "$(grep -c '^  [^ ]' "$T/cmd.out")" -eq 2 ] ||
		fail "the other lines do not start with two spaces: $(cat "$T/cmd.out")"
	for i in 0 1 2; do
		grep -F "${ids[i]}" "$T/cmd.out" | grep -F "${shas[i]:0:7}" |
			grep -qw deployed ||
			fail "no line with ${ids[i]}, ${shas[i]:0:7}, deployed: $(cat "$T/cmd.out")"
	done
	# newest first: deploy order, whatever the ids look like
	want=$(printf '%s\n' "${ids[2]}" "${ids[1]}" "${ids[0]}")
	got=$(awk '{ print ($1 == "*") ? $2 : $1 }' "$T/cmd.out")
	[ "$got" = "$want" ] || fail "releases not newest first; got
$got
expected
$want"
}
test_expect "releases: one line each, newest first, current marked '* '" releases_list

# A refused checkout leaves no release behind (its partial tree is removed);
# releases that went live and failed readiness are marked failed once the
# agent exists.  The list stays as it was, current still marked.
releases_after_refusal() {
	local ids shas bad before
	three_releases
	expect_exit 0 -c "$CONFIG" releases
	before=$(cat "$T/cmd.out")
	ln -s /etc/passwd "$WORK/leak"
	git -C "$WORK" add leak
	git -C "$WORK" commit -q -m leak
	bad=$(git -C "$WORK" rev-parse --short=7 HEAD)
	push
	output_has "deploy failed"
	expect_exit 0 -c "$CONFIG" releases
	! grep -qF "$bad" "$T/cmd.out" ||
		fail "the refused $bad left a release: $(cat "$T/cmd.out")"
	[ "$(cat "$T/cmd.out")" = "$before" ] ||
		fail "the list changed: $(cat "$T/cmd.out")"
	grep -q "^\* ${ids[2]}" "$T/cmd.out" ||
		fail "current is not marked: $(cat "$T/cmd.out")"
}
test_expect "a refused deploy leaves no release; the list and current stay" releases_after_refusal

deploy_by_hand() {
	local ids shas n
	three_releases
	expect_exit 0 -c "$CONFIG" deploy "${shas[0]}"
	assert_deployed "${shas[0]}"
	output_has "live" "$T/cmd.err"
	output_has "$(live_id)" "$T/cmd.err"
	grep -qx "pusher=$(id -un)" "$LIVE/releases/$(live_id).meta" ||
		fail "pusher is not $(id -un): $(cat "$LIVE/releases/$(live_id).meta")"
	n=$(count_releases)
	[ "$n" -eq 4 ] || fail "$n release directories, expected 4"
	# without REV: the branch tip
	expect_exit 0 -c "$CONFIG" deploy
	assert_deployed "${shas[2]}"
	# an abbreviated sha and a revision expression work too
	expect_exit 0 -c "$CONFIG" deploy "${shas[1]:0:10}"
	assert_deployed "${shas[1]}"
	expect_exit 0 -c "$CONFIG" deploy master~2
	assert_deployed "${shas[0]}"
}
test_expect "deploy REV deploys an old commit by hand; deploy alone the tip" deploy_by_hand

deploy_errors() {
	local ids shas id
	three_releases
	id=$(live_id)
	expect_exit 1 -c "$CONFIG" deploy no-such-revision
	output_has "no-such-revision" "$T/cmd.err"
	assert_current "$id"
	ln -s ../../../etc/passwd "$WORK/leak"
	git -C "$WORK" add leak
	git -C "$WORK" commit -q -m leak
	push HEAD:refs/heads/other
	expect_exit 1 -c "$CONFIG" deploy "$(git -C "$WORK" rev-parse HEAD)"
	output_has "deploy failed" "$T/cmd.err"
	output_has "current release unchanged" "$T/cmd.err"
	assert_current "$id"
	assert_no_debris
}
test_expect "deploy of a bad revision or a refused tree exits 1, current unchanged" deploy_errors

install_hook() {
	local hook
	new_repo
	hook=$REPO/hooks/post-update
	[ "$(stat -c %a "$hook")" = 755 ] ||
		fail "post-update is mode $(stat -c %a "$hook"), not 755"
	[ "$(head -n 1 "$hook")" = "#!/bin/sh" ] ||
		fail "post-update does not start with #!/bin/sh: $(head -n 1 "$hook")"
	grep -qF -e "$REDEPLOY" -e "$(readlink -f "$REDEPLOY")" "$hook" ||
		fail "post-update does not call $REDEPLOY: $(cat "$hook")"
	grep -qF "$CONFIG" "$hook" || fail "post-update does not name $CONFIG"
	[ "$(git -C "$REPO" config receive.fsckObjects)" = true ] ||
		fail "receive.fsckObjects is not true"
	cp "$hook" "$T/hook.first"
	# again, with -c before the command and a relative config path
	(cd "$T" && expect_exit 0 -c "$(basename "$CONFIG")" install-hook "$REPO")
	cmp "$T/hook.first" "$hook" ||
		fail "a second install-hook wrote something else: $(cat "$hook")"
	(cd "$T" && expect_exit 0 install-hook -c "$(basename "$CONFIG")" site.git)
	cmp "$T/hook.first" "$hook" ||
		fail "install-hook with relative paths wrote: $(cat "$hook")"
	make_site 1
	push
	assert_deployed HEAD
}
test_expect "install-hook writes an absolute 0755 sh hook, sets fsck; twice is fine" install_hook

install_hook_foreign() {
	new_repo
	printf '#!/bin/sh\necho mine\n' >"$REPO/hooks/post-update"
	chmod 755 "$REPO/hooks/post-update"
	cp "$REPO/hooks/post-update" "$T/foreign"
	expect_exit 2 install-hook -c "$CONFIG" "$REPO"
	head -n 1 "$T/cmd.err" | grep -q '^redeploy: ' ||
		fail "no redeploy: message: $(cat "$T/cmd.err")"
	output_has "post-update" "$T/cmd.err"
	cmp "$T/foreign" "$REPO/hooks/post-update" ||
		fail "the foreign hook was changed"
	[ "$(stat -c %a "$REPO/hooks/post-update")" = 755 ] ||
		fail "the foreign hook's mode was changed"
}
test_expect "install-hook refuses to replace a foreign post-update hook" install_hook_foreign

install_hook_not_repo() {
	mkdir -p "$T/not-a-repo"
	expect_exit 2 install-hook -c "$CONFIG" "$T/not-a-repo"
	[ ! -e "$T/not-a-repo/hooks/post-update" ] ||
		fail "install-hook wrote into a directory that is no repository"
}
test_expect "install-hook into a directory that is no repository fails" install_hook_not_repo

test_done
