#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t1600-config: the config is read strictly; every error names file:line
# and the key, exits 2 and deploys nothing; `redeploy check` says so too.
. "$(dirname "$0")/lib.sh"

# As an operator sets it up: the deploy path belongs to the deploying user.
own_live() {
	if is_root; then
		chown nobody "$LIVE"
	fi
}

check_ok() {
	new_repo
	own_live
	expect_exit 0 -c "$CONFIG" check
	cat "$T/cmd.out" "$T/cmd.err" >"$T/cmd.all"
	output_has "configuration OK" "$T/cmd.all"
}
test_expect "redeploy check of a good config says configuration OK" check_ok

typo_in_hook() {
	local id
	new_repo
	own_live
	make_site 1
	push
	id=$(live_id)
	write_config "kep = 2"
	make_site 2
	push
	output_has "redeploy.ini:5: unknown key 'kep'"
	grep -F "redeploy.ini:5:" "$T/push.out" | grep -q '^remote: redeploy: ' ||
		fail "the error lacks the 'redeploy: ' prefix: $(cat "$T/push.out")"
	assert_current "$id"
	[ "$(count_releases)" -eq 1 ] ||
		fail "$(count_releases) release directories, expected 1"
	assert_no_debris
	expect_exit 2 -c "$CONFIG" check
	output_has "redeploy.ini:5: unknown key 'kep'" "$T/cmd.err"
	expect_exit 2 -c "$CONFIG" deploy
	output_has "redeploy.ini:5: unknown key 'kep'" "$T/cmd.err"
	assert_current "$id"
}
test_expect "a typo'd key: the push says file:line, current unchanged, check exits 2" typo_in_hook

# The config with EXTRA lines must fail check with exit 2 and one message
# naming redeploy.ini:LINE and WORD (the key, section or value at fault).
bad_config() {	# LINE WORD EXTRA...
	local line=$1 word=$2 msg
	shift 2
	write_config "$@"
	expect_exit 2 -c "$CONFIG" check
	msg=$(grep -F "redeploy.ini:$line:" "$T/cmd.err") ||
		fail "no 'redeploy.ini:$line:' in: $(cat "$T/cmd.err") (config: $*)"
	case "$msg" in
	"redeploy: "*) ;;
	*) fail "message lacks the 'redeploy: ' prefix: $msg" ;;
	esac
	case "$msg" in
	*"$word"*) ;;
	*) fail "message does not name '$word': $msg" ;;
	esac
}

bad_values() {
	new_repo
	own_live
	bad_config 6 keep "keep = 2" "keep = 3"
	bad_config 5 keep "keep = 2x"
	bad_config 5 keep "keep = -1"
	bad_config 5 keep "keep = 99999999999999999999"
	bad_config 5 file_mode "file_mode = 0999"
	bad_config 5 file_mode "file_mode = 01777"
	bad_config 5 dir_mode "dir_mode = 755x"
	bad_config 5 symlinks "symlinks = sometimes"
	bad_config 5 shared "shared = ../outside"
	bad_config 5 shared "shared = /etc"
	bad_config 5 owner "owner = root"
	bad_config 5 deplyo "[deplyo]"
	bad_config 5 syntax "no-equals-sign"
}
test_expect "bad numbers, modes, values, duplicates, sections: file:line and the key" bad_values

# check validates what the root hook will use, whoever runs check; the
# hook itself applies owner only when run as root.
unknown_owner() {
	new_repo
	write_config "owner = no-such-user-here"
	expect_exit 2 -c "$CONFIG" check
	output_has "no-such-user-here" "$T/cmd.err"
	is_root || return 0
	make_site 1
	push
	output_has "no-such-user-here"
	if [ -e "$LIVE/current" ] || [ -L "$LIVE/current" ]; then
		fail "deployed with an unknown owner"
	fi
}
test_expect "an owner that is not a user is an error naming it" unknown_owner

relative_paths() {
	new_repo
	own_live
	sed -i 's|^path = .*|path = live|' "$CONFIG"
	expect_exit 2 -c "$CONFIG" check
	output_has "redeploy.ini:3:" "$T/cmd.err"
	output_has "path" "$T/cmd.err"
	write_config
	sed -i 's|^repository = .*|repository = site.git|' "$CONFIG"
	expect_exit 2 -c "$CONFIG" check
	output_has "redeploy.ini:2:" "$T/cmd.err"
	output_has "repository" "$T/cmd.err"
}
test_expect "relative path and repository are errors" relative_paths

missing_config() {
	expect_exit 2 -c "$T/no-such.ini" check
	output_has "$T/no-such.ini" "$T/cmd.err"
}
test_expect "a missing config file exits 2 naming it" missing_config

config_lookup() {
	new_repo
	own_live
	echo "[nonsense" >"$T/bad.ini"
	REDEPLOY_CONFIG=$CONFIG expect_exit 0 check
	cat "$T/cmd.out" "$T/cmd.err" >"$T/cmd.all"
	output_has "configuration OK" "$T/cmd.all"
	REDEPLOY_CONFIG=$T/bad.ini expect_exit 2 check
	output_has "bad.ini" "$T/cmd.err"
	# -c wins over $REDEPLOY_CONFIG
	REDEPLOY_CONFIG=$T/bad.ini expect_exit 0 -c "$CONFIG" check
	# a hook without -c finds the config through the repository's git config
	printf '#!/bin/sh\nexec "%s" hook "$@"\n' "$REDEPLOY" \
		>"$REPO/hooks/post-update"
	git -C "$REPO" config redeploy.config "$CONFIG"
	make_site 1
	push
	assert_deployed HEAD
}
test_expect "config lookup: -c, then \$REDEPLOY_CONFIG, then redeploy.config" config_lookup

# A release made with other modes does not share files with one made
# before: changing the config changes the next release only.
modes_change() {
	local old
	new_repo
	make_site 1
	push
	old=$(live_id)
	write_config "dir_mode = 0750" "file_mode = 0640"
	make_site 2
	push
	assert_deployed HEAD 750 640 750
	[ -z "$(find "$LIVE/releases/$old" -type f ! -perm 644 ! -perm 755)" ] ||
		fail "files of the old release changed mode: $(find "$LIVE/releases/$old" -type f ! -perm 644 ! -perm 755)"
	[ -z "$(find "$LIVE/releases/$old" -type d ! -perm 755)" ] ||
		fail "directories of the old release changed mode"
}
test_expect "new modes apply to the next release and leave the old one as it was" modes_change

test_done
