# Harness self-test: the scenario exits 0, but the module it loads leaks
# memory, which the kmemleak check at the end must find and pin on it.
. lib/testlib.sh
insmod selftest/leak/drlb_selftest_leak.ko
rmmod drlb_selftest_leak
