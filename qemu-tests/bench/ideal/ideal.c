// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's reference forwarders: not part of drlb.
 *
 * A netfilter IPv4 PRE_ROUTING hook, registered in the network namespace of
 * the process that loads the module, at drlb's priority (-399). A packet for
 * the address `vip` is
 *   mode=fwd  (the "ideal" arm): given the Ethernet destination `mac` and the
 *             source address of device `dev`, sent with dev_queue_xmit and
 *             stolen: what any direct-routing forwarder must do at least,
 *             with no lookup, no state and no counters;
 *   mode=drop (the "floor" arm): dropped; the cost of reaching a
 *             PRE_ROUTING hook at all.
 * Every other packet is accepted untouched.
 *
 *   ip netns exec DIRECTOR insmod ideal.ko mode=fwd vip=198.51.100.10 dev=eth1 mac=02:00:00:00:00:02
 */
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/inet.h>
#include <linux/ip.h>
#include <net/net_namespace.h>

static char *mode = "fwd";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "fwd (rewrite the MAC and transmit) or drop");
static char *vip = "198.51.100.10";
module_param(vip, charp, 0444);
MODULE_PARM_DESC(vip, "IPv4 destination address the hook acts on");
static char *dev = "eth1";
module_param(dev, charp, 0444);
MODULE_PARM_DESC(dev, "egress device (mode=fwd)");
static char *mac = "02:00:00:00:00:02";
module_param(mac, charp, 0444);
MODULE_PARM_DESC(mac, "destination MAC (mode=fwd)");

static __be32 vip_addr;
static u8 dst_mac[ETH_ALEN];
static bool drop_mode;
static struct net *hook_net;
static struct net_device *out_dev;
static netdevice_tracker out_dev_tracker;

static unsigned int ideal_hook(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	struct ethhdr *eth;

	if (!pskb_may_pull(skb, sizeof(struct iphdr)) || ip_hdr(skb)->daddr != vip_addr)
		return NF_ACCEPT;
	if (drop_mode)
		return NF_DROP;
	if (skb_shared(skb) || skb_cow_head(skb, ETH_HLEN))
		return NF_DROP;
	eth = skb_push(skb, ETH_HLEN);
	ether_addr_copy(eth->h_dest, dst_mac);
	ether_addr_copy(eth->h_source, out_dev->dev_addr);
	eth->h_proto = htons(ETH_P_IP);
	skb_reset_mac_header(skb);
	skb->dev = out_dev;
	skb_forward_csum(skb);
	skb_clear_tstamp(skb);
	dev_queue_xmit(skb);
	return NF_STOLEN;
}

static struct nf_hook_ops ideal_ops = {
	.hook = ideal_hook,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_PRE_ROUTING,
	.priority = -399,
};

static int __init ideal_init(void)
{
	int err;

	if (!strcmp(mode, "drop"))
		drop_mode = true;
	else if (strcmp(mode, "fwd"))
		return -EINVAL;
	if (!in4_pton(vip, -1, (u8 *)&vip_addr, -1, NULL))
		return -EINVAL;
	if (!drop_mode && !mac_pton(mac, dst_mac))
		return -EINVAL;
	hook_net = get_net(current->nsproxy->net_ns);
	if (!drop_mode) {
		out_dev = netdev_get_by_name(hook_net, dev, &out_dev_tracker, GFP_KERNEL);
		if (!out_dev) {
			put_net(hook_net);
			return -ENODEV;
		}
	}
	err = nf_register_net_hook(hook_net, &ideal_ops);
	if (err) {
		netdev_put(out_dev, &out_dev_tracker);
		put_net(hook_net);
	}
	return err;
}

static void __exit ideal_exit(void)
{
	nf_unregister_net_hook(hook_net, &ideal_ops);
	netdev_put(out_dev, &out_dev_tracker);
	put_net(hook_net);
}

module_init(ideal_init);
module_exit(ideal_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("drlb benchmark: the ideal forwarder and the PRE_ROUTING drop floor");
