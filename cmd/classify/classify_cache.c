/* classify_cache: reads and writes the taxonomy vector cache (format in
 * classify_cache.h). */
#include "classify_cache.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_FIXED 32 /* magic 8, version 4, dim 4, count 8, mlen 4, reserved 4 */

static int little_endian(void)
{
	const uint16_t x = 1;
	unsigned char c;
	memcpy(&c, &x, 1);
	return c == 1;
}

static void put_le(struct buf *b, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		buf_putc(b, (char)(unsigned char)(v >> (8 * i)));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

char *classify_cache_dir(const char *dir)
{
	if (dir && *dir)
		return xstrdup(dir);
	const char *x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/')
		return xasprintf("%s/lanes", x);
	const char *home = getenv("HOME");
	if (home && *home)
		return xasprintf("%s/.cache/lanes", home);
	return NULL;
}

char *classify_cache_path(const char *dir, const char *taxonomy_path, const char *model, int dim)
{
	char *abs = realpath(taxonomy_path, NULL);
	const char *p = abs ? abs : taxonomy_path;
	uint64_t h = fnv64(FNV64_INIT, p, strlen(p) + 1);
	h = fnv64(h, model, strlen(model) + 1);
	char d[16];
	snprintf(d, sizeof d, "%d", dim);
	h = fnv64(h, d, strlen(d));
	free(abs);
	return xasprintf("%s/classify-%016llx.vec", dir, (unsigned long long)h);
}

void classify_cache_free(struct classify_cache *c)
{
	if (!c)
		return;
	free(c->model);
	free(c->hash);
	free(c->vec);
	strmap_free(c->rows);
	free(c);
}

static void index_hashes(struct classify_cache *c)
{
	c->rows = strmap_new();
	for (size_t r = 0; r < c->n; r++)
		if (strmap_getn(c->rows, &c->hash[r], sizeof c->hash[r]) < 0)
			strmap_putn(c->rows, &c->hash[r], sizeof c->hash[r], (long)r);
}

const float *classify_cache_get(const struct classify_cache *c, uint64_t hash)
{
	long r = c && c->rows ? strmap_getn(c->rows, &hash, sizeof hash) : -1;
	return r < 0 ? NULL : c->vec + (size_t)r * (size_t)c->dim;
}

struct classify_cache *classify_cache_read(const char *path, const char *model, char *err, size_t errlen)
{
	err[0] = '\0';
	size_t len = 0;
	unsigned char *p = (unsigned char *)read_file(path, &len);
	if (!p) {
		if (errno != ENOENT)
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	struct classify_cache *c = NULL;
	if (len < HEAD_FIXED || memcmp(p, VCACHE_MAGIC, 8)) {
		snprintf(err, errlen, "%s is not a lanes vector cache (bad magic)", path);
		goto out;
	}
	uint64_t version = get_le(p + 8, 4), dim = get_le(p + 12, 4);
	uint64_t count = get_le(p + 16, 8), mlen = get_le(p + 24, 4);
	if (version != VCACHE_VERSION) {
		snprintf(err, errlen, "%s has format version %llu, not %d", path,
			 (unsigned long long)version, VCACHE_VERSION);
		goto out;
	}
	uint64_t mpad = (mlen + 7) / 8 * 8;
	if (dim == 0 || dim > 1000000 || count > (1ULL << 32) || mlen > 4096) {
		snprintf(err, errlen, "%s has an implausible header", path);
		goto out;
	}
	uint64_t want = HEAD_FIXED + mpad + count * 8 + count * dim * 4;
	if (want != len) {
		snprintf(err, errlen, "%s is %zu bytes, its header says %llu (truncated?)", path,
			 len, (unsigned long long)want);
		goto out;
	}
	if (mlen != strlen(model) || memcmp(p + HEAD_FIXED, model, mlen)) {
		snprintf(err, errlen, "%s holds vectors of another model (%.*s)", path, (int)mlen,
			 (const char *)(p + HEAD_FIXED));
		goto out;
	}
	c = xcalloc(1, sizeof *c);
	c->model = xstrndup((const char *)(p + HEAD_FIXED), (size_t)mlen);
	c->dim = (int)dim;
	c->n = (size_t)count;
	c->hash = xmalloc((c->n ? c->n : 1) * sizeof *c->hash);
	c->vec = xmalloc((c->n ? c->n : 1) * (size_t)dim * sizeof *c->vec);
	const unsigned char *q = p + HEAD_FIXED + mpad;
	for (size_t i = 0; i < c->n; i++)
		c->hash[i] = get_le(q + 8 * i, 8);
	q += 8 * c->n;
	if (little_endian()) {
		memcpy(c->vec, q, c->n * (size_t)dim * 4);
	} else {
		for (size_t i = 0; i < c->n * (size_t)dim; i++) {
			uint32_t w = (uint32_t)get_le(q + 4 * i, 4);
			memcpy(&c->vec[i], &w, 4);
		}
	}
	index_hashes(c);
out:
	free(p);
	return c;
}

/* mkdir -p; returns 0 or -1 with errno. */
static int make_dirs(const char *dir)
{
	char *d = xstrdup(dir);
	for (char *s = d + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(d, 0777) && errno != EEXIST) {
			free(d);
			return -1;
		}
		*s = '/';
	}
	int rc = mkdir(d, 0777) && errno != EEXIST ? -1 : 0;
	free(d);
	return rc;
}

int classify_cache_write(const char *path, const char *model, int dim, size_t n,
		 const uint64_t *hash, const float *vec, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	if (slash && slash != path) {
		char *dir = xstrndup(path, (size_t)(slash - path));
		int rc = make_dirs(dir);
		if (rc)
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		free(dir);
		if (rc)
			return -1;
	}
	struct buf head = {0};
	size_t mlen = strlen(model);
	buf_append(&head, VCACHE_MAGIC, 8);
	put_le(&head, VCACHE_VERSION, 4);
	put_le(&head, (uint64_t)dim, 4);
	put_le(&head, n, 8);
	put_le(&head, mlen, 4);
	put_le(&head, 0, 4);
	buf_append(&head, model, mlen);
	while (head.len % 8)
		buf_putc(&head, '\0');
	for (size_t i = 0; i < n; i++)
		put_le(&head, hash[i], 8);

	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	int ok = f != NULL;
	if (ok)
		ok = fwrite(head.p, 1, head.len, f) == head.len;
	size_t count = n * (size_t)dim;
	if (ok && little_endian()) {
		ok = fwrite(vec, sizeof *vec, count, f) == count;
	} else if (ok) {
		struct buf b = {0};
		for (size_t i = 0; i < count; i++) {
			uint32_t w;
			memcpy(&w, &vec[i], 4);
			put_le(&b, w, 4);
		}
		ok = fwrite(b.p, 1, b.len, f) == b.len;
		buf_free(&b);
	}
	if (ok)
		ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	int saved = errno;
	if (f && fclose(f) && ok) {
		ok = 0;
		saved = errno;
	}
	if (ok && rename(tmp, path)) {
		ok = 0;
		saved = errno;
	}
	if (!ok) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(saved));
		unlink(tmp);
	}
	free(tmp);
	buf_free(&head);
	return ok ? 0 : -1;
}
