/*
 * kwasm.h: the C SDK for kwasm programs, one header.
 *
 * A program is one C file that includes this header, declares its maps
 * with KWASM_MAPS and its entry point with KWASM_FILTER, and builds with
 *
 *   clang --target=wasm32 -nostdlib -O2 -mbulk-memory \
 *         -Wl,--no-entry -Wl,--export=filter -o prog.wasm prog.c
 *
 * then loads with `kwasm load prog.wasm --attach ipv4:input` (or compiles
 * with `kwasmc compile prog.wasm`). There is no libc: `-mbulk-memory` makes
 * clang emit memory.copy and memory.fill for memcpy and memset, and the
 * helpers below cover logging, maps, events and header parsing.
 *
 * The host functions, verdicts, map kinds, statuses and limits come from
 * kwasm_abi.h, which is generated from the kwasm_abi crate; nothing here
 * restates them.
 */
#ifndef KWASM_H
#define KWASM_H

#include <stddef.h>
#include <stdint.h>

#include "kwasm_abi.h"

/* A netfilter verdict, in the kernel's numbering. */
typedef enum {
	KWASM_DROP = KWASM_VERDICT_DROP,
	KWASM_ACCEPT = KWASM_VERDICT_ACCEPT,
} kwasm_verdict;

/* The entry point: `KWASM_FILTER(my_filter)` exports
 * `filter(pkt_len) -> verdict` calling `kwasm_verdict my_filter(uint32_t)`. */
#define KWASM_FILTER(fn)                                                      \
	__attribute__((export_name(KWASM_FILTER_EXPORT))) int32_t filter(int32_t len) \
	{                                                                     \
		return (int32_t)fn((uint32_t)len);                            \
	}

/* ---- Host functions, with C types ------------------------------------ */

#define KWASM_PTR(p) ((int32_t)(uintptr_t)(p))

/* Writes `len` bytes at `msg` to the program's log (`kwasm log NAME`). */
static inline void kwasm_log(const void *msg, size_t len)
{
	__kwasm_log(KWASM_PTR(msg), (int32_t)len);
}

/* strlen without libc. */
static inline size_t kwasm_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static inline void kwasm_log_str(const char *s)
{
	kwasm_log(s, kwasm_strlen(s));
}

/* Length of the current packet (from its IP header on); 0 outside a hook. */
static inline uint32_t kwasm_pkt_len(void)
{
	return (uint32_t)__kwasm_pkt_len();
}

/* Copies up to `len` packet bytes from `off` to `dst`; returns how many. */
static inline uint32_t kwasm_pkt_load(uint32_t off, void *dst, size_t len)
{
	return (uint32_t)__kwasm_pkt_load((int32_t)off, KWASM_PTR(dst), (int32_t)len);
}

static inline int64_t kwasm_time_ns(void)
{
	return __kwasm_time_ns();
}

static inline uint32_t kwasm_random_u32(void)
{
	return (uint32_t)__kwasm_random_u32();
}

/* Arrays of u64 (KWASM_ARRAY, KWASM_PER_CPU_ARRAY): an index out of range
 * traps. On a per-CPU array they reach the calling CPU's copy. */
static inline uint64_t kwasm_map_get(int map, uint32_t idx)
{
	return (uint64_t)__kwasm_map_get(map, (int32_t)idx);
}

static inline void kwasm_map_set(int map, uint32_t idx, uint64_t v)
{
	__kwasm_map_set(map, (int32_t)idx, (int64_t)v);
}

static inline uint64_t kwasm_map_add(int map, uint32_t idx, uint64_t delta)
{
	return (uint64_t)__kwasm_map_add(map, (int32_t)idx, (int64_t)delta);
}

/* Element operations on every kind (a hash map's keys and values are byte
 * strings of its declared sizes; an array's key is a uint32_t index and
 * its value a uint64_t). They return 0 or a negative status:
 * KWASM_NOT_FOUND, KWASM_FULL, KWASM_EXISTS, KWASM_INVALID. */
static inline int kwasm_map_lookup(int map, const void *key, void *value)
{
	return __kwasm_map_lookup(map, KWASM_PTR(key), KWASM_PTR(value));
}

/* flags: KWASM_UPDATE_ANY, _NOEXIST, _EXIST, or _ADD (add the value's
 * uint64_t words to the present value, or insert it). */
static inline int kwasm_map_update(int map, const void *key, const void *value, int flags)
{
	return __kwasm_map_update(map, KWASM_PTR(key), KWASM_PTR(value), flags);
}

static inline int kwasm_map_delete(int map, const void *key)
{
	return __kwasm_map_delete(map, KWASM_PTR(key));
}

