/*
 * dns_counter.c: the C twin of guests/examples/dns_parser (Rust). It
 * inspects DNS queries over UDP to port 53, counts them in total, per type
 * and per queried name, drops queries for names under blocked.test and
 * streams each blocked query to userspace, with the same maps, verdicts,
 * records and log lines as the Rust program (tools/test.mjs runs both on
 * the same packets and compares).
 *
 * Maps:
 *   0  array[4]   [queries, blocked, malformed, other]
 *   1  array[256] queries per query type (entry 0: types above 255)
 *   2  hash       queries per name: the presentation form, lowercased,
 *                 cut to 64 bytes and zero-padded -> u64
 *   3  ring_buf   "NAME TYPE from ADDRESS" per blocked query
 */
#include "kwasm.h"

KWASM_MAPS(KWASM_ARRAY(4) KWASM_ARRAY(256) KWASM_HASH(64, 8, 1024) KWASM_RING_BUF(65536));
enum { COUNTERS, PER_QTYPE, PER_NAME, BLOCKED_EVENTS };
enum { QUERIES, BLOCKED, MALFORMED, OTHER };

#define DNS_PORT 53
#define HEADER_LEN 12
#define MAX_NAME_LEN 255
#define NAME_KEY 64

static const char BLOCKED_DOMAIN[] = "blocked.test";

/* Why a datagram to port 53 is not a parseable query (the wording of the
 * Rust SDK's dns::Error). */
enum dns_error { DNS_OK, TRUNCATED, NAME_TOO_LONG, BAD_LABEL, COMPRESSED, NOT_QUERY, NO_QUESTION };
static const char *const ERROR_TEXT[] = {
	"", "truncated", "name too long", "bad label type", "compression pointer in question",
	"not a query", "no question",
};

/* The first question of a query in m[0..len): the name's wire form at
 * m[HEADER_LEN..name_end), then its type. */
static enum dns_error parse_query(const uint8_t *m, uint32_t len, uint32_t *name_end,
				  uint16_t *qtype)
{
	if (len < HEADER_LEN)
		return TRUNCATED;
	if (m[2] & 0x80)
		return NOT_QUERY;
	if (kwasm_be16(m + 4) == 0)
		return NO_QUESTION;
	uint32_t pos = HEADER_LEN;
	for (;;) {
		if (pos >= len)
			return TRUNCATED;
		uint32_t l = m[pos];
		if ((l & 0xc0) == 0xc0)
			return COMPRESSED;
		if (l & 0xc0)
			return BAD_LABEL;
		pos += 1 + l;
		if (pos - HEADER_LEN > MAX_NAME_LEN)
			return NAME_TOO_LONG;
		if (l == 0)
			break;
		if (pos > len)
			return TRUNCATED;
	}
	if (pos + 4 > len)
		return TRUNCATED;
	*name_end = pos;
	*qtype = kwasm_be16(m + pos);
	return DNS_OK;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Whether the wire-form name w[0..n) is BLOCKED_DOMAIN or below it,
 * ASCII case-insensitively; a dot inside a label never matches. */
static int is_blocked(const uint8_t *w, uint32_t n)
{
	const uint32_t want = sizeof(BLOCKED_DOMAIN) - 1;
	for (uint32_t s = 0; s + 1 < n; s += 1 + w[s]) {
		uint32_t dotted = n - s - 2;
		if (dotted < want)
			return 0;
		if (dotted != want)
			continue;
		/* The labels from s on, dotted, against BLOCKED_DOMAIN. */
		uint32_t j = 0;
		for (uint32_t p = s; w[p]; p += 1 + w[p]) {
			if (j && BLOCKED_DOMAIN[j++] != '.')
				return 0;
			for (uint32_t k = 0; k < w[p]; k++, j++) {
				uint8_t c = w[p + 1 + k];
				if (c == '.' || lower(c) != (uint8_t)BLOCKED_DOMAIN[j])
					return 0;
			}
		}
		return j == want;
	}
	return 0;
}

/* The presentation form of the wire-form name w: labels joined by dots,
 * `.` and `\` escaped, other bytes outside printable ASCII as \DDD; `.` for
 * the root. */
static void name_text(struct kwasm_text *t, const uint8_t *w)
{
	if (!w[0]) {
		kwasm_text_str(t, ".");
		return;
	}
	for (uint32_t p = 0; w[p]; p += 1 + w[p]) {
		if (p)
			kwasm_text_str(t, ".");
		for (uint32_t k = 0; k < w[p]; k++) {
			uint8_t c = w[p + 1 + k];
			if (c == '.' || c == '\\') {
				char e[2] = {'\\', (char)c};
				kwasm_text_bytes(t, e, 2);
			} else if (c >= 0x21 && c <= 0x7e) {
				kwasm_text_bytes(t, &c, 1);
			} else {
				char e[4] = {'\\', (char)('0' + c / 100), (char)('0' + c / 10 % 10),
					     (char)('0' + c % 10)};
				kwasm_text_bytes(t, e, 4);
			}
		}
	}
}

/* A query type's mnemonic, or TYPE<n> (RFC 3597). */
static void qtype_text(struct kwasm_text *t, uint16_t q)
{
	static const struct {
		uint16_t type;
		const char *name;
	} NAMES[] = {
		{1, "A"},     {2, "NS"},     {5, "CNAME"},  {6, "SOA"},   {12, "PTR"},
		{15, "MX"},   {16, "TXT"},   {28, "AAAA"},  {33, "SRV"},  {35, "NAPTR"},
		{41, "OPT"},  {43, "DS"},    {46, "RRSIG"}, {48, "DNSKEY"}, {64, "SVCB"},
		{65, "HTTPS"}, {252, "AXFR"}, {255, "ANY"}, {257, "CAA"},
	};
	for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++) {
		if (NAMES[i].type == q) {
			kwasm_text_str(t, NAMES[i].name);
			return;
		}
	}
	kwasm_text_str(t, "TYPE");
	kwasm_text_u64(t, q);
}

