/* SPDX-License-Identifier: BSD-2-Clause */
/* netns.c: stage namespaces: unshare (rootless through a user namespace), ip-netns naming, rtnetlink set-up. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "stdpkt.h"

static int sys_fail(char *errbuf, const char *what, const char *subject, int err)
{
	/* Long subjects are cut, not the reason: %.150s keeps the message inside SP_ERRBUF. */
	snprintf(errbuf, SP_ERRBUF, "%.60s '%.150s': %.40s", what, subject, strerror(err));
	return SP_EIO;
}

static int write_file(const char *path, const char *s, char *errbuf)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return sys_fail(errbuf, "cannot open", path, errno);
	size_t len = strlen(s);
	ssize_t w = write(fd, s, len);
	int err = errno;
	close(fd);
	if (w != (ssize_t)len)
		return sys_fail(errbuf, "cannot write", path, w < 0 ? err : EIO);
	return 0;
}

int sp_ns_create(int *rootless, char *errbuf)
{
	*rootless = geteuid() != 0;
	if (!*rootless) {
		if (unshare(CLONE_NEWNET) < 0)
			return sys_fail(errbuf, "cannot create", "network namespace", errno);
		return 0;
	}
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return sys_fail(errbuf, "cannot create", "user and network namespace", errno);
	char map[64];
	/* An unprivileged map may not enable setgroups, and must say so before gid_map is written. */
	int rc = write_file("/proc/self/setgroups", "deny", errbuf);
	if (rc < 0 && errno != ENOENT)
		return rc;
	snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
	if ((rc = write_file("/proc/self/uid_map", map, errbuf)) < 0)
		return rc;
	snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
	if ((rc = write_file("/proc/self/gid_map", map, errbuf)) < 0)
		return rc;
	return 0;
}

int sp_ns_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n < 200 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

#define NETNS_RUN_DIR "/run/netns"

int sp_ns_name(const char *name, char *errbuf)
{
	char path[256];
	if (!sp_ns_name_ok(name)) {
		snprintf(errbuf, SP_ERRBUF, "bad namespace name '%s'", name);
		return SP_EINVAL;
	}
	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return sys_fail(errbuf, "cannot create", NETNS_RUN_DIR, errno);
	/*
	 * As iproute2 does: /run/netns must be a shared mount point so that a
	 * bind mount made here shows in other mount namespaces and its unmount
	 * propagates, otherwise `ip netns del` elsewhere could not free it.
	 */
	if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		if (errno != EINVAL)
			return sys_fail(errbuf, "cannot make a shared mount of", NETNS_RUN_DIR, errno);
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
			return sys_fail(errbuf, "cannot bind-mount", NETNS_RUN_DIR, errno);
		if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
			return sys_fail(errbuf, "cannot make a shared mount of", NETNS_RUN_DIR, errno);
	}
	snprintf(path, sizeof path, "%s/%s", NETNS_RUN_DIR, name);
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == EEXIST) {
			snprintf(errbuf, SP_ERRBUF, "cannot name the namespace '%s': the name is in use", name);
			return SP_EIO;
		}
		return sys_fail(errbuf, "cannot create", path, errno);
	}
	close(fd);
	if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0) {
		int err = errno;
		unlink(path);
		return sys_fail(errbuf, "cannot bind-mount the namespace at", path, err);
	}
	return 0;
}

int sp_ns_unname(const char *name, char *errbuf)
{
	char path[256];
	if (!sp_ns_name_ok(name)) {
		snprintf(errbuf, SP_ERRBUF, "bad namespace name '%s'", name);
		return SP_EINVAL;
	}
	snprintf(path, sizeof path, "%s/%s", NETNS_RUN_DIR, name);
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return sys_fail(errbuf, "cannot unmount", path, errno);
	if (unlink(path) < 0 && errno != ENOENT)
		return sys_fail(errbuf, "cannot remove", path, errno);
	return 0;
}

