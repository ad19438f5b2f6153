/* store_log: `store log`, the request log kept in the store: --add FILE
 * moves the entries the tools appended to llm.log_file (reqlog.h) into
 * the log table, in batches; without it, the entries of the records named
 * (or all), oldest first, as NDJSON, --errors only the failures, --stage
 * S only that stage's. */
#include "store_cmd.h"
#include "log.h"
#include "ndjson.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries added per transaction. */
#define LOG_BATCH 1000

static const char *str_of(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static long num_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (long)v->valuedouble : -1;
}

/* Fills e from the parsed line j; its ids go to *ids (the caller frees
 * the array). Returns 0, or -1 with what is wrong in why. */
static int entry_of(const cJSON *j, const char *line, size_t len, struct store_log_entry *e,
		    const char ***ids, const char **why)
{
	memset(e, 0, sizeof *e);
	*ids = NULL;
	if (!cJSON_IsObject(j)) {
		*why = "not a JSON object";
		return -1;
	}
	e->ts = str_of(j, "ts");
	e->stage = str_of(j, "stage");
	e->kind = str_of(j, "kind");
	if (!e->ts || !e->stage || !e->kind) {
		*why = "not a request log entry (no \"ts\", \"kind\" or \"stage\")";
		return -1;
	}
	e->model = str_of(j, "model");
	e->code = str_of(j, "code");
	e->prompt_tokens = num_of(j, "prompt_tokens");
	e->completion_tokens = num_of(j, "completion_tokens");
	e->line = line;
	e->len = len;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "ids");
	const char *id = str_of(j, "id");
	size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
	*ids = xcalloc(n + 1, sizeof **ids);
	const cJSON *x;
	cJSON_ArrayForEach(x, list)
		if (cJSON_IsString(x))
			(*ids)[e->nids++] = x->valuestring;
	if (!e->nids && id)
		(*ids)[e->nids++] = id;
	e->ids = *ids;
	return 0;
}

/* b.done: the entries added */
struct adder {
	struct store_batches b;
	long rejected;
};

static int add_file(struct adder *d, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		log_error("cannot open the request log %s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	while (!d->b.failed && !app_stop && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		size_t len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (!len)
			continue;
		cJSON *j = cJSON_ParseWithLength(line, len);
		struct store_log_entry e;
		const char **ids = NULL;
		const char *why = "not JSON";
		if (!j || entry_of(j, line, len, &e, &ids, &why)) {
			/* a line cut by a killed tool: said, skipped */
			log_error("%s:%ld: %s", path, lineno, why);
			d->rejected++;
		} else {
			char err[1024];
			if (store_log_add(d->b.s, &e, NULL, err, sizeof err)) {
				log_error("%s", err);
				d->b.failed = 1;
			} else {
				d->b.done++;
				store_batches_step(&d->b);
			}
		}
		free(ids);
		cJSON_Delete(j);
	}
	int rc = ferror(f) ? -1 : 0;
	if (rc)
		log_error("cannot read the request log %s: %s", path, strerror(errno));
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

static int log_add(struct app *a, const char *path)
{
	struct adder d = {.b.size = LOG_BATCH};
	d.b.s = store_cli_open(a, 1);
	int code = add_file(&d, path) ? EXIT_FAILURES : EXIT_DONE;
	if (!d.b.failed && !app_stop)
		store_batches_commit(&d.b);
	if (d.b.failed || app_stop) {
		/* the open batch is rolled back at close: nothing half added */
		log_error("stopped: %ld entries added before (committed), the rest left",
			  d.b.committed);
		code = app_stop == SIGINT ? EXIT_SIGINT : app_stop ? EXIT_SIGTERM : EXIT_FAILURES;
	} else {
		log_event("request log: added %ld entr%s from %s", d.b.done,
			  d.b.done == 1 ? "y" : "ies", path);
		if (d.rejected) {
			log_error("%ld line%s of %s %s not entries (skipped)", d.rejected,
				  d.rejected == 1 ? "" : "s", path, d.rejected == 1 ? "is" : "are");
			code = EXIT_FAILURES;
		}
	}
	store_close(d.b.s);
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}

static int write_row(const char *line, size_t len, void *ud)
{
	return ndjson_write(ud, line, len) != 0;
}

int store_cmd_log(struct app *a, struct store_cli *c, char **args, int nargs)
{
	if (c->add) {
		if (nargs > 0 || c->errors || c->stage) {
			log_error("log --add FILE takes nothing else (try --help)");
			return EXIT_USAGE;
		}
		return log_add(a, c->add);
	}
	struct store *s = store_cli_open(a, 0);
	struct ndjson_writer *w = ndjson_writer_new(1);
	struct store_log_query q = {.errors = c->errors, .stage = c->stage};
	char err[1024];
	int code = EXIT_DONE;
	for (int i = 0; i < (nargs ? nargs : 1) && ndjson_writer_state(w) == 0; i++) {
		q.id = nargs ? args[i] : NULL;
		if (store_log_scan(s, &q, write_row, w, err, sizeof err) < 0) {
			log_error("%s", err);
			code = EXIT_FAILURES;
			break;
		}
	}
	return store_read_finish(a, s, w, code);
}