static kwasm_verdict dns_counter(uint32_t len)
{
	(void)len;
	/* IP (up to 60 bytes, or 40 + IPv6 extension headers), UDP (8), the
	 * DNS header (12), a name of at most 255 bytes, type and class (4). */
	uint8_t b[512];
	uint32_t n = kwasm_pkt_load(0, b, sizeof b), off, mlen;
	struct kwasm_ip ip;
	if (!kwasm_ip_parse(b, n, &ip) || !kwasm_udp_payload(b, &ip, &off, &mlen) ||
	    kwasm_dst_port(b, &ip) != DNS_PORT) {
		kwasm_map_add(COUNTERS, OTHER, 1);
		return KWASM_ACCEPT;
	}
	const uint8_t *m = b + off;
	uint32_t name_end;
	uint16_t qtype;
	struct kwasm_text line = {0};
	enum dns_error e = parse_query(m, mlen, &name_end, &qtype);
	if (e != DNS_OK) {
		kwasm_map_add(COUNTERS, MALFORMED, 1);
		if (e == COMPRESSED)
			kwasm_map_add(COUNTERS, BLOCKED, 1);
		kwasm_text_str(&line, "dns: malformed query from ");
		kwasm_text_addr(&line, ip.src, ip.addr_len);
		kwasm_text_str(&line, ": ");
		kwasm_text_str(&line, ERROR_TEXT[e]);
		kwasm_text_log(&line);
		return e == COMPRESSED ? KWASM_DROP : KWASM_ACCEPT;
	}
	const uint8_t *name = m + HEADER_LEN;
	int blocked = is_blocked(name, name_end - HEADER_LEN);
	kwasm_map_add(COUNTERS, QUERIES, 1);
	kwasm_map_add(PER_QTYPE, qtype < 256 ? qtype : 0, 1);
	if (blocked)
		kwasm_map_add(COUNTERS, BLOCKED, 1);

	/* Per name: the presentation form, lowercased. A full map leaves new
	 * names uncounted. */
	struct kwasm_text key = {0};
	name_text(&key, name);
	uint8_t k[NAME_KEY] = {0};
	for (size_t i = 0; i < key.len && i < NAME_KEY; i++)
		k[i] = lower((uint8_t)key.buf[i]);
	uint64_t one = 1;
	kwasm_map_update(PER_NAME, k, &one, KWASM_UPDATE_ADD);

	/* "NAME TYPE from ADDRESS", as the event and in the log line. */
	struct kwasm_text what = {0};
	name_text(&what, name);
	kwasm_text_str(&what, " ");
	qtype_text(&what, qtype);
	kwasm_text_str(&what, " from ");
	kwasm_text_addr(&what, ip.src, ip.addr_len);
	kwasm_text_end(&what);
	if (blocked)
		kwasm_event_output(BLOCKED_EVENTS, what.buf, what.len);
	kwasm_text_str(&line, blocked ? "dns: DROP " : "dns: query ");
	kwasm_text_bytes(&line, what.buf, what.len);
	kwasm_text_log(&line);
	return blocked ? KWASM_DROP : KWASM_ACCEPT;
}

KWASM_FILTER(dns_counter)
