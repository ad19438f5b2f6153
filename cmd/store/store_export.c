/* store_export: `store export`: the records as NDJSON, CSV or TSV with the
 * fields asked for (flattened names: mined.people.name is the name of each
 * item of mined.people), one row per item of a list when asked
 * (--explode), or the vectors of one model as a NumPy .npy file or raw
 * float32, with the ids in a file of their own, so that NumPy, pandas,
 * DuckDB or a vector database read them without custom code. */
#include "store_cmd.h"
#include "log.h"
#include "ndjson.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum format { FMT_NDJSON, FMT_CSV, FMT_TSV };

/* A dotted field name cut into member names (one allocation). */
struct field {
	const char *name;  /* as given: "mined.people.name" */
	char **part;
	size_t nparts;
	int under;         /* with --explode: the parts after the exploded list's
			    * are read from its item (its length), else -1 */
};

struct exporter {
	enum format fmt;
	struct field *f;
	size_t nf;
	struct field explode;
	int has_explode;
	struct ndjson_writer *w;
	struct buf row, cell;
	long rows, records;
};

static void field_parse(struct field *f, const char *name)
{
	f->name = name;
	char *copy = xstrdup(name);
	size_t n = 1;
	for (const char *p = copy; *p; p++)
		n += *p == '.';
	f->part = xcalloc(n + 1, sizeof *f->part);
	f->nparts = 0;
	for (char *p = copy;;) {
		f->part[f->nparts++] = p;
		p = strchr(p, '.');
		if (!p)
			break;
		*p++ = '\0';
	}
	f->under = -1;
}

static void field_free(struct field *f)
{
	if (f->part)
		free(f->part[0]);
	free(f->part);
}

/* The value at parts[0..n) of node; through an array, the list of the
 * values of its items (NULL items left out). Returns node itself when n
 * is 0, a new array (*made: caller deletes) through arrays, NULL when
 * absent. */
static const cJSON *resolve(const cJSON *node, char *const *parts, size_t n, cJSON **made)
{
	for (size_t i = 0; i < n && node; i++) {
		if (cJSON_IsArray(node)) {
			cJSON *list = cJSON_CreateArray();
			const cJSON *it;
			cJSON_ArrayForEach(it, node) {
				cJSON *sub = NULL;
				const cJSON *v = resolve(it, parts + i, n - i, &sub);
				if (v)
					cJSON_AddItemToArray(list, sub ? sub : cJSON_Duplicate(v, 1));
			}
			cJSON_Delete(*made);
			*made = list;
			return list;
		}
		node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, parts[i]) : NULL;
	}
	return node;
}

/* The text of a cell: strings as they are, null and absent empty, the
 * rest as compact JSON. */
static void cell_text(struct buf *out, const cJSON *v)
{
	buf_reset(out);
	buf_puts(out, "");
	if (!v || cJSON_IsNull(v))
		return;
	if (cJSON_IsString(v)) {
		buf_puts(out, v->valuestring);
		return;
	}
	char *s = cJSON_PrintUnformatted(v);
	if (s)
		buf_puts(out, s);
	cJSON_free(s);
}

/* Appends one CSV (RFC 4180: quoted when it holds a comma, a quote, a line
 * break or leading or trailing space; quotes doubled) or TSV (tab, line
 * breaks and backslash escaped as \t \n \r \\) cell. */
static void put_cell(struct buf *row, enum format fmt, const char *s, size_t n)
{
	if (fmt == FMT_TSV) {
		for (size_t i = 0; i < n; i++) {
			switch (s[i]) {
			case '\t': buf_puts(row, "\\t"); break;
			case '\n': buf_puts(row, "\\n"); break;
			case '\r': buf_puts(row, "\\r"); break;
			case '\\': buf_puts(row, "\\\\"); break;
			default: buf_putc(row, s[i]);
			}
		}
		return;
	}
	int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quote) {
		buf_append(row, s, n);
		return;
	}
	buf_putc(row, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			buf_putc(row, '"');
		buf_putc(row, s[i]);
	}
	buf_putc(row, '"');
}

static int emit(struct exporter *x)
{
	x->rows++;
	return ndjson_write(x->w, x->row.p, x->row.len);
}

/* One row: each field from the record, or from the item of the exploded
 * list (item NULL: the record had none). */
static int one_row(struct exporter *x, const cJSON *rec, const cJSON *item)
{
	buf_reset(&x->row);
	if (x->fmt == FMT_NDJSON)
		buf_putc(&x->row, '{');
	for (size_t i = 0; i < x->nf; i++) {
		const struct field *f = &x->f[i];
		cJSON *made = NULL;
		const cJSON *v;
		if (f->under >= 0)
			v = item ? resolve(item, f->part + f->under, f->nparts - (size_t)f->under, &made)
				 : NULL;
		else
			v = resolve(rec, f->part, f->nparts, &made);
		if (x->fmt == FMT_NDJSON) {
			if (i)
				buf_putc(&x->row, ',');
			buf_json_str(&x->row, f->name, strlen(f->name));
			buf_putc(&x->row, ':');
			char *s = v ? cJSON_PrintUnformatted(v) : NULL;
			buf_puts(&x->row, s ? s : "null");
			cJSON_free(s);
		} else {
			if (i)
				buf_putc(&x->row, x->fmt == FMT_CSV ? ',' : '\t');
			cell_text(&x->cell, v);
			put_cell(&x->row, x->fmt, x->cell.p, x->cell.len);
		}
		cJSON_Delete(made);
	}
	if (x->fmt == FMT_NDJSON)
		buf_putc(&x->row, '}');
	return emit(x);
}