/* Appends a record to ring buffer `map` (`kwasm events NAME`); KWASM_FULL
 * when it did not fit (dropped and counted). */
static inline int kwasm_event_output(int map, const void *data, size_t len)
{
	return __kwasm_event_output(map, KWASM_PTR(data), (int32_t)len);
}

/* ---- Declaring maps --------------------------------------------------- */
/*
 * One KWASM_MAPS per program, its records listed in map order without
 * commas (map i is the i-th), sizes as integer literals:
 *
 *   KWASM_MAPS(KWASM_ARRAY(4) KWASM_HASH(64, 8, 1024) KWASM_RING_BUF(65536));
 *   enum { COUNTERS, PER_NAME, EVENTS };
 *
 * It writes the `kwasm.maps` custom section (v2 records: tag | kind, key
 * size, value size, entries) with top-level assembly, as C has no way to
 * name a custom section.
 */
#define KWASM_STR_(x) #x
#define KWASM_STR(x) KWASM_STR_(x)
#define KWASM_DECL(kind, key, value, entries)                                 \
	".int32 " KWASM_STR(KWASM_DECL_TAG) "+" KWASM_STR(kind) "\n"          \
	".int32 " KWASM_STR(key) "\n.int32 " KWASM_STR(value) "\n"            \
	".int32 " KWASM_STR(entries) "\n"
#define KWASM_ARRAY(entries) KWASM_DECL(KWASM_MAP_ARRAY, 4, 8, entries)
#define KWASM_PER_CPU_ARRAY(entries) KWASM_DECL(KWASM_MAP_PER_CPU_ARRAY, 4, 8, entries)
#define KWASM_HASH(key_size, value_size, entries)                             \
	KWASM_DECL(KWASM_MAP_HASH, key_size, value_size, entries)
#define KWASM_RING_BUF(bytes) KWASM_DECL(KWASM_MAP_RING_BUF, 0, 0, bytes)
#define KWASM_MAPS(records)                                                   \
	__asm__(".section .custom_section." KWASM_MAPS_SECTION ",\"\",@\n"     \
		records ".text\n")

/* ---- Building text without libc --------------------------------------- */

/* A line of text in a fixed buffer of 200 bytes, like the Rust SDK's
 * log! buffer: appends past the end are cut, and kwasm_text_end marks a
 * cut line with a final "...". Start with `struct kwasm_text t = {0};`. */
struct kwasm_text {
	char buf[200];
	size_t len;
	int cut;
};

static inline void kwasm_text_bytes(struct kwasm_text *t, const void *s, size_t n)
{
	const char *c = (const char *)s;
	for (size_t i = 0; i < n; i++) {
		if (t->len == sizeof(t->buf)) {
			t->cut = 1;
			return;
		}
		t->buf[t->len++] = c[i];
	}
}

/* Ends a cut line with "..." (once). */
static inline void kwasm_text_end(struct kwasm_text *t)
{
	if (t->cut) {
		size_t at = t->len < sizeof(t->buf) - 3 ? t->len : sizeof(t->buf) - 3;
		t->buf[at] = t->buf[at + 1] = t->buf[at + 2] = '.';
		t->len = at + 3;
		t->cut = 0;
	}
}

static inline void kwasm_text_str(struct kwasm_text *t, const char *s)
{
	kwasm_text_bytes(t, s, kwasm_strlen(s));
}

static inline void kwasm_text_u64(struct kwasm_text *t, uint64_t v)
{
	char d[20];
	size_t n = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		kwasm_text_bytes(t, &d[--n], 1);
}

/* An IPv4 address in dotted form, or an IPv6 one in RFC 5952 form. */
static inline void kwasm_text_addr(struct kwasm_text *t, const uint8_t *a, int len)
{
	if (len == 4) {
		for (int i = 0; i < 4; i++) {
			if (i)
				kwasm_text_str(t, ".");
			kwasm_text_u64(t, a[i]);
		}
		return;
	}
	uint16_t w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	/* The longest run (at least 2) of zero groups, the first on a tie. */
	int best = 8, best_len = 0;
	for (int i = 0; i < 8;) {
		if (w[i]) {
			i++;
			continue;
		}
		int s = i;
		while (i < 8 && !w[i])
			i++;
		if (i - s > best_len && i - s >= 2) {
			best = s;
			best_len = i - s;
		}
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			kwasm_text_str(t, "::");
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			kwasm_text_str(t, ":");
		const char *hex = "0123456789abcdef";
		int started = 0;
		for (int sh = 12; sh >= 0; sh -= 4) {
			int d = (w[i] >> sh) & 0xf;
			if (d || started || sh == 0) {
				kwasm_text_bytes(t, &hex[d], 1);
				started = 1;
			}
		}
	}
}

