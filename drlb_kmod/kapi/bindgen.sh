#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# drlb's own bindgen run: the kernel tree records the exact bindgen command it
# used for rust/bindings; we reuse its C flags with our header and allowlist.
# Usage (from kbuild, cwd = the kernel's objtree): bindgen.sh HEADER OUT
set -eu
header=$1
out=$2
cmd=rust/bindings/.bindings_generated.rs.cmd
[ -f "$cmd" ] || { echo "bindgen.sh: $cmd missing: is $(pwd) a built CONFIG_RUST tree?" >&2; exit 1; }
: "${BINDGEN:=bindgen}"
# The C flags are everything between ' -- ' and the ' ; sed' that follows.
cflags=$(sed -n 's/^savedcmd_[^ ]* := .* -- \(.*\) ; sed .*$/\1/p' "$cmd" |
	sed -e 's/-Wp,-MMD,[^ ]*//' -e 's/bindings_generated/drlb_bindings/g')
[ -n "$cflags" ] || { echo "bindgen.sh: cannot parse $cmd" >&2; exit 1; }

f() { printf -- '--allowlist-function %s ' "$@"; }
t() { printf -- '--allowlist-type %s ' "$@"; }
v() { printf -- '--allowlist-var %s ' "$@"; }

# The recorded flags carry their own shell quoting ('"..."'), hence eval.
# shellcheck disable=SC2046,SC2086
set -f
eval exec '"$BINDGEN"' '"$header"' \
	--rust-target 1.68 --use-core --with-derive-default --ctypes-prefix ffi \
	--no-layout-tests --no-doc-comments --no-debug '.*' \
	--blocklist-type '__kernel_s?size_t' --blocklist-type __kernel_ptrdiff_t \
	--opaque-type xregs_state --opaque-type desc_struct --opaque-type arch_lbr_state \
	--opaque-type local_apic --opaque-type alt_instr --opaque-type x86_msi_data \
	--opaque-type x86_msi_addr_lo --opaque-type spinlock \
	--blocklist-function '__list_.*_report' \
	$(f 'drlb_.*' nf_register_net_hooks nf_unregister_net_hooks \
		register_pernet_subsys unregister_pernet_subsys \
		genl_register_family genl_unregister_family genlmsg_put \
		nla_put nla_put_64bit netlink_unicast \
		free_percpu synchronize_net synchronize_rcu rcu_barrier call_rcu \
		dev_get_by_index_rcu skb_push ipv6_skip_exthdr \
		ip_route_output_flow ip6_route_output_flags dst_release \
		neigh_lookup __neigh_create cancel_delayed_work_sync get_random_u32 \
		register_netevent_notifier unregister_netevent_notifier jiffies_to_msecs \
		ip_route_input_noref ip_frag_init ip_frag_next br_ip6_fragment \
		skb_checksum_help consume_skb skb_trim __dev_queue_xmit) \
	$(t nf_hook_ops nf_hook_state nf_inet_hooks nf_ip_hook_priorities \
		nf_ip6_hook_priorities pernet_operations \
		genl_family genl_ops genl_info genl_multicast_group genlmsghdr \
		nla_policy nlattr netlink_callback netlink_ext_ack \
		sk_buff net net_device ethhdr iphdr ipv6hdr tcphdr udphdr \
		delayed_work work_struct spinlock_t callback_head flowi4 flowi6 \
		rtable rt6_info dst_entry neighbour neigh_table genl_dumpit_info \
		notifier_block netevent_notif_type ip_frag_state nf_bridge_frag_data netdev_state_t) \
	$(v 'NF_ACCEPT' 'NF_DROP' 'NF_STOLEN' 'NFPROTO_.*' 'NLA_.*' \
		'GENL_ADMIN_PERM' 'GENL_UNS_ADMIN_PERM' 'GENL_NAMSIZ' \
		'NLM_F_MULTI' 'ETH_P_IP' 'ETH_P_IPV6' 'ETH_ALEN' 'ETH_HLEN' \
		'IPPROTO_TCP' 'IPPROTO_UDP' 'IPPROTO_FRAGMENT' 'EOPNOTSUPP' 'EMSGSIZE' 'ENETDOWN' 'EHOSTUNREACH' \
		'EEXIST' 'ENOENT' 'EAFNOSUPPORT' 'arp_tbl' 'nd_tbl' 'NUD_.*' 'RTF_GATEWAY' 'RTF_LOCAL' 'RTF_ANYCAST' \
		'AF_INET' 'AF_INET6' 'ARPHRD_ETHER' 'CHECKSUM_NONE' 'CHECKSUM_COMPLETE' 'CONFIG_HZ' 'jiffies' 'IP_MF' 'IP_OFFSET' 'NLM_F_DUMP_INTR' 'NETLINK_CB_.*') \
	-o '"$out"' -- $cflags
