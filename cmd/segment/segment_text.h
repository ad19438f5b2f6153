/* segment_text: the character and line primitives every segment reader
 * shares: whitespace (ASCII and the Unicode spaces), code point counting,
 * lines. Inline because the scanners call them for nearly every byte.
 * Ranges are byte offsets into valid UTF-8 that end on code point
 * boundaries; none of these allocate or fail. */
#ifndef LANES_SEGMENT_TEXT_H
#define LANES_SEGMENT_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ASCII whitespace: space, \t \n \v \f \r. */
static inline int seg_text_is_space(unsigned char ch)
{
	return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static inline int seg_text_is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Bytes of the code point whose lead byte is lead. */
static inline size_t seg_text_cp_len(unsigned char lead)
{
	return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/* Length of the whitespace code point at d[i] (i < e), or 0. Besides ASCII
 * this knows NEL, NBSP, the U+2000 spaces, the line/paragraph separators
 * and the ideographic space, so CJK and typeset text trim like ASCII. */
static inline size_t seg_text_ws_len(const unsigned char *d, size_t i, size_t e)
{
	unsigned char ch = d[i];
	if (ch < 0x80)
		return seg_text_is_space(ch);
	if (ch == 0xc2)
		return i + 1 < e && (d[i + 1] == 0x85 || d[i + 1] == 0xa0) ? 2 : 0;
	if (i + 2 >= e)
		return 0;
	if (ch == 0xe2 && d[i + 1] == 0x80 &&
	    (d[i + 2] <= 0x8a || d[i + 2] == 0xa8 || d[i + 2] == 0xa9 || d[i + 2] == 0xaf))
		return 3;
	if (ch == 0xe2 && d[i + 1] == 0x81 && d[i + 2] == 0x9f)
		return 3;
	if (ch == 0xe3 && d[i + 1] == 0x80 && d[i + 2] == 0x80)
		return 3;
	return 0;
}

/* Length of the whitespace code point ending at d[e] (not before lo), or 0. */
static inline size_t seg_text_ws_end(const unsigned char *d, size_t lo, size_t e)
{
	if (e <= lo)
		return 0;
	if (d[e - 1] < 0x80)
		return seg_text_is_space(d[e - 1]);
	size_t y = e - 1;
	while (y > lo && (d[y] & 0xc0) == 0x80)
		y--;
	size_t l = seg_text_ws_len(d, y, e);
	return l == e - y ? l : 0;
}

/* First non-whitespace offset in d[s..e), or e. */
static inline size_t seg_text_skip_ws(const unsigned char *d, size_t s, size_t e)
{
	size_t l;
	while (s < e && (l = seg_text_ws_len(d, s, e)))
		s += l;
	return s;
}

/* End of d[s..e) without its trailing whitespace. */
static inline size_t seg_text_trim_end(const unsigned char *d, size_t s, size_t e)
{
	size_t l;
	while (e > s && (l = seg_text_ws_end(d, s, e)))
		e -= l;
	return e;
}

/* Whether d[s..e) holds only whitespace. */
static inline int seg_text_is_blank(const unsigned char *d, size_t s, size_t e)
{
	return seg_text_skip_ws(d, s, e) >= e;
}

/* Code points in s[0..n): bytes minus continuation bytes (10xxxxxx),
 * eight bytes at a time, since in chars mode this runs over every byte. */
static inline size_t seg_text_cp_count(const unsigned char *s, size_t n)
{
	size_t cont = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		uint64_t m = (w & ~(w << 1) & 0x8080808080808080ULL) >> 7;
		/* sums the eight 0/1 bytes into the top byte: no popcnt needed */
		cont += (size_t)((m * 0x0101010101010101ULL) >> 56);
	}
	for (; i < n; i++)
		cont += (s[i] & 0xc0) == 0x80;
	return n - cont;
}

/* Offset of the '\n' ending the line that holds d[i], or n. */
static inline size_t seg_text_eol(const char *d, size_t i, size_t n)
{
	const char *p = memchr(d + i, '\n', n - i);
	return p ? (size_t)(p - d) : n;
}

/* Bytes of a UTF-8 byte order mark at the start of doc (3), or 0. */
static inline size_t seg_text_bom(const char *doc, size_t len)
{
	return len >= 3 && memcmp(doc, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

#endif