static inline void kwasm_text_log(struct kwasm_text *t)
{
	kwasm_text_end(t);
	kwasm_log(t->buf, t->len);
}

/* ---- Headers ------------------------------------------------------------ */

static inline uint16_t kwasm_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#define KWASM_PROTO_TCP 6
#define KWASM_PROTO_UDP 17

/* An IP header of a packet copy b[0..n): addresses, the upper-layer
 * protocol (after IPv6 extension headers), and where the transport header
 * starts and the datagram ends (l4 is -1 when the transport header is not
 * in the packet: a non-first fragment, ESP, a truncated extension chain).
 * The rules are the Rust SDK's (guests/sdk/src/net.rs). */
struct kwasm_ip {
	int version;
	int addr_len;
	const uint8_t *src;
	const uint8_t *dst;
	uint8_t proto;
	int l4;
	uint32_t end;
};

static inline uint32_t kwasm_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Parses b[0..n); 0 when it is not an IPv4 or IPv6 header. */
static inline int kwasm_ip_parse(const uint8_t *b, uint32_t n, struct kwasm_ip *ip)
{
	if (n >= 20 && b[0] >> 4 == 4) {
		uint32_t hl = (uint32_t)(b[0] & 0xf) * 4, tl = kwasm_be16(b + 2);
		if (hl < 20 || n < hl)
			return 0;
		ip->version = 4;
		ip->addr_len = 4;
		ip->src = b + 12;
		ip->dst = b + 16;
		ip->proto = b[9];
		ip->end = tl == 0 ? n : kwasm_min(tl, n);
		if (ip->end < hl)
			ip->end = hl;
		ip->l4 = (kwasm_be16(b + 6) & 0x1fff) ? -1 : (int)hl;
		return 1;
	}
	if (n < 40 || b[0] >> 4 != 6)
		return 0;
	uint32_t pl = kwasm_be16(b + 4);
	ip->version = 6;
	ip->addr_len = 16;
	ip->src = b + 8;
	ip->dst = b + 24;
	ip->end = pl == 0 ? n : kwasm_min(40 + pl, n);
	ip->l4 = -1;
	uint8_t nh = b[6];
	uint32_t off = 40;
	/* Hop-by-hop (0), routing (43), fragment (44), destination options
	 * (60) and AH (51): at most 8 of them. */
	for (int i = 0; i < 8; i++) {
		uint32_t len;
		if (nh == 0 || nh == 43 || nh == 60) {
			if (off + 1 >= ip->end)
				break;
			len = ((uint32_t)b[off + 1] + 1) * 8;
		} else if (nh == 51) {
			if (off + 1 >= ip->end)
				break;
			len = ((uint32_t)b[off + 1] + 2) * 4;
		} else if (nh == 44) {
			if (off + 3 >= ip->end)
				break;
			if (kwasm_be16(b + off + 2) >> 3) {
				ip->proto = b[off];
				return 1;
			}
			len = 8;
		} else if (nh == 50 || nh == 59) {
			break;
		} else {
			ip->proto = nh;
			ip->l4 = (int)off;
			return 1;
		}
		if (off + len > ip->end)
			break;
		nh = b[off];
		off += len;
	}
	ip->proto = nh;
	return 1;
}

/* The UDP or TCP destination port, or -1 when it is not in the packet. */
static inline int kwasm_dst_port(const uint8_t *b, const struct kwasm_ip *ip)
{
	if (ip->l4 < 0 || (uint32_t)ip->l4 + 4 > ip->end)
		return -1;
	return kwasm_be16(b + ip->l4 + 2);
}

/* A UDP datagram's payload: its offset in b and its length (bounded by the
 * UDP length field); 0 when the UDP header is not in the packet. */
static inline int kwasm_udp_payload(const uint8_t *b, const struct kwasm_ip *ip, uint32_t *off,
				    uint32_t *len)
{
	if (ip->proto != KWASM_PROTO_UDP || ip->l4 < 0 || (uint32_t)ip->l4 + 8 > ip->end)
		return 0;
	uint32_t l4 = (uint32_t)ip->l4, seen = ip->end - l4, ulen = kwasm_be16(b + l4 + 4);
	uint32_t end = ulen < 8 ? seen : kwasm_min(ulen, seen);
	*off = l4 + 8;
	*len = end - 8;
	return 1;
}

#endif /* KWASM_H */
