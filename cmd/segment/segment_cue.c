/* segment_cue: the transcript reader (SRT and WebVTT). It reads cue by
 * cue, cleans each cue's text (tags, overrides, entities, whitespace),
 * finds the speaker, and hands the packer one piece per single-speaker
 * part of a cue, carrying its own text, times and speaker. The rules are
 * in man/segment.1 (SPLITTING RULES: Transcripts). */
#include "segment_cue.h"
#include "segment_text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The reader's state: the cue being read and the last speaker. */
struct cue_reader {
	struct seg_pack *p;
	const char *doc;
	size_t len;
	int vtt;
	int dry; /* first pass, only looking for errors */
	char *err;
	size_t errlen;

	double t0, t1;
	struct buf cue;   /* cleaned text of the current single-speaker part */
	int cue_sp;       /* a space is due before the next visible text */
	size_t cue_b0, cue_b1;
	int has_spk;
	size_t spk_off, spk_len;
	int prev_set, prev_has; /* speaker of the last piece */
	size_t prev_off, prev_len;
	size_t vb, vc;    /* end of the joined stream of cue texts so far */
};

/* Every message ends with a byte offset or a line number. */
static int fail(struct cue_reader *c, const char *what, size_t at)
{
	if (c->errlen)
		snprintf(c->err, c->errlen, "%s %zu", what, at);
	return -1;
}

/* Reads lines of the document; L->no is the 1-based number of the line
 * last read. */
struct lines {
	const char *d;
	size_t n, pos, no;
};

static int next_line(struct lines *L, size_t *s, size_t *e)
{
	if (L->pos >= L->n)
		return 0;
	size_t le = seg_text_eol(L->d, L->pos, L->n);
	*s = L->pos;
	*e = le;
	if (*e > *s && L->d[*e - 1] == '\r')
		(*e)--;
	L->pos = le < L->n ? le + 1 : L->n;
	L->no++;
	return 1;
}

/* Parses [hh:]mm:ss[.fff] (',' too) at d[*i..e). Minutes and seconds must
 * be below 60. Returns -1 when malformed. */
static int parse_ts(const unsigned char *d, size_t *i, size_t e, double *out)
{
	unsigned long part[3];
	int np = 0;
	size_t k = *i;
	for (;;) {
		size_t st = k;
		unsigned long v = 0;
		while (k < e && seg_text_is_digit(d[k]) && k - st < 9)
			v = v * 10 + (unsigned long)(d[k++] - '0');
		if (k == st || (k < e && seg_text_is_digit(d[k])))
			return -1;
		part[np++] = v;
		if (np < 3 && k < e && d[k] == ':') {
			k++;
			continue;
		}
		break;
	}
	if (np < 2)
		return -1;
	double frac = 0;
	if (k < e && (d[k] == '.' || d[k] == ',')) {
		size_t st = ++k;
		unsigned long v = 0, scale = 1;
		while (k < e && seg_text_is_digit(d[k])) {
			if (k - st < 9)
				v = v * 10 + (unsigned long)(d[k] - '0'), scale *= 10;
			k++;
		}
		if (k == st)
			return -1;
		frac = (double)v / (double)scale;
	}
	unsigned long h = np == 3 ? part[0] : 0, m = part[np - 2], sec = part[np - 1];
	if (m > 59 || sec > 59)
		return -1;
	*out = (double)h * 3600.0 + (double)m * 60.0 + (double)sec + frac;
	*i = k;
	return 0;
}

