# drlb.ko loads, answers over genetlink, follows namespaces as they come and
# go, and unloads cleanly, several times over.
. lib/testlib.sh

drlb_load
drlb_loaded || fail "drlb not in /sys/module"
out=$(dt - status)
printf '%s\n' "$out"
expect_eq "${out%%$'\n'*}" "drlb 0.1.0" "version line"
expect_eq "$(field "$out" state)" active "state after load"

# A namespace created after the module loaded gets its own state, and
# deleting it (with the module loaded) frees it.
ip netns add "$(ns late)"
expect_eq "$(status_field late state)" active "state in a new namespace"
ip netns del "$(ns late)"

drlb_unload
expect_fail 'drlb module is not loaded' dt - status

# The conn_max module parameter bounds every namespace's table at load.
insmod "$DRLB_KO" conn_max=5
out=$(dt - limits)
expect_eq "$(field "$out" connections)" "0 of 5" "table bound from conn_max=5"
drlb_unload
# ... and it is bounded as limits --conn-max is: out of range, no load.
expect_fail 'Invalid parameters' insmod "$DRLB_KO" conn_max=4194305
! drlb_loaded || fail "drlb loaded with conn_max=4194305"
out=$(dmesg)
[[ $out == *"drlb: conn_max=4194305 refused: it must be 1..4194304"* ]] || fail "no reason in the kernel log"
log "ok: conn_max=4194305 refused, with its reason in the kernel log"

for i in 1 2 3; do drlb_load; drlb_unload; done
log "ok: three load/unload cycles"

# Namespaces that exist when the module loads get their state at load time.
ip netns add "$(ns early)"
drlb_load
expect_eq "$(status_field early state)" active "state in a namespace older than the module"
ip netns del "$(ns early)"
