/* Unit tests of common/util.c: JSON string escaping (against a byte-by-byte
 * reference), UTF-8 checks, decoding and encoding, strict number parsing, FNV-1a. */
#include "t.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

static void reference_json_str(struct buf *b, const unsigned char *s, size_t n)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '"')
			buf_puts(b, "\\\"");
		else if (c == '\\')
			buf_puts(b, "\\\\");
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c == '\b')
			buf_puts(b, "\\b");
		else if (c == '\f')
			buf_puts(b, "\\f");
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

int main(void)
{
	struct buf a = {0}, b = {0};
	buf_json_str(&a, "a\"b\\c\nd\x01" "e", 9);
	T_EQ_STR(a.p, "\"a\\\"b\\\\c\\nd\\u0001e\"", "escapes");
	unsigned seed = 1;
	int same = 1;
	unsigned char s[300];
	for (int round = 0; round < 20000 && same; round++) {
		size_t n = (size_t)(rand_r(&seed) % 300);
		for (size_t i = 0; i < n; i++) {
			int r = rand_r(&seed) % 100;
			s[i] = r < 80 ? (unsigned char)('a' + r % 26)
			       : r < 85 ? '"' : r < 90 ? '\\' : r < 95 ? (unsigned char)(rand_r(&seed) % 32)
			       : (unsigned char)(128 + rand_r(&seed) % 128);
		}
		buf_reset(&a);
		buf_reset(&b);
		buf_json_str(&a, (const char *)s, n);
		reference_json_str(&b, s, n);
		same = a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
	}
	T_OK(same, "word-at-a-time escaping equals the byte-by-byte reference on random strings");
	buf_free(&a);
	buf_free(&b);

	T_EQ_INT(utf8_check("h\xc3\xa9llo", 6), -1, "valid UTF-8");
	T_EQ_INT(utf8_check("ab\xc3", 3), 2, "truncated sequence");
	T_EQ_INT(utf8_check("\xc0\x80", 2), 0, "overlong refused");
	T_EQ_INT(utf8_check("\xed\xa0\x80", 3), 0, "surrogate refused");
	T_EQ_INT(utf8_check("\xf4\x90\x80\x80", 4), 0, "above U+10FFFF refused");
	uint32_t cp = 0;
	T_EQ_INT(utf8_decode("\xe2\x82\xac", 3, &cp), 3, "decode a 3-byte code point");
	T_EQ_INT(cp, 0x20ac, "decode gives U+20AC");
	T_EQ_INT(utf8_decode("\xe2\x82", 2, &cp), 0, "decode refuses a cut sequence");
	T_EQ_INT(utf8_decode("\xe0\x80\x80", 3, &cp), 0, "decode refuses an overlong form");
	T_EQ_INT(utf8_decode("\xed\xa0\x80", 3, &cp), 0, "decode refuses a surrogate");
	T_EQ_INT(utf8_decode("", 0, &cp), 0, "decode refuses nothing");
	int round = 1;
	for (uint32_t c = 0; c <= 0x10ffff; c++) {
		char u[4];
		uint32_t back = 0;
		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		size_t k = utf8_encode(c, u);
		if (utf8_decode(u, k, &back) != k || back != c || utf8_check(u, k) != -1)
			round = 0;
	}
	T_OK(round, "every code point encodes and decodes back, and utf8_check accepts it");
	struct buf f = {0};
	static const float fl[] = {0.6f, 0.1f, -0.45883146f, 1e-7f, 123456789.0f, 0.0f, -0.0f, 3.4028235e38f};
	for (size_t i = 0; i < ARRAY_LEN(fl); i++) {
		if (i)
			buf_putc(&f, ',');
		buf_put_float(&f, fl[i]);
	}
	T_EQ_STR(f.p, "0.6,0.1,-0.45883146,1e-07,1.2345679e+08,0,-0,3.4028235e+38",
		 "buf_put_float: the shortest text that reads back as the float32");
	int back = 1;
	uint32_t bits = 0x3f000000u;
	for (int i = 0; i < 100000; i++) {
		float x;
		bits = bits * 1664525u + 1013904223u;
		memcpy(&x, &bits, 4);
		if (!isfinite(x))
			continue;
		buf_reset(&f);
		buf_put_float(&f, x);
		if (strtof(f.p, NULL) != x || f.len > 16)
			back = 0;
	}
	T_OK(back, "buf_put_float: 100000 float32 bit patterns read back");
	buf_reset(&f);
	buf_put_double(&f, 0.1);
	buf_putc(&f, ',');
	buf_put_double(&f, 1.0 / 3);
	T_EQ_STR(f.p, "0.1,0.3333333333333333", "buf_put_double: shortest of 15 to 17 digits");
	buf_free(&f);
	T_EQ_INT(utf8_floor("ab\xe2\x82", 4), 2, "floor drops a partial code point");
	T_EQ_INT(utf8_floor("ab\xe2\x82\xac", 5), 5, "floor keeps a whole one");
	long v;
	T_EQ_INT(parse_long("42", 0, 100, &v), 0, "parse_long");
	T_EQ_INT(parse_long("42x", 0, 100, &v), -1, "parse_long trailing text");
	T_EQ_INT(parse_long("101", 0, 100, &v), -1, "parse_long range");
	T_EQ_INT(parse_long("", 0, 100, &v), -1, "parse_long empty");
	T_OK(fnv64(FNV64_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL, "FNV-1a 64 of \"a\"");
	static const char *const urls[][2] = {
		{"http://u:pw@h:1/v1", "http://u:<redacted>@h:1/v1"},
		{"https://u:p:w@h/x@y", "https://u:<redacted>@h/x@y"},
		{"http://u@h:1", "http://u@h:1"},
		{"http://h:1/a:b@c", "http://h:1/a:b@c"},
		{"not a url", "not a url"},
		{"postgres://me:secret@db/lanes", "postgres://me:<redacted>@db/lanes"},
		{"postgresql:///lanes?host=/tmp&password=pw&port=5", "postgresql:///lanes?host=/tmp&password=<redacted>&port=5"},
		{"postgresql://u:a@h/l?password=b", "postgresql://u:<redacted>@h/l?password=<redacted>"},
		{"postgresql://h/l?xpassword=b#password=c", "postgresql://h/l?xpassword=b#password=c"},
		{"postgresql://h/l?port=1?password=c", "postgresql://h/l?port=1?password=<redacted>"},
	};
	for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
		char *r = redact_url(urls[i][0]);
		T_EQ_STR(r, urls[i][1], "redact_url");
		free(r);
	}
	return t_done();
}
