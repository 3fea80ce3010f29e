# SPDX-License-Identifier: BSD-2-Clause
# lib.sh: what every shell test sources: TAP output, a private temporary directory, namespaces and clean-up.
#
#   . "$(dirname "$0")/lib.sh"
#   need_root; need_cmd tcpdump          # skip (or fail under STDPKT_MUST_WORK=1)
#   ns=$(mkns a)                         # a network namespace removed at exit
#   atexit "kill $pid"                   # more clean-up, run even when the test fails
#   ok "desc" cmd args...                # passes when the command exits 0
#   is "$got" "$want" "desc"             # string equality, shows both on failure
#   cmp_files a b "desc"                 # byte-for-byte equality
#   done_testing
set -u
TEST_NAME=$(basename "$0" .sh)
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) BUILDDIR=$BUILD ;; *) BUILDDIR=$SRCDIR/$BUILD ;; esac
BIN=$BUILDDIR/bin
PATH=$BIN:$PATH
export PATH SRCDIR BUILDDIR BIN
T=$(mktemp -d "${TMPDIR:-/tmp}/stdpkt-$TEST_NAME.XXXXXX")
# Namespaces carry the test's pid so parallel tests and leftovers are told apart.
NSPREFIX="sp$$"
_n=0
_failed=0
_atexit=""
_netns=""

_cleanup() {
	set +e
	eval "$_atexit"
	# mkns often runs in $(...), a subshell: the names it made are in a file, not a variable.
	for ns in $_netns $(cat "$T/.netns" 2>/dev/null); do
		# Processes still inside the namespace would keep its devices alive.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	# Every background job of this test, whatever it was.
	jobs -p 2>/dev/null | xargs -r kill -9 2>/dev/null
	cd / && rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM HUP

# Runs at exit, most recent first.
atexit() { _atexit="$1; $_atexit"; }

_tap() {
	_n=$((_n + 1))
	if [ "$1" = 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
}
ok() { local d=$1; shift; "$@"; _tap $? "$d"; }
not_ok() { local d=$1; shift; ! "$@"; _tap $? "$d"; }
is() {
	if [ "$1" = "$2" ]; then _tap 0 "$3"; else
		_tap 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "$(printf %s "$1" | head -c 400)" "$(printf %s "$2" | head -c 400)"
	fi
}
cmp_files() {
	if cmp -s "$1" "$2"; then _tap 0 "$3"; else
		_tap 1 "$3"
		cmp "$1" "$2" 2>&1 | sed 's/^/#   /' | head -3
	fi
}
# Prints a diagnostic line (TAP comment).
diag() { printf '# %s\n' "$*"; }
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $1"; }

# Skips the whole test; under STDPKT_MUST_WORK=1 a skip is a failure.
skip_all() {
	if [ "${STDPKT_MUST_WORK:-0}" = 1 ]; then
		echo "1..1"
		echo "not ok 1 - $TEST_NAME cannot run but STDPKT_MUST_WORK=1: $1"
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}
need_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, TAP)"
	ip netns list >/dev/null 2>&1 || skip_all "needs ip netns"
}
need_cmd() { for c; do command -v "$c" >/dev/null 2>&1 || skip_all "needs $c"; done; }

# mkns NAME: creates namespace $NSPREFIX-NAME with lo up, prints its name.
mkns() {
	local ns="$NSPREFIX-$1"
	ip netns add "$ns" || return 1
	echo "$ns" >>"$T/.netns"
	ip -n "$ns" link set lo up
	echo "$ns"
}
# Records a namespace made elsewhere (by a tool under test) for removal at exit.
own_ns() { echo "$1" >>"$T/.netns"; }
# veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up.
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}
# Waits up to $2 seconds (default 5) for a command to succeed.
wait_for() {
	local cmd=$1 t=${2:-5} i=0
	while [ "$i" -lt $((t * 20)) ]; do
		eval "$cmd" && return 0
		sleep 0.05; i=$((i + 1))
	done
	return 1
}
done_testing() {
	echo "1..$_n"
	[ "$_failed" = 0 ]
	exit $?
}
cd "$T" || exit 1
