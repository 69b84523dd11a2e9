/*
 * {{name}}: a kwasm program in C. It drops UDP datagrams to port 7777,
 * logs each one it drops, and counts [accepted, dropped] in map 0.
 *
 *   make                                        # builds {{name}}.wasm
 *   kwasm run {{name}}.wasm 0                   # try it in userspace
 *   kwasm load {{name}}.wasm --attach ipv4:input
 *   kwasm map dump {{name}} 0; kwasm log {{name}}
 */
#include "kwasm.h"

KWASM_MAPS(KWASM_ARRAY(2));
enum { COUNTERS };
enum { ACCEPTED, DROPPED };

#define BLOCKED_PORT 7777

static kwasm_verdict {{name}}(uint32_t len)
{
	(void)len;
	uint8_t b[128];
	uint32_t n = kwasm_pkt_load(0, b, sizeof b);
	struct kwasm_ip ip;
	if (kwasm_ip_parse(b, n, &ip) && ip.proto == KWASM_PROTO_UDP &&
	    kwasm_dst_port(b, &ip) == BLOCKED_PORT) {
		struct kwasm_text t = {0};
		kwasm_text_str(&t, "{{name}}: dropped a datagram to port 7777 from ");
		kwasm_text_addr(&t, ip.src, ip.addr_len);
		kwasm_text_log(&t);
		kwasm_map_add(COUNTERS, DROPPED, 1);
		return KWASM_DROP;
	}
	kwasm_map_add(COUNTERS, ACCEPTED, 1);
	return KWASM_ACCEPT;
}

KWASM_FILTER({{name}})
