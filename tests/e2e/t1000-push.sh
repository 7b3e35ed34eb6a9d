#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1000-push: a push of the configured branch deploys a complete release,
# byte for byte and mode for mode, whatever the pusher's umask.
. "$(dirname "$0")/lib.sh"

first_push() {
	new_repo
	make_site 1
	push
	assert_deployed HEAD
	[ "$(count_releases)" -eq 1 ] ||
		fail "$(count_releases) release directories after one deploy"
	local target id
	target=$(readlink "$LIVE/current") || fail "current is not a symlink"
	id=${target#releases/}
	[ "$target" = "releases/$id" ] ||
		fail "current points at '$target', not releases/<id>"
	[ -d "$LIVE/releases/$id" ] || fail "releases/$id is not a directory"
	echo "$id" | grep -Eq '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{7}(-[0-9]+)?$' ||
		fail "release id '$id' is not like 20261123T151500Z-1a2b3c4"
	[ "${id:17:7}" = "$(git -C "$WORK" rev-parse --short=7 HEAD)" ] ||
		fail "release id '$id' does not carry the short sha of HEAD"
	# the pusher is told, through git, with the program's prefix
	grep -F "$id" "$T/push.out" | grep -F live |
		grep -q '^remote: redeploy: ' ||
		fail "no 'remote: redeploy: ... live ... $id' line in: $(cat "$T/push.out")"
}
test_expect "first push deploys a release equal to git archive" first_push

metadata() {
	new_repo
	make_site 1
	local before after meta t
	before=$(date +%s)
	GL_USER=alice push
	after=$(date +%s)
	meta=$LIVE/releases/$(live_id).meta
	[ -f "$meta" ] || fail "no metadata file $meta"
	grep -qx "commit=$(git -C "$WORK" rev-parse HEAD)" "$meta" ||
		fail "$meta lacks commit=<full sha>: $(cat "$meta")"
	grep -qx 'ref=refs/heads/master' "$meta" || fail "$meta lacks ref="
	grep -qx 'pusher=alice' "$meta" || fail "$meta lacks pusher=alice (GL_USER)"
	grep -qx 'result=deployed' "$meta" || fail "$meta lacks result=deployed"
	t=$(sed -n 's/^time=//p' "$meta")
	echo "$t" | grep -Eqx '[0-9]+' || fail "time='$t' is not unix seconds"
	if [ "$t" -lt "$before" ] || [ "$t" -gt "$after" ]; then
		fail "time=$t is not between $before and $after"
	fi
}
test_expect "metadata records commit, ref, pusher (GL_USER), time, result" metadata

pusher_unix_user() {
	new_repo
	make_site 1
	(unset GL_USER; push)
	grep -qx "pusher=$(id -un)" "$LIVE/releases/$(live_id).meta" ||
		fail "pusher is not the unix user $(id -un): $(cat "$LIVE/releases/$(live_id).meta")"
}
test_expect "without GL_USER the pusher is the unix user" pusher_unix_user

second_push() {
	new_repo
	make_site 1
	push
	local old
	old=$(live_id)
	make_site 2
	push
	assert_deployed HEAD
	[ "$(live_id)" != "$old" ] || fail "current still points at $old"
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories after two deploys"
	assert_release_complete "$old"
	assert_no_debris
}
test_expect "second push switches current and keeps the previous release" second_push

# Files removed, renamed, turned into directories, links or executables:
# each release is complete, and making it does not alter the previous one
# (no shared inodes rewritten in place).
changes_between_releases() {
	new_repo
	make_site 1
	echo one >"$WORK/becomes-dir"
	echo two >"$WORK/removed"
	echo three >"$WORK/renamed"
	echo four >"$WORK/becomes-exec"
	mkdir "$WORK/dir-becomes-file"
	echo five >"$WORK/dir-becomes-file/x"
	echo six >"$WORK/becomes-link"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "shapes 1"
	push
	local old
	old=$(live_id)
	rm "$WORK/becomes-dir" "$WORK/removed" "$WORK/becomes-link"
	mkdir "$WORK/becomes-dir"
	echo inside >"$WORK/becomes-dir/file"
	git -C "$WORK" mv renamed was-renamed
	chmod 755 "$WORK/becomes-exec"
	rm -r "$WORK/dir-becomes-file"
	echo now-a-file >"$WORK/dir-becomes-file"
	ln -s index.html "$WORK/becomes-link"
	echo "<h1>changed in place</h1>" >"$WORK/index.html"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m "shapes 2"
	push
	assert_deployed HEAD
	assert_release_complete "$old"
}
test_expect "changed, moved and retyped paths; the old release stays intact" changes_between_releases

odd_contents() {
	new_repo
	make_site 1
	: >"$WORK/empty"
	printf 'no newline' >"$WORK/no-newline"
	printf 'crlf\r\nline\r\n' >"$WORK/crlf.txt"
	head -c 300000 /dev/urandom >"$WORK/random.bin"
	echo dash >"$WORK/-rf"
	echo space >"$WORK/with space.txt"
	echo utf8 >"$WORK/caf$(printf '\303\251').html"
	mkdir -p "$WORK/.well-known"
	echo hidden >"$WORK/.well-known/security.txt"
	git -C "$WORK" add -A
	git -C "$WORK" commit -q -m odd
	push
	assert_deployed HEAD
	cmp "$WORK/crlf.txt" "$LIVE/current/crlf.txt" || fail "crlf.txt altered"
	printf 'no newline' | cmp - "$LIVE/current/no-newline" ||
		fail "no-newline altered"
}
test_expect "empty, binary, CRLF, dot and oddly named files arrive byte for byte" odd_contents

umask_0077() {
	new_repo
	make_site 1
	(umask 0077; push)
	assert_deployed HEAD
	[ -n "$(find "$LIVE/releases" -maxdepth 0 -perm -005)" ] ||
		fail "releases/ is $(stat -c %a "$LIVE/releases"): others cannot reach the site"
	make_site 2
	(umask 0077; push)
	assert_deployed HEAD
}
test_expect "a pusher with umask 0077 (gitolite) still gets 0755/0644" umask_0077

configured_modes() {
	new_repo "dir_mode = 0750" "file_mode = 0640"
	make_site 1
	(umask 0077; push)
	assert_deployed HEAD 750 640 750
	new_repo "dir_mode = 0775" "file_mode = 0664"
	make_site 1
	(umask 0022; push)
	assert_deployed HEAD 775 664 775
}
test_expect "configured modes apply whatever the umask; +x where +r" configured_modes

post_receive() {
	new_repo
	rm -f "$REPO/hooks/post-update"
	printf '#!/bin/sh\nexec "%s" -c "%s" hook\n' "$REDEPLOY" "$CONFIG" \
		>"$REPO/hooks/post-receive"
	chmod 755 "$REPO/hooks/post-receive"
	make_site 1
	push
	assert_deployed HEAD
	make_site 2
	push
	assert_deployed HEAD
	[ "$(count_releases)" -eq 2 ] ||
		fail "$(count_releases) release directories after two deploys"
}
test_expect "a post-receive hook (refs on stdin) deploys too" post_receive

test_done
