// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers of static inline functions and macros that Rust cannot
 * call (declared in helpers.h, which bindgen also reads).
 */
#include <linux/cpumask.h>
#include <linux/percpu.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "helpers.h"

void *drlb_net_generic(const struct net *net, unsigned int id) { return net_generic(net, id); }
u64 __percpu *drlb_alloc_percpu_u64(void) { return alloc_percpu(u64); }
void drlb_this_cpu_add_u64(u64 __percpu *counter, u64 v) { this_cpu_add(*counter, v); }
u64 *drlb_per_cpu_ptr_u64(u64 __percpu *counter, int cpu) { return per_cpu_ptr(counter, cpu); }
int drlb_next_possible_cpu(int cpu) { return cpumask_next(cpu, cpu_possible_mask); }
unsigned int drlb_nr_cpu_ids(void) { return nr_cpu_ids; }
struct sk_buff *drlb_genlmsg_new(void) { return genlmsg_new(GENLMSG_DEFAULT_SIZE, GFP_KERNEL); }
void drlb_genlmsg_end(struct sk_buff *skb, void *hdr) { genlmsg_end(skb, hdr); }
void drlb_genlmsg_cancel(struct sk_buff *skb, void *hdr) { genlmsg_cancel(skb, hdr); }
int drlb_genlmsg_reply(struct sk_buff *skb, struct genl_info *info) { return genlmsg_reply(skb, info); }
void drlb_nlmsg_free(struct sk_buff *skb) { nlmsg_free(skb); }
struct net *drlb_genl_info_net(const struct genl_info *info) { return genl_info_net(info); }
struct net *drlb_sock_net_of_dump(const struct netlink_callback *cb) { return sock_net(cb->skb->sk); }
u32 drlb_dump_portid(const struct netlink_callback *cb) { return NETLINK_CB(cb->skb).portid; }
u32 drlb_dump_seq(const struct netlink_callback *cb) { return cb->nlh->nlmsg_seq; }
