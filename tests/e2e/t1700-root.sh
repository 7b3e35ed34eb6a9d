#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1700-root: run as root, the hook gives every file of a release, and its
# own files, to the configured owner (never root); a full disk fails the
# deploy cleanly; planted symlinks in the deploy path are never followed.
. "$(dirname "$0")/lib.sh"
ns_isolate		# as root: private /etc, /run, /var, /dev, network

not_root_owned() {	# PATH...
	local f
	for f in "$@"; do
		[ -e "$f" ] || [ -L "$f" ] || { fail "$f does not exist"; return 1; }
		[ "$(stat -c %U:%G "$f")" = nobody:nogroup ] ||
			fail "$f is owned by $(stat -c %U:%G "$f"), not nobody:nogroup"
	done
}

owner_nobody() {
	local bad
	new_repo "owner = nobody" "group = nogroup"
	make_site 1
	(umask 0077; push)
	assert_deployed HEAD
	make_site 2
	(umask 0077; push)
	assert_deployed HEAD
	bad=$(find -P "$LIVE/current/" \( ! -user nobody -o ! -group nogroup \) \
		-printf '%p %u:%g\n')
	[ -z "$bad" ] || fail "entries of the release not nobody:nogroup:
$bad"
	not_root_owned "$LIVE/.lock" "$LIVE/releases" "$LIVE/releases/"*.meta \
		"$LIVE/current"
	bad=$(find -P "$LIVE" -mindepth 1 \( -user root -o -group root \) \
		-printf '%p %u:%g\n')
	[ -z "$bad" ] || fail "owned by root under the deploy path:
$bad"
}

# A release made for another owner shares nothing with the one before.
owner_change() {
	local old bad
	new_repo "owner = nobody" "group = nogroup"
	make_site 1
	push
	old=$(live_id)
	write_config "owner = daemon" "group = daemon"
	make_site 2
	push
	assert_deployed HEAD
	bad=$(find -P "$LIVE/current/" \( ! -user daemon -o ! -group daemon \) \
		-printf '%p %u:%g\n')
	[ -z "$bad" ] || fail "entries of the new release not daemon:daemon:
$bad"
	bad=$(find -P "$LIVE/releases/$old" \( ! -user nobody -o ! -group nogroup \) \
		-printf '%p %u:%g\n')
	[ -z "$bad" ] || fail "the old release changed owner:
$bad"
}

tiny_disk() {
	local id v1
	# a path of its own: the mount must not be under another test's path
	LIVE=$T/tiny
	new_repo
	mount -t tmpfs -o size=256k,mode=0755 tmpfs "$LIVE"
	at_exit "umount '$LIVE'"
	make_site 1
	push
	assert_deployed HEAD
	id=$(live_id)
	v1=$(git -C "$WORK" rev-parse HEAD)
	head -c 1048576 /dev/urandom >"$WORK/big.bin"
	git -C "$WORK" add big.bin
	git -C "$WORK" commit -q -m "1 MiB"
	push
	output_has "deploy failed"
	grep -i "space" "$T/push.out" | grep -q 'redeploy' ||
		fail "the push output does not say the disk is full: $(cat "$T/push.out")"
	output_has "current release unchanged"
	assert_current "$id"
	assert_deployed "$v1"
	grep -q "version 1" "$LIVE/current/index.html" ||
		fail "the live site does not serve version 1"
	assert_no_debris
	git -C "$WORK" rm -q big.bin
	git -C "$WORK" commit -q -m "without the big file"
	push
	assert_deployed HEAD
	assert_no_debris
	umount "$LIVE"
}

# Symlinks planted where the hook expects its own files (PATH is writable
# by the deploying user): nothing may be created, chowned or removed
# through them.
planted_link() {	# NAME: plant PATH/NAME -> a scratch directory, push
	local scratch=$T/scratch before after
	new_repo
	rm -rf "$scratch"
	mkdir -p "$scratch/dir"
	echo precious >"$scratch/dir/keep"
	before=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	ln -s "$scratch/dir" "$LIVE/$1"
	make_site 1
	push
	after=$(find "$scratch" -printf '%p %m %U:%G %s\n' | sort)
	[ "$before" = "$after" ] || fail "the planted symlink $1 was followed; before:
$before
after:
$after
the push said: $(cat "$T/push.out")"
	if [ -e "$LIVE/current" ]; then
		case "$(readlink -f "$LIVE/current")" in
		"$scratch"*) fail "current leads into the target of $1" ;;
		esac
	fi
}

planted_links() {
	planted_link releases
	planted_link .lock
}

if is_root; then
	test_expect "owner = nobody: release, .lock, releases/, .meta, nothing root's" owner_nobody
	test_expect "a new owner gets a release of its own; the old keeps its owner" owner_change
	test_expect "a full disk fails the deploy, the live release keeps serving" tiny_disk
else
	test_skip "owner nobody:nogroup" "needs root"
	test_skip "owner change" "needs root"
	test_skip "full disk (tmpfs)" "needs root"
fi
test_expect "symlinks planted as releases/ and .lock are not followed" planted_links

test_done
