# Harness self-test: a scenario that passes, run after one that failed.
. lib/testlib.sh
drlb_load
expect_eq "$(status_field - state)" active "state after load"
