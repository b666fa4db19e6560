# `drlb-tool status` counts the packets drlb's PRE_ROUTING hooks saw, per
# network namespace, for IPv4 and IPv6. A namespace has hooks only while it
# has a service: the others pay nothing per packet.
#
#   client ---- br0 ---- dir1      (pings dir1, which has a service: dir1's
#                                   hooks count them)
#   idle                          (an unconnected namespace: counts nothing)
. lib/testlib.sh
drlb_load
topo_up -d 1 -r 1
ip netns add "$(ns idle)"; TOPO_HOSTS+=(idle)
dt dir1 service add tcp "$VIP4:80"

before=$(status_field dir1 "hook packets")
n client ping -q -c 20 -i 0.05 "$(dir4 1)" >/dev/null
n client ping -q -c 10 -i 0.05 "$(dir6 1)" >/dev/null
after=$(status_field dir1 "hook packets")
expect_ge $((after - before)) 30 "dir1 hook packets for 20 IPv4 + 10 IPv6 pings"
# dir1's own replies are not its PRE_ROUTING packets, and the client's echo
# replies are the client's: dir1 counts the pings plus a little neighbour
# discovery and MLD, not the whole topology's traffic.
expect_le $((after - before)) 80 "dir1 hook packets"

expect_eq "$(status_field idle "hook packets")" 0 "hook packets in an idle namespace"
# The client received 30 echo replies at its PRE_ROUTING, but it has no
# service, so no hooks saw them.
expect_eq "$(status_field client "hook packets")" 0 "client hook packets (no service, no hooks)"