int sp_sysctl_set(const char *key, const char *value, char *errbuf)
{
	char path[512];
	int n = snprintf(path, sizeof path, "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof path || !*key || strstr(key, "..")) {
		snprintf(errbuf, SP_ERRBUF, "bad sysctl name '%s'", key);
		return SP_EINVAL;
	}
	/* Dotted names: dots become slashes, except in a slashed name (interface names may hold dots). */
	if (!strchr(key, '/'))
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			snprintf(errbuf, SP_ERRBUF, "cannot set sysctl '%s': no such key", key);
			return SP_EINVAL;
		}
		return sys_fail(errbuf, "cannot set sysctl", key, errno);
	}
	size_t len = strlen(value);
	ssize_t w = write(fd, value, len);
	int err = errno;
	close(fd);
	if (w != (ssize_t)len)
		return sys_fail(errbuf, "cannot set sysctl", key, w < 0 ? err : EIO);
	return 0;
}

struct sp_nl {
	struct mnl_socket *sk;
	unsigned portid;
	unsigned seq;
	char buf[8192]; /* requests are small; MNL_SOCKET_BUFFER_SIZE is not a constant */
};

struct sp_nl *sp_nl_open(char *errbuf)
{
	struct sp_nl *nl = calloc(1, sizeof *nl);
	if (!nl) {
		snprintf(errbuf, SP_ERRBUF, "cannot allocate: %s", strerror(ENOMEM));
		return NULL;
	}
	nl->sk = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sk || mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		sys_fail(errbuf, "cannot open", "rtnetlink", errno);
		if (nl->sk)
			mnl_socket_close(nl->sk);
		free(nl);
		return NULL;
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned)time(NULL);
	return nl;
}

void sp_nl_close(struct sp_nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sk);
	free(nl);
}

/* Sends one request built in nl->buf and waits for its acknowledgement. */
static int nl_talk(struct sp_nl *nl, struct nlmsghdr *nlh, const char *what, const char *subject,
		   char *errbuf)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return sys_fail(errbuf, what, subject, errno);
	char rbuf[16384];
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sk, rbuf, sizeof rbuf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_fail(errbuf, what, subject, errno);
		}
		int rc = mnl_cb_run(rbuf, (size_t)n, nl->seq, nl->portid, NULL, NULL);
		if (rc == MNL_CB_ERROR)
			return sys_fail(errbuf, what, subject, errno);
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

int sp_ipaddr_parse(const char *s, struct sp_ipaddr *a, char *errbuf)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	memset(a, 0, sizeof *a);
	a->plen = -1;
	if (hl == 0 || hl >= sizeof host)
		goto bad;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (inet_pton(AF_INET, host, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, a->addr) == 1)
		a->family = AF_INET6;
	else
		goto bad;
	if (slash) {
		uint64_t v;
		if (sp_parse_num(slash + 1, 0, a->family == AF_INET ? 32 : 128, 0, &v) < 0)
			goto bad;
		a->plen = (int)v;
	}
	return 0;
bad:
	snprintf(errbuf, SP_ERRBUF, "bad address '%s'", s);
	return SP_EINVAL;
}

int sp_nl_link_set(struct sp_nl *nl, int ifindex, const uint8_t *mac, unsigned mtu, int up, char *errbuf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	if (up >= 0) {
		ifm->ifi_change = IFF_UP;
		ifm->ifi_flags = up ? IFF_UP : 0;
	}
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	char subject[16];
	snprintf(subject, sizeof subject, "%d", ifindex);
	return nl_talk(nl, nlh, "cannot configure link", subject, errbuf);
}

int sp_nl_veth_add(struct sp_nl *nl, const char *name, const char *peer, char *errbuf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	struct nlattr *pe = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* The peer's attributes follow its own ifinfomsg inside the nest. */
	struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof *pifm);
	memset(pifm, 0, sizeof *pifm);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_nest_end(nlh, pe);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return nl_talk(nl, nlh, "cannot create the veth pair", name, errbuf);
}