static int export_record(const char *line, size_t len, void *ud)
{
	struct exporter *x = ud;
	x->records++;
	if (!x->nf) {
		/* whole records, as dump writes them */
		x->rows++;
		return ndjson_write(x->w, line, len) != 0;
	}
	cJSON *rec = cJSON_ParseWithLength(line, len);
	int stop = 0;
	if (x->has_explode) {
		cJSON *made = NULL;
		const cJSON *list = resolve(rec, x->explode.part, x->explode.nparts, &made);
		int any = 0;
		if (cJSON_IsArray(list)) {
			const cJSON *it;
			cJSON_ArrayForEach(it, list) {
				any = 1;
				if ((stop = one_row(x, rec, it) != 0))
					break;
			}
		}
		if (!any && !stop)
			stop = one_row(x, rec, NULL) != 0;
		cJSON_Delete(made);
	} else {
		stop = one_row(x, rec, NULL) != 0;
	}
	cJSON_Delete(rec);
	return stop;
}

/* ---- vectors ---- */

struct vec_out {
	FILE *vf, *idf;
	const char *vpath, *idpath;
	size_t dim;
	long rows;
	int npy;
	int bad_id;
	char *bad;
};

/* The .npy header (format 1.0) for rows x dim little-endian float32, its
 * row count padded to a fixed width so that it can be written again once
 * the count is known; 128 bytes in all. */
static void npy_header(char out[128], long rows, size_t dim)
{
	char dict[118];
	int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, "
			 "'shape': (%20ld, %zu), }", rows, dim);
	memset(out, ' ', 128);
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (char)(118 & 0xff);
	out[9] = 0;
	memcpy(out + 10, dict, (size_t)n);
	out[127] = '\n';
}

