# Harness self-test: the scenario exits 0, but the kernel log shows a
# WARNING while it runs, which must fail it.
. lib/testlib.sh
echo "WARNING: CPU: 0 PID: $$ at drlb-selftest: injected by the harness self-test" >/dev/kmsg
