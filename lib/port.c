/* SPDX-License-Identifier: BSD-2-Clause */
/* port.c: the table of packet back-ends and the calls that dispatch into it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port.h"

/* Back-ends declare themselves weak so a tree without one still links. */
extern const struct sp_port_ops sp_port_afpacket __attribute__((weak));
extern const struct sp_port_ops sp_port_tap __attribute__((weak));

static const struct sp_port_ops *lookup(const char *kind)
{
	const struct sp_port_ops *all[] = { &sp_port_afpacket, &sp_port_tap };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i] && strcmp(all[i]->name, kind) == 0)
			return all[i];
	return NULL;
}

struct sp_port *sp_port_open(const char *kind, const char *spec, const struct sp_port_conf *c,
			     char *errbuf)
{
	static const struct sp_port_conf defconf = { .flags = SP_PORT_RX | SP_PORT_TX };
	const struct sp_port_ops *ops = lookup(kind);
	if (!ops) {
		snprintf(errbuf, SP_ERRBUF, "unknown port kind '%s'", kind);
		return NULL;
	}
	struct sp_port *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(errbuf, SP_ERRBUF, "%s", strerror(errno));
		return NULL;
	}
	p->ops = ops;
	p->fd = -1;
	if (ops->open(p, spec, c ? c : &defconf) < 0) {
		snprintf(errbuf, SP_ERRBUF, "%s", p->err);
		free(p);
		return NULL;
	}
	return p;
}

int sp_port_recv(struct sp_port *p, struct sp_pkt *v, int n) { return p->ops->recv(p, v, n); }
int sp_port_send(struct sp_port *p, const struct sp_pkt *v, int n) { return p->ops->send(p, v, n); }

int sp_port_stats(struct sp_port *p, struct sp_port_stats *s)
{
	memset(s, 0, sizeof *s);
	return p->ops->stats ? p->ops->stats(p, s) : 0;
}

void sp_port_close(struct sp_port *p)
{
	if (!p)
		return;
	p->ops->close(p);
	free(p);
}
