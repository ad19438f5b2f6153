/* store_delete: `store delete`, removing records with their vectors and
 * stages: by id (--id ID, repeatable), by document (--doc D), or a list
 * of either on stdin (--id - or --doc -, one per line), in batches. */
#include "store_cmd.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys deleted per transaction. */
#define DELETE_BATCH 1000

/* b.done: the records removed */
struct deleter {
	struct store_batches b;
	int by_doc;
	long keys, found;
};

static void del_one(struct deleter *d, const char *key, size_t len)
{
	if (d->b.failed)
		return;
	char err[1024];
	long n = 0;
	d->keys++;
	if (store_delete(d->b.s, key, len, d->by_doc, &n, NULL, err, sizeof err)) {
		log_error("%s", err);
		d->b.failed = 1;
		return;
	}
	d->found += n > 0;
	d->b.done += n;
	store_batches_step(&d->b);
}

/* One key per line of stdin; blank lines are skipped, a final line
 * without '\n' counts. */
static int del_stdin(struct deleter *d)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while (!d->b.failed && !app_stop && (n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len)
			del_one(d, line, len);
	}
	int rc = ferror(stdin) ? -1 : 0;
	if (rc)
		log_error("cannot read the list on standard input: %s", strerror(errno));
	free(line);
	return rc;
}

int store_cmd_delete(struct app *a, struct store_cli *c, char **args, int nargs)
{
	if (nargs > 0) {
		log_error("delete takes --id ID or --doc D (or - to read them from stdin), "
			  "not '%s' (try --help)", args[0]);
		return EXIT_USAGE;
	}
	if (!c->nid_list == !c->ndoc_list) {
		log_error("delete needs --id ID or --doc D (repeatable; - reads one per line "
			  "from stdin), not both");
		return EXIT_USAGE;
	}
	struct deleter d = {.b.size = DELETE_BATCH};
	d.by_doc = c->ndoc_list > 0;
	const char *const *keys = d.by_doc ? c->doc_list : c->id_list;
	size_t nkeys = d.by_doc ? c->ndoc_list : c->nid_list;
	d.b.s = store_cli_open(a, 0);
	int code = EXIT_DONE;
	for (size_t i = 0; i < nkeys && !d.b.failed; i++) {
		if (!strcmp(keys[i], "-")) {
			if (del_stdin(&d))
				code = EXIT_FAILURES;
		} else {
			del_one(&d, keys[i], strlen(keys[i]));
		}
	}
	if (!d.b.failed && !app_stop)
		store_batches_commit(&d.b);
	if (d.b.failed || app_stop) {
		/* the open batch is rolled back at close: nothing half done */
		log_error("stopped: %ld records deleted before (committed), the rest left",
			  d.b.committed);
		code = app_stop == SIGINT ? EXIT_SIGINT : app_stop ? EXIT_SIGTERM : EXIT_FAILURES;
	} else {
		log_event("deleted %ld record%s: %ld of %ld %s found", d.b.done,
			  d.b.done == 1 ? "" : "s", d.found, d.keys,
			  d.by_doc ? (d.keys == 1 ? "document" : "documents") : (d.keys == 1 ? "id" : "ids"));
	}
	store_close(d.b.s);
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}
