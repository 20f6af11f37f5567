# Shared by the CLI script tests: run a command, check its exit code and that
# its output (stdout+stderr) contains a pattern; count failures in $fails.
#   expect NAME WANT_RC PATTERN -- command...
#   ...
#   [ "$fails" -eq 0 ]
fails=0
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
    echo "FAIL $name: rc=$rc (want $want), pattern '$pat'"; echo "$out" | sed 's/^/    /'
    fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}