static int vec_row(long long key, const char *id, const void *v, size_t dim, void *ud)
{
	(void)key;
	struct vec_out *o = ud;
	if (dim != o->dim)
		return 0;
	if (strpbrk(id, "\n\r")) {
		o->bad_id = 1;
		o->bad = xstrdup(id);
		return 1;
	}
	if (fwrite(v, sizeof(float), dim, o->vf) != dim || fputs(id, o->idf) < 0 ||
	    fputc('\n', o->idf) < 0)
		return 1;
	o->rows++;
	return app_stop != 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* The ids file next to the vectors: their name with .ids for .npy/.f32. */
static char *ids_path(const char *vpath)
{
	size_t n = strlen(vpath);
	if (ends_with(vpath, ".npy") || ends_with(vpath, ".f32"))
		n -= 4;
	return xasprintf("%.*s.ids", (int)n, vpath);
}

static int export_vectors(struct store_cli *c, struct store *s, const struct store_query *q)
{
	char *model = NULL, *idp = c->ids ? xstrdup(c->ids) : ids_path(c->vectors);
	long dim = 0;
	int code = store_where_model(s, c->model, &model, &dim);
	struct vec_out o = {.vpath = c->vectors, .idpath = idp, .dim = (size_t)dim,
			    .npy = ends_with(c->vectors, ".npy")};
	if (!code) {
		o.vf = fopen(c->vectors, "wb");
		o.idf = o.vf ? fopen(idp, "w") : NULL;
		if (!o.vf || !o.idf) {
			log_error("cannot write %s: %s", o.vf ? idp : c->vectors, strerror(errno));
			code = EXIT_FAILURES;
		}
	}
	char hdr[128], err[1024];
	if (!code && o.npy) {
		npy_header(hdr, 0, o.dim);
		if (fwrite(hdr, 1, sizeof hdr, o.vf) != sizeof hdr)
			code = EXIT_FAILURES;
	}
	if (!code) {
		int rc = store_vectors(s, q, model, 0, 1, 1, vec_row, &o, err, sizeof err);
		if (rc < 0) {
			log_error("%s", err);
			code = EXIT_FAILURES;
		} else if (o.bad_id) {
			log_error("id '%s' holds a line break: it cannot go into the ids file %s, "
				  "one id per line", o.bad, idp);
			code = EXIT_FAILURES;
		}
	}
	if (!code && o.npy) {
		npy_header(hdr, o.rows, o.dim);
		if (fseek(o.vf, 0, SEEK_SET) || fwrite(hdr, 1, sizeof hdr, o.vf) != sizeof hdr) {
			log_error("cannot write the header of %s: %s (a .npy file must be a file "
				  "one can seek in)", c->vectors, strerror(errno));
			code = EXIT_FAILURES;
		}
	}
	if ((o.vf && (ferror(o.vf) | fclose(o.vf))) || (o.idf && (ferror(o.idf) | fclose(o.idf)))) {
		if (!code)
			log_error("cannot write %s or %s: %s", c->vectors, idp, strerror(errno));
		code = EXIT_FAILURES;
	}
	if (!code)
		log_event("export: %ld vectors of %s (%ld numbers) to %s (%s), ids to %s", o.rows,
			  model, dim, c->vectors, o.npy ? "NumPy .npy" : "raw float32", idp);
	free(o.bad);
	free(model);
	free(idp);
	return code;
}

/* ---- the subcommand ---- */

static int parse_format(const char *s, enum format *f)
{
	static const char *const names[] = {"ndjson", "csv", "tsv"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*f = (enum format)i;
			return 0;
		}
	log_error("--format '%s' is not ndjson, csv or tsv", s);
	return -1;
}

/* The fields: --fields, else for CSV and TSV id,doc,seq,text. */
static int setup_fields(struct exporter *x, const struct store_cli *c)
{
	const char *spec = c->fields ? c->fields : x->fmt == FMT_NDJSON ? NULL : "id,doc,seq,text";
	if (c->explode) {
		field_parse(&x->explode, c->explode);
		x->has_explode = 1;
		if (!spec) {
			log_error("--explode goes with --fields (the fields of each row)");
			return -1;
		}
	}
	if (!spec)
		return 0;
	for (const char *p = spec;;) {
		size_t n = strcspn(p, ",");
		if (!n) {
			log_error("--fields '%s': an empty field name", spec);
			return -1;
		}
		x->f = xrealloc(x->f, (x->nf + 1) * sizeof *x->f);
		char *name = xstrndup(p, n);
		field_parse(&x->f[x->nf], name);
		struct field *f = &x->f[x->nf++];
		for (size_t k = 0; k < f->nparts; k++)
			if (!*f->part[k]) {
				log_error("--fields '%s': an empty member name in '%s'", spec, name);
				return -1;
			}
		/* under the exploded list: read from its item */
		if (x->has_explode && f->nparts > x->explode.nparts) {
			size_t k = 0;
			while (k < x->explode.nparts && !strcmp(f->part[k], x->explode.part[k]))
				k++;
			if (k == x->explode.nparts)
				f->under = (int)k;
		}
		p += n;
		if (!*p)
			break;
		p++;
	}
	return 0;
}

static void exporter_free(struct exporter *x)
{
	for (size_t i = 0; i < x->nf; i++) {
		free((char *)x->f[i].name);
		field_free(&x->f[i]);
	}
	free(x->f);
	field_free(&x->explode);
	buf_free(&x->row);
	buf_free(&x->cell);
}

int store_cmd_export(struct app *a, struct store_cli *c, char **args, int nargs)
{
	if (nargs > 0) {
		log_error("export takes no arguments ('%s'; try --help)", args[0]);
		return EXIT_USAGE;
	}
	struct exporter x = {.fmt = FMT_NDJSON};
	struct store_query q = {.order = STORE_BY_DOC};
	int code = EXIT_DONE;
	if (c->order && !strcmp(c->order, "id")) {
		q.order = STORE_BY_ID;
	} else if (c->order && strcmp(c->order, "doc")) {
		log_error("--order '%s' is not id or doc", c->order);
		return EXIT_USAGE;
	}
	if (c->vectors && (c->format || c->fields || c->explode)) {
		log_error("--vectors FILE writes vectors and ids only: --format, --fields and "
			  "--explode go without it");
		return EXIT_USAGE;
	}
	if (!c->vectors && c->ids) {
		log_error("--ids FILE goes with --vectors FILE");
		return EXIT_USAGE;
	}
	if ((c->format && parse_format(c->format, &x.fmt)) || setup_fields(&x, c) ||
	    store_where_query(c, &q)) {
		exporter_free(&x);
		return EXIT_USAGE;
	}
	struct store *s = store_cli_open(a, 0);
	if (c->vectors) {
		code = export_vectors(c, s, &q);
	} else {
		x.w = ndjson_writer_new(1);
		if (x.fmt != FMT_NDJSON && x.nf) {
			buf_reset(&x.row);
			for (size_t i = 0; i < x.nf; i++) {
				if (i)
					buf_putc(&x.row, x.fmt == FMT_CSV ? ',' : '\t');
				put_cell(&x.row, x.fmt, x.f[i].name, strlen(x.f[i].name));
			}
			ndjson_write(x.w, x.row.p, x.row.len);
		}
		q.model = c->model;
		char err[1024];
		if (store_scan(s, &q, export_record, &x, err, sizeof err) < 0) {
			log_error("%s", err);
			code = EXIT_FAILURES;
		}
		ndjson_flush(x.w);
		if (ndjson_writer_state(x.w) == -1) {
			log_error("write error on standard output: %s",
				  strerror(ndjson_writer_errno(x.w)));
			code = EXIT_FAILURES;
		}
		ndjson_writer_free(x.w);
		if (code == EXIT_DONE)
			log_event("export: %ld records, %ld rows", x.records, x.rows);
	}
	if (app_stop > 0 && code == EXIT_DONE)
		code = app_stop == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
	exporter_free(&x);
	store_where_free(&q);
	store_close(s);
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}
