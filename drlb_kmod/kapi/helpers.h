/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One-line wrappers of static inline functions and macros that Rust cannot
 * call. Nothing else belongs here: logic lives in Rust.
 */
#ifndef DRLB_HELPERS_H
#define DRLB_HELPERS_H

#include <linux/types.h>

struct net;
struct sk_buff;
struct genl_info;
struct genl_family;
struct netlink_callback;

void *drlb_net_generic(const struct net *net, unsigned int id);
u64 __percpu *drlb_alloc_percpu_u64(void);
void drlb_this_cpu_add_u64(u64 __percpu *counter, u64 v);
u64 *drlb_per_cpu_ptr_u64(u64 __percpu *counter, int cpu);
int drlb_next_possible_cpu(int cpu);
unsigned int drlb_nr_cpu_ids(void);
struct sk_buff *drlb_genlmsg_new(void);
void drlb_genlmsg_end(struct sk_buff *skb, void *hdr);
void drlb_genlmsg_cancel(struct sk_buff *skb, void *hdr);
int drlb_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
void drlb_nlmsg_free(struct sk_buff *skb);
struct net *drlb_genl_info_net(const struct genl_info *info);
struct net *drlb_sock_net_of_dump(const struct netlink_callback *cb);
u32 drlb_dump_portid(const struct netlink_callback *cb);
u32 drlb_dump_seq(const struct netlink_callback *cb);

#endif
