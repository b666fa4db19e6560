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

#include <linux/spinlock_types.h>
#include <linux/workqueue.h>

struct net_device;
struct neighbour;

/* sk_buff */
bool drlb_pskb_may_pull(struct sk_buff *skb, unsigned int len);
struct sk_buff *drlb_skb_clone(struct sk_buff *skb);
int drlb_skb_cow_head(struct sk_buff *skb, unsigned int headroom);
void drlb_skb_set_dev(struct sk_buff *skb, struct net_device *dev);
void drlb_kfree_skb(struct sk_buff *skb);
/* net_device */
const unsigned char *drlb_dev_addr(const struct net_device *dev);
bool drlb_dev_running(const struct net_device *dev);
struct dst_entry;
struct net_device *drlb_dst_dev(const struct dst_entry *dst);
int drlb_dst_error(const struct dst_entry *dst);
int drlb_dev_ifindex(const struct net_device *dev);
/* RCU and locks */
void drlb_rcu_read_lock(void);
void drlb_rcu_read_unlock(void);
void drlb_spin_lock_bh(spinlock_t *lock);
void drlb_spin_unlock_bh(spinlock_t *lock);
/* time and work */
void drlb_cond_resched(void);
void drlb_init_delayed_work(struct delayed_work *dw, void (*fn)(struct work_struct *));
bool drlb_queue_delayed_work(struct delayed_work *dw, unsigned long delay);
/* neighbours */
void drlb_neigh_release(struct neighbour *n);
void drlb_neigh_ha_snapshot(unsigned char *dst, const struct neighbour *n);
int drlb_neigh_event_send(struct neighbour *n);
u8 drlb_neigh_nud_state(const struct neighbour *n);
bool drlb_neigh_dead(const struct neighbour *n);
/* genetlink */
struct nlattr *drlb_nla_nest_start(struct sk_buff *skb, int type);
void drlb_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
unsigned int drlb_skb_len(const struct sk_buff *skb);
/* Packets over the egress MTU, and ICMP errors (kapi/netfilter.rs) */
struct net_device *drlb_skb_dev(const struct sk_buff *skb);
bool drlb_skb_gso_fits(const struct sk_buff *skb, unsigned int mtu);
u16 drlb_ip_frag_max_size(const struct sk_buff *skb);
u16 drlb_ip6_frag_max_size(const struct sk_buff *skb);
bool drlb_skb_csum_partial(const struct sk_buff *skb);
void drlb_icmp_send(struct sk_buff *skb, int type, int code, __be32 info);
void drlb_icmpv6_send(struct sk_buff *skb, u8 type, u8 code, u32 info);
unsigned int drlb_ll_reserved_space(const struct net_device *dev);
int drlb_genlmsg_multicast(const struct genl_family *family, struct net *net, struct sk_buff *skb, unsigned int group);
bool drlb_genl_has_listeners(const struct genl_family *family, struct net *net);
void drlb_genl_event_lost(const struct genl_family *family, struct net *net);
struct nlattr **drlb_dump_attrs(struct netlink_callback *cb);
const struct genl_family *drlb_dump_family(struct netlink_callback *cb);
u8 drlb_genl_mcast_cap_net_admin(void);
void drlb_genl_dump_check_consistent(struct netlink_callback *cb, void *user_hdr);

struct net *drlb_neigh_net(const struct neighbour *n);
int drlb_neigh_ifindex(const struct neighbour *n);
const u8 *drlb_neigh_key(const struct neighbour *n);
unsigned int drlb_neigh_key_len(const struct neighbour *n);
bool drlb_neigh_ether(const struct neighbour *n);
unsigned int drlb_param_conn_max(void);
/* memory cgroups */
struct mem_cgroup;
struct mem_cgroup *drlb_memcg_current(void);
struct mem_cgroup *drlb_set_active_memcg(struct mem_cgroup *memcg);
void drlb_mem_cgroup_put(struct mem_cgroup *memcg);
unsigned int drlb_param_conn_table_bits(void);
bool drlb_param_start_standby(void);

#endif