int sp_link_no_offload(const char *name, char *errbuf)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return sys_fail(errbuf, "cannot open a socket for", name, errno);
	/* Scatter-gather off takes TSO with it; GSO and transmit checksumming are separate switches. */
	unsigned cmds[] = { ETHTOOL_STXCSUM, ETHTOOL_SSG, ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO };
	int rc = 0;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		struct ethtool_value ev = { .cmd = cmds[i], .data = 0 };
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_data = (void *)&ev;
		if (ioctl(s, SIOCETHTOOL, &ifr) < 0 && errno != EOPNOTSUPP) {
			rc = sys_fail(errbuf, "cannot turn off offloads on", name, errno);
			break;
		}
	}
	close(s);
	return rc;
}

int sp_nl_addr_add(struct sp_nl *nl, int ifindex, const struct sp_ipaddr *a, char *errbuf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	int alen = a->family == AF_INET ? 4 : 16;
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)(a->plen >= 0 ? a->plen : alen * 8);
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, (size_t)alen, a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, (size_t)alen, a->addr);
	if (a->family == AF_INET6) {
		/* A stage is alone on its link: DAD would only delay the first packet by a second. */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	} else if (ifa->ifa_prefixlen < 31) {
		uint32_t bc, host;
		memcpy(&host, a->addr, 4);
		bc = host | htonl(ifa->ifa_prefixlen ? 0xffffffffu >> ifa->ifa_prefixlen : 0xffffffffu);
		mnl_attr_put(nlh, IFA_BROADCAST, 4, &bc);
	}
	char subject[INET6_ADDRSTRLEN];
	inet_ntop(a->family, a->addr, subject, sizeof subject);
	return nl_talk(nl, nlh, "cannot add address", subject, errbuf);
}

int sp_nl_route_default(struct sp_nl *nl, const struct sp_ipaddr *gw, int oif, char *errbuf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
	rtm->rtm_family = (uint8_t)gw->family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, gw->family == AF_INET ? 4 : 16, gw->addr);
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	char subject[INET6_ADDRSTRLEN];
	inet_ntop(gw->family, gw->addr, subject, sizeof subject);
	return nl_talk(nl, nlh, "cannot add a default route via", subject, errbuf);
}

struct busy {
	int n;
};

static int busy_cb(const struct nlmsghdr *nlh, void *data)
{
	struct busy *b = data;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	if (m->idiag_state == TCP_ESTABLISHED || m->idiag_state == TCP_CLOSE_WAIT) {
		if (m->idiag_wqueue)
			b->n++;
	} else {
		b->n++;
	}
	return MNL_CB_OK;
}

int sp_ns_tcp_busy(char *errbuf)
{
	struct mnl_socket *sk = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	if (!sk || mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno;
		if (sk)
			mnl_socket_close(sk);
		return sys_fail(errbuf, "cannot open", "sock_diag", err);
	}
	unsigned portid = mnl_socket_get_portid(sk), seq = (unsigned)time(NULL);
	struct busy b = { 0 };
	int families[] = { AF_INET, AF_INET6 }, rc = 0;
	char buf[16384];
	for (int i = 0; i < 2 && rc == 0; i++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = ++seq;
		struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof *req);
		req->sdiag_family = (uint8_t)families[i];
		req->sdiag_protocol = IPPROTO_TCP;
		req->idiag_states = 1u << TCP_SYN_SENT | 1u << TCP_FIN_WAIT1 | 1u << TCP_CLOSING |
				    1u << TCP_LAST_ACK | 1u << TCP_ESTABLISHED | 1u << TCP_CLOSE_WAIT;
		if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0) {
			rc = sys_fail(errbuf, "cannot query", "sock_diag", errno);
			break;
		}
		for (;;) {
			ssize_t n = mnl_socket_recvfrom(sk, buf, sizeof buf);
			if (n < 0) {
				rc = sys_fail(errbuf, "cannot query", "sock_diag", errno);
				break;
			}
			int r = mnl_cb_run(buf, (size_t)n, seq, portid, busy_cb, &b);
			if (r == MNL_CB_ERROR) {
				rc = sys_fail(errbuf, "cannot query", "sock_diag", errno);
				break;
			}
			if (r == MNL_CB_STOP)
				break;
		}
	}
	mnl_socket_close(sk);
	return rc < 0 ? rc : b.n;
}
