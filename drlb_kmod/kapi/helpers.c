// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers of static inline functions and macros that Rust cannot
 * call (declared in helpers.h, which bindgen also reads).
 */
#include <linux/cpumask.h>
#include <linux/memcontrol.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <net/genetlink.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include <linux/if_arp.h>
#include <linux/netdevice.h>
#include <linux/sched/mm.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/dst.h>
#include <net/neighbour.h>

#include <linux/icmpv6.h>
#include <net/gso.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/ipv6.h>

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
bool drlb_pskb_may_pull(struct sk_buff *skb, unsigned int len) { return pskb_may_pull(skb, len); }
struct sk_buff *drlb_skb_clone(struct sk_buff *skb) { return skb_clone(skb, GFP_ATOMIC); }
int drlb_skb_cow_head(struct sk_buff *skb, unsigned int headroom) { return skb_cow_head(skb, headroom); }
void drlb_skb_set_dev(struct sk_buff *skb, struct net_device *dev) { skb->dev = dev; }
void drlb_kfree_skb(struct sk_buff *skb) { kfree_skb(skb); }
struct net_device *drlb_skb_dev(const struct sk_buff *skb) { return skb->dev; }
bool drlb_skb_gso_fits(const struct sk_buff *skb, unsigned int mtu) { return skb_is_gso(skb) && skb_gso_validate_network_len(skb, mtu); }
u16 drlb_ip_frag_max_size(const struct sk_buff *skb) { return IPCB(skb)->frag_max_size; }
u16 drlb_ip6_frag_max_size(const struct sk_buff *skb) { return IP6CB(skb)->frag_max_size; }
bool drlb_skb_csum_partial(const struct sk_buff *skb) { return skb->ip_summed == CHECKSUM_PARTIAL; }
void drlb_icmp_send(struct sk_buff *skb, int type, int code, __be32 info) { icmp_send(skb, type, code, info); }
void drlb_icmpv6_send(struct sk_buff *skb, u8 type, u8 code, u32 info) { icmpv6_send(skb, type, code, info); }
unsigned int drlb_ll_reserved_space(const struct net_device *dev) { return LL_RESERVED_SPACE(dev); }
const unsigned char *drlb_dev_addr(const struct net_device *dev) { return dev->dev_addr; }
bool drlb_dev_running(const struct net_device *dev) { return netif_running(dev); }
struct net_device *drlb_dst_dev(const struct dst_entry *dst) { return dst->dev; }
int drlb_dst_error(const struct dst_entry *dst) { return dst->error; }
int drlb_dev_ifindex(const struct net_device *dev) { return dev->ifindex; }
void drlb_rcu_read_lock(void) { rcu_read_lock(); }
void drlb_rcu_read_unlock(void) { rcu_read_unlock(); }
void drlb_spin_lock_bh(spinlock_t *lock) { spin_lock_bh(lock); }
void drlb_spin_unlock_bh(spinlock_t *lock) { spin_unlock_bh(lock); }
void drlb_cond_resched(void) { cond_resched(); }
void drlb_init_delayed_work(struct delayed_work *dw, void (*fn)(struct work_struct *)) { INIT_DELAYED_WORK(dw, fn); }
bool drlb_queue_delayed_work(struct delayed_work *dw, unsigned long delay) { return queue_delayed_work(system_wq, dw, delay); }
void drlb_neigh_release(struct neighbour *n) { neigh_release(n); }
void drlb_neigh_ha_snapshot(unsigned char *dst, const struct neighbour *n) { neigh_ha_snapshot(dst, n, n->dev); }
int drlb_neigh_event_send(struct neighbour *n) { return neigh_event_send(n, NULL); }
u8 drlb_neigh_nud_state(const struct neighbour *n) { return READ_ONCE(n->nud_state); }
bool drlb_neigh_dead(const struct neighbour *n) { return READ_ONCE(n->dead); }
struct nlattr *drlb_nla_nest_start(struct sk_buff *skb, int type) { return nla_nest_start(skb, type); }
void drlb_nla_nest_end(struct sk_buff *skb, struct nlattr *start) { nla_nest_end(skb, start); }
unsigned int drlb_skb_len(const struct sk_buff *skb) { return skb->len; }
int drlb_genlmsg_multicast(const struct genl_family *family, struct net *net, struct sk_buff *skb, unsigned int group) { return genlmsg_multicast_netns(family, net, skb, 0, group, GFP_ATOMIC); }
bool drlb_genl_has_listeners(const struct genl_family *family, struct net *net) { return genl_has_listeners(family, net, 0) > 0; }
void drlb_genl_event_lost(const struct genl_family *family, struct net *net) { genl_set_err(family, net, 0, 0, -ENOBUFS); }
struct nlattr **drlb_dump_attrs(struct netlink_callback *cb) { return genl_info_dump(cb)->attrs; }
const struct genl_family *drlb_dump_family(struct netlink_callback *cb) { return genl_info_dump(cb)->family; }
u8 drlb_genl_mcast_cap_net_admin(void) { return GENL_MCAST_CAP_NET_ADMIN; }
void drlb_genl_dump_check_consistent(struct netlink_callback *cb, void *user_hdr) { genl_dump_check_consistent(cb, user_hdr); }
struct net *drlb_neigh_net(const struct neighbour *n) { return dev_net(n->dev); }
int drlb_neigh_ifindex(const struct neighbour *n) { return n->dev->ifindex; }
const u8 *drlb_neigh_key(const struct neighbour *n) { return n->primary_key; }
unsigned int drlb_neigh_key_len(const struct neighbour *n) { return n->tbl->key_len; }
bool drlb_neigh_ether(const struct neighbour *n) { return n->dev->type == ARPHRD_ETHER; }
struct mem_cgroup *drlb_memcg_current(void) { return get_mem_cgroup_from_mm(NULL); }
struct mem_cgroup *drlb_set_active_memcg(struct mem_cgroup *memcg) { return set_active_memcg(memcg); }
void drlb_mem_cgroup_put(struct mem_cgroup *memcg) { mem_cgroup_put(memcg); }

/* The module parameter (a macro); the data plane reads it through the getter. */
static unsigned int conn_max = 1 << 18;
module_param(conn_max, uint, 0444);
MODULE_PARM_DESC(conn_max, "connection-table bound for each new namespace, 1..4194304 (default 262144; drlb-tool limits --conn-max changes it per namespace)");
unsigned int drlb_param_conn_max(void) { return conn_max; }
static unsigned int conn_table_bits;
module_param(conn_table_bits, uint, 0444);
MODULE_PARM_DESC(conn_table_bits, "connection-table chains as a power of two, fixed (8-21, like IPVS's conn_tab_bits); 0 (default): they follow each namespace's conn_max");
unsigned int drlb_param_conn_table_bits(void) { return conn_table_bits; }
static bool start_standby;
module_param(start_standby, bool, 0444);
MODULE_PARM_DESC(start_standby, "1: every namespace's data plane starts standby (forwarding nothing until `drlb-tool state active`, as a VRRP daemon sets it on its master); 0 (default): active, as IPVS");
bool drlb_param_start_standby(void) { return start_standby; }
