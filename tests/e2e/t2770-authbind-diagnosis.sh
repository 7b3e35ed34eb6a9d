#!/bin/bash
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The redeploy authors
# t2770-authbind-diagnosis: when authbind cannot let the service bind its
# port, the restart's answer and `redeploy check` say why: no byport file,
# no new privileges, a helper that is not setuid.  Nothing on the host
# changes (the helper case runs in a private mount namespace).
. "$(dirname "$0")/lib.sh"

low_port_setup() {	# [AGENT WRAPPER]
	local port
	port=$(agent_free_low_port)
	[ -n "$port" ] || { fail "no free low port"; return 1; }
	[ ! -e "/etc/authbind/byport/$port" ] || { fail "byport/$port exists"; return 1; }
	agent_fresh
	agent_switch "$(agent_release 1)"
	agent_config "authbind = yes" "ready = tcp:127.0.0.1:$port" "ready_timeout = 2" \
		"command = exec $AGENT_PY -m http.server $port --bind 127.0.0.1"
	echo "$port" >"$T/lowport"
}

no_byport_file() {
	low_port_setup
	agent_start
	agent_expect 503 POST /restart
	grep -q "authbind: no /etc/authbind/byport/$(cat "$T/lowport")" "$T/resp.body" ||
		fail "the answer does not say why: $(cat "$T/resp.body")"
}

no_new_privs() {
	low_port_setup
	cat >"$T/nnp-redeployd" <<SH
#!/bin/sh
exec setpriv --no-new-privs "$REDEPLOYD" "\$@"
SH
	chmod 755 "$T/nnp-redeployd"
	REDEPLOYD=$T/nnp-redeployd agent_start
	agent_expect 503 POST /restart
	grep -q "runs with no new privileges" "$T/resp.body" ||
		fail "the answer does not say why: $(cat "$T/resp.body")"
	"$REDEPLOY" -c "$CONFIG" check >"$T/check.out" 2>&1 || true
	grep -q "runs with no new privileges" "$T/check.out" ||
		fail "check does not say it: $(cat "$T/check.out")"
}

helper_not_setuid() {
	low_port_setup
	cp /usr/lib/authbind/helper "$T/helper"
	chmod 0755 "$T/helper"
	cat >"$T/ns-redeployd" <<SH
#!/bin/sh
exec unshare -m sh -c 'mount --make-rprivate / &&
mount --bind "$T/helper" /usr/lib/authbind/helper && exec "\$0" "\$@"' "$REDEPLOYD" "\$@"
SH
	chmod 755 "$T/ns-redeployd"
	REDEPLOYD=$T/ns-redeployd agent_start
	agent_expect 503 POST /restart
	grep -q "helper /usr/lib/authbind/helper is not setuid root" "$T/resp.body" ||
		fail "the answer does not say why: $(cat "$T/resp.body")"
}

if ! is_root; then
	test_skip "authbind diagnosis" "needs root"
elif [ ! -x /usr/bin/authbind ]; then
	test_skip "authbind diagnosis" "needs authbind"
else
	test_expect "no byport file: the restart's answer says so" no_byport_file
	test_expect "no new privileges: the answer and check say so" no_new_privs
	test_expect "a helper that is not setuid: the answer says so" helper_not_setuid
fi
agent_kill_all
test_done