/* A timing line: start --> end, then optional cue settings. */
static int parse_timing(const unsigned char *d, size_t s, size_t e, double *t0, double *t1)
{
	size_t i = s;
	while (i < e && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (parse_ts(d, &i, e, t0) < 0)
		return -1;
	while (i < e && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (e - i < 3 || memcmp(d + i, "-->", 3) != 0)
		return -1;
	i += 3;
	while (i < e && (d[i] == ' ' || d[i] == '\t'))
		i++;
	if (parse_ts(d, &i, e, t1) < 0)
		return -1;
	return i == e || d[i] == ' ' || d[i] == '\t' ? 0 : -1;
}

static int has_arrow(const char *d, size_t s, size_t e)
{
	return memmem(d + s, e - s, "-->", 3) != NULL;
}

static int all_digits(const unsigned char *d, size_t s, size_t e)
{
	s = seg_text_skip_ws(d, s, e);
	e = seg_text_trim_end(d, s, e);
	if (s >= e)
		return 0;
	for (; s < e; s++)
		if (!seg_text_is_digit(d[s]))
			return 0;
	return 1;
}

static int starts_word(const unsigned char *d, size_t s, size_t e, const char *w)
{
	size_t n = strlen(w);
	return e - s >= n && memcmp(d + s, w, n) == 0 && (e - s == n || seg_text_is_space(d[s + n]));
}

/* Turns the single-speaker part of the cue read so far into pieces: its
 * text cut to max when needed, a speaker change forcing a new segment. */
static void cue_flush(struct cue_reader *c)
{
	struct buf *t = &c->cue;
	if (!t->len || c->dry) {
		t->len = 0;
		c->cue_sp = 0;
		return;
	}
	/* decoded references and NBSP can still put spaces at the edges */
	const unsigned char *d = (const unsigned char *)t->p;
	size_t s = seg_text_skip_ws(d, 0, t->len), e = seg_text_trim_end(d, s, t->len);
	if (s >= e) {
		t->len = 0;
		c->cue_sp = 0;
		return;
	}
	unsigned flags = 0;
	if (c->prev_set &&
	    (c->prev_has != c->has_spk ||
	     (c->has_spk && (c->prev_len != c->spk_len ||
			     memcmp(c->doc + c->prev_off, c->doc + c->spk_off, c->spk_len) != 0))))
		flags = SEG_HARD;
	c->prev_set = 1;
	c->prev_has = c->has_spk;
	c->prev_off = c->spk_off;
	c->prev_len = c->spk_len;
	while (s < e && !c->p->stopped) {
		size_t cut = seg_pack_cut(c->p, d, s, e), ce = seg_text_trim_end(d, s, cut);
		struct seg_piece pc = {0};
		pc.tx = t->p + s;
		pc.b0 = c->cue_b0;
		pc.b1 = c->cue_b1;
		pc.vb0 = c->vb;
		pc.vb1 = pc.vb0 + (ce - s);
		pc.vc0 = c->p->tokens ? pc.vb0 : c->vc;
		pc.vc1 = c->p->tokens ? pc.vb1 : pc.vc0 + seg_text_cp_count(d + s, ce - s);
		c->vb = pc.vb1 + 1;
		c->vc = pc.vc1 + 1;
		pc.t0 = c->t0;
		pc.t1 = c->t1;
		pc.has_spk = c->has_spk;
		pc.spk = c->spk_off;
		pc.spk_len = c->spk_len;
		pc.flags = flags;
		flags = 0;
		seg_pack_piece(c->p, &pc);
		s = seg_text_skip_ws(d, cut, e);
	}
	t->len = 0;
	c->cue_sp = 0;
}

static void cue_speaker(struct cue_reader *c, size_t off, size_t len)
{
	int same = c->has_spk && c->spk_len == len &&
		   memcmp(c->doc + c->spk_off, c->doc + off, len) == 0;
	if (!same)
		cue_flush(c);
	c->has_spk = 1;
	c->spk_off = off;
	c->spk_len = len;
}

static void cue_put(struct cue_reader *c, const void *p, size_t n, size_t db0, size_t db1)
{
	if (!c->cue.len)
		c->cue_b0 = db0;
	else if (c->cue_sp)
		buf_putc(&c->cue, ' ');
	c->cue_sp = 0;
	buf_append(&c->cue, p, n);
	c->cue_b1 = db1;
}

/* A "Name: " prefix at d[i]: one to four words of letters, digits and
 * . ' - _ (up to 40 bytes) starting with a capital or a non-ASCII letter,
 * then a colon and a space; an optional dialogue dash before it. Returns
 * where the spoken text starts, or 0. */
static size_t speaker_prefix(const unsigned char *d, size_t i, size_t e, size_t *ns, size_t *nl)
{
	size_t j = i;
	if (j + 1 < e && (d[j] == '-' || (d[j] == '>' && d[j + 1] == '>'))) {
		j += d[j] == '-' ? 1 : 2;
		while (j < e && d[j] == ' ')
			j++;
	}
	if (j >= e || !((d[j] >= 'A' && d[j] <= 'Z') || d[j] >= 0x80))
		return 0;
	size_t k = j, words = 1;
	for (; k < e && d[k] != ':'; k++) {
		unsigned char ch = d[k];
		if (k - j >= 40)
			return 0;
		if (ch == ' ') {
			if (d[k - 1] == ' ' || ++words > 4)
				return 0;
			continue;
		}
		if (!(ch >= 0x80 || seg_text_is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
		      ch == '.' || ch == '\'' || ch == '-' || ch == '_'))
			return 0;
	}
	if (k >= e || d[k - 1] == ' ' || (k + 1 < e && !seg_text_is_space(d[k + 1])))
		return 0;
	*ns = j;
	*nl = k - j;
	k++;
	while (k < e && seg_text_is_space(d[k]))
		k++;
	return k;
}

/* Decodes the WebVTT character reference at d[i] ('&') into out; returns
 * its length, or 0 when it is not one (the '&' then stays as text). */
static size_t vtt_entity(const unsigned char *d, size_t i, size_t e, char out[4], size_t *olen)
{
	static const struct {
		const char *name;
		const char *text;
	} ents[] = {
		{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""},
		{"apos", "'"}, {"nbsp", " "}, {"lrm", ""}, {"rlm", ""},
	};
	size_t k = i + 1;
	while (k < e && k - i <= 8 && d[k] != ';')
		k++;
	if (k >= e || d[k] != ';')
		return 0;
	for (size_t x = 0; x < ARRAY_LEN(ents); x++) {
		size_t n = strlen(ents[x].name);
		if (k - i - 1 == n && memcmp(d + i + 1, ents[x].name, n) == 0) {
			*olen = strlen(ents[x].text);
			memcpy(out, ents[x].text, *olen);
			return k + 1 - i;
		}
	}
	if (d[i + 1] != '#' || k - i < 3)
		return 0;
	int hex = d[i + 2] == 'x' || d[i + 2] == 'X';
	uint32_t cp = 0;
	for (size_t x = i + 2 + (size_t)hex; x < k; x++) {
		unsigned char ch = d[x];
		unsigned v = seg_text_is_digit(ch) ? (unsigned)(ch - '0')
			   : hex && (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10u
			   : 99u;
		if (v >= (hex ? 16u : 10u))
			return 0;
		cp = cp * (hex ? 16 : 10) + v;
		if (cp > 0x10ffff)
			return 0;
	}
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*olen = utf8_encode(cp, out);
	return k + 1 - i;
}

/* Adds one line of cue text: tags dropped (a <v Name> voice tag sets the
 * speaker), {\an8}-style overrides dropped, entities decoded (WebVTT),
 * whitespace collapsed, a "Name: " prefix taken as the speaker. */
static void cue_line(struct cue_reader *c, size_t s, size_t e)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	s = seg_text_skip_ws(d, s, e);
	e = seg_text_trim_end(d, s, e);
	if (s >= e)
		return;
	if (c->cue.len)
		c->cue_sp = 1;
	int text_seen = 0, voiced = 0;
	size_t i = s;
	while (i < e) {
		unsigned char ch = d[i];
		if (ch == '<') {
			const unsigned char *gt = memchr(d + i, '>', e - i);
			if (gt) {
				size_t ts = i + 1, te = (size_t)(gt - d);
				if (te - ts >= 2 && d[ts] == 'v' &&
				    (d[ts + 1] == ' ' || d[ts + 1] == '\t' || d[ts + 1] == '.')) {
					size_t k = ts + 1;
					while (k < te && !seg_text_is_space(d[k]))
						k++;
					k = seg_text_skip_ws(d, k, te);
					size_t ke = seg_text_trim_end(d, k, te);
					if (ke > k) {
						cue_speaker(c, k, ke - k);
						voiced = 1;
					}
				}
				i = te + 1;
				continue;
			}
		}
		if (ch == '{' && i + 1 < e && d[i + 1] == '\\') {
			const unsigned char *cb = memchr(d + i, '}', e - i);
			if (cb) {
				i = (size_t)(cb - d) + 1;
				continue;
			}
		}
		if (seg_text_is_space(ch)) {
			if (c->cue.len)
				c->cue_sp = 1;
			i++;
			continue;
		}
		if (!text_seen) {
			/* a voice tag names the speaker; "Note: ..." after it is text */
			text_seen = 1;
			size_t ns, nl, after = voiced ? 0 : speaker_prefix(d, i, e, &ns, &nl);
			if (after) {
				cue_speaker(c, ns, nl);
				i = after;
				continue;
			}
		}
		if (ch == '&' && c->vtt) {
			char tmp[4];
			size_t olen, el = vtt_entity(d, i, e, tmp, &olen);
			if (el) {
				if (olen == 1 && tmp[0] == ' ') {
					if (c->cue.len)
						c->cue_sp = 1;
				} else if (olen) {
					cue_put(c, tmp, olen, i, i + el);
				}
				i += el;
				continue;
			}
		}
		size_t j = i + 1;
		while (j < e && !seg_text_is_space(d[j]) && d[j] != '<' && d[j] != '{' && d[j] != '&')
			j++;
		cue_put(c, d + i, j - i, i, j);
		i = j;
	}
}

static void cue_begin(struct cue_reader *c, double t0, double t1)
{
	c->t0 = t0;
	c->t1 = t1;
	c->cue.len = 0;
	c->cue_sp = 0;
	c->has_spk = 0;
}

static int split_srt(struct cue_reader *c, size_t pos)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	struct lines L = {c->doc, c->len, pos, 0};
	size_t s, e;
	for (;;) {
		do {
			if (!next_line(&L, &s, &e))
				return 0;
		} while (seg_text_is_blank(d, s, e));
		size_t id_line = L.no;
		if (all_digits(d, s, e) && (!next_line(&L, &s, &e) || seg_text_is_blank(d, s, e)))
			return fail(c, "missing SRT timestamp at line", id_line + 1);
		double t0, t1;
		if (parse_timing(d, s, e, &t0, &t1) < 0)
			return fail(c, "bad SRT timestamp at line", L.no);
		if (t1 < t0)
			return fail(c, "cue ends before it starts at line", L.no);
		cue_begin(c, t0, t1);
		for (;;) {
			struct lines save = L;
			if (!next_line(&L, &s, &e) || seg_text_is_blank(d, s, e))
				break;
			/* a cue number or timing right after text: the blank
			 * line before the next cue is missing */
			if (has_arrow(c->doc, s, e) && parse_timing(d, s, e, &t0, &t1) == 0) {
				L = save;
				break;
			}
			if (all_digits(d, s, e)) {
				struct lines peek = L;
				size_t s2, e2;
				if (next_line(&peek, &s2, &e2) && parse_timing(d, s2, e2, &t0, &t1) == 0) {
					L = save;
					break;
				}
			}
			cue_line(c, s, e);
		}
		cue_flush(c);
		if (c->p->stopped)
			return 0;
	}
}

static int split_vtt(struct cue_reader *c, size_t pos)
{
	const unsigned char *d = (const unsigned char *)c->doc;
	struct lines L = {c->doc, c->len, pos, 0};
	size_t s, e;
	if (!next_line(&L, &s, &e))
		return 0;
	if (!starts_word(d, s, e, "WEBVTT"))
		return fail(c, "missing WEBVTT header at line", 1);
	while (next_line(&L, &s, &e) && !seg_text_is_blank(d, s, e))
		;
	for (;;) {
		do {
			if (!next_line(&L, &s, &e))
				return 0;
		} while (seg_text_is_blank(d, s, e));
		if (starts_word(d, s, e, "NOTE") || starts_word(d, s, e, "STYLE") ||
		    starts_word(d, s, e, "REGION")) {
			while (next_line(&L, &s, &e) && !seg_text_is_blank(d, s, e))
				;
			continue;
		}
		size_t id_line = L.no;
		if (!has_arrow(c->doc, s, e) && (!next_line(&L, &s, &e) || seg_text_is_blank(d, s, e)))
			return fail(c, "missing VTT timestamp at line", id_line + 1);
		double t0, t1;
		if (parse_timing(d, s, e, &t0, &t1) < 0)
			return fail(c, "bad VTT timestamp at line", L.no);
		if (t1 < t0)
			return fail(c, "cue ends before it starts at line", L.no);
		cue_begin(c, t0, t1);
		for (;;) {
			struct lines save = L;
			if (!next_line(&L, &s, &e) || seg_text_is_blank(d, s, e))
				break;
			if (has_arrow(c->doc, s, e)) {
				/* cue text cannot hold "-->": the blank line
				 * before this cue is missing */
				L = save;
				break;
			}
			cue_line(c, s, e);
		}
		cue_flush(c);
		if (c->p->stopped)
			return 0;
	}
}

int seg_cue_read(struct seg_pack *p, size_t pos, int vtt, char *err, size_t errlen)
{
	struct cue_reader c = {.p = p, .doc = p->doc, .len = p->len, .vtt = vtt,
			       .err = err, .errlen = errlen};
	/* a dry pass first, so a bad cue late in the file fails the document
	 * before any segment of it went out */
	c.dry = 1;
	int rc = vtt ? split_vtt(&c, pos) : split_srt(&c, pos);
	c.dry = 0;
	if (rc == 0)
		rc = vtt ? split_vtt(&c, pos) : split_srt(&c, pos);
	buf_free(&c.cue);
	return rc;
}

enum seg_format seg_cue_sniff(const char *doc, size_t pos, size_t len)
{
	const unsigned char *d = (const unsigned char *)doc;
	size_t le = seg_text_eol(doc, pos, len);
	if (starts_word(d, pos, le, "WEBVTT"))
		return SEG_VTT;
	double t0, t1;
	size_t e = le > pos && d[le - 1] == '\r' ? le - 1 : le;
	if (parse_timing(d, pos, e, &t0, &t1) == 0)
		return SEG_SRT;
	if (all_digits(d, pos, le) && le < len) {
		size_t s2 = le + 1, e2 = seg_text_eol(doc, s2, len);
		if (e2 > s2 && d[e2 - 1] == '\r')
			e2--;
		if (parse_timing(d, s2, e2, &t0, &t1) == 0)
			return SEG_SRT;
	}
	return SEG_AUTO;
}
