# Harness self-test: a scenario that fails.
. lib/testlib.sh
log "this scenario fails on purpose"
exit 1
