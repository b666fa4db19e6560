# drlb.ko loads, answers over genetlink, follows namespaces as they come and
# go, and unloads cleanly, several times over.
. lib/testlib.sh

drlb_load
grep -q '^drlb ' /proc/modules || fail "drlb not in /proc/modules"
dt - status
expect_eq "$(dt - status | head -n1)" "drlb 0.1.0" "version line"
expect_eq "$(status_field - state)" active "state after load"

# A namespace created after the module loaded gets its own state, and
# deleting it (with the module loaded) frees it.
ip netns add "$(ns late)"
expect_eq "$(dt late status | sed -n 's/^state: //p')" active "state in a new namespace"
ip netns del "$(ns late)"

drlb_unload
expect_fail 'drlb module is not loaded' dt - status

# The conn_max module parameter bounds every namespace's table at load.
insmod "$DRLB_KO" conn_max=5
expect_eq "$(dt - limits | sed -n 's/^connections: //p')" "0 of 5" "table bound from conn_max=5"
drlb_unload

for i in 1 2 3; do drlb_load; drlb_unload; done
log "ok: three load/unload cycles"

# Namespaces that exist when the module loads get their state at load time.
ip netns add "$(ns early)"
drlb_load
expect_eq "$(dt early status | sed -n 's/^state: //p')" active "state in a namespace older than the module"
ip netns del "$(ns early)"
