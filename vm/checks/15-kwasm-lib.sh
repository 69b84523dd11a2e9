# Helpers for the kwasm CLI checks (20-* and later). Sourced by /init before
# them; defines functions only. The CLI is /opt/kwasm/bin/kwasm (static
# glibc), the guests compiled by the host's kwasmc are in /opt/kwasm/kw/.

export KW=/opt/kwasm/kw

# stat_of PROG FIELD: one counter from `kwasm stats` (`key: value` lines).
stat_of() {
	kwasm stats "$1" | awk -v k="$2:" '$1 == k { print $2 }'
}

# bench_fields FIELD... : the values of those `key: value` lines of stdin
# (`kwasm bench` output), on one line.
bench_fields() {
	awk -v keys="$*" 'BEGIN { n = split(keys, k, " ") }
		{ v[$1] = $2 }
		END { s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") v[k[i] ":"]; print s }'
}

# expect_out NAME EXPECTED CMD...: PASS if CMD succeeds and prints EXPECTED.
expect_out() {
	_n=$1 _e=$2
	shift 2
	_o=$("$@" 2>&1)
	if [ $? -eq 0 ] && [ "$_o" = "$_e" ]; then
		pass "$_n"
	else
		fail "$_n"
		echo "    command:  $*"
		echo "    expected: $_e"
		printf '%s\n' "$_o" | sed 's/^/    got:      /'
	fi
}

# expect_fail NAME TEXT CMD...: PASS if CMD fails and its output contains
# TEXT (the error must say what went wrong).
expect_fail() {
	_n=$1 _e=$2
	shift 2
	_o=$("$@" 2>&1)
	_s=$?
	if [ $_s -ne 0 ] && printf '%s' "$_o" | grep -qF -- "$_e"; then
		pass "$_n"
	else
		fail "$_n"
		echo "    command:  $*"
		echo "    expected: failure mentioning '$_e'"
		printf 'status %s: %s\n' "$_s" "$_o" | sed 's/^/    got:      /'
	fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1"
		echo "    expected: $2"
		echo "    got:      $3"
	fi
}

# Number of loaded program modules (kwasm_*).
prog_modules() {
	grep -c '^kwasm_' /proc/modules || true
}

# Reference count of kwasm.ko (third column of /proc/modules).
kwasm_refcount() {
	awk '$1 == "kwasm" { print $3 }' /proc/modules
}

# Unload every program (cleanup after a failed check).
unload_all() {
	for _p in $(kwasm list --json 2>/dev/null | tr ',' '\n' | sed -n 's/.*"name":"\([A-Za-z0-9_]*\)".*/\1/p'); do
		kwasm unload "$_p" >/dev/null 2>&1
	done
}
