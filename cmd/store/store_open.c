/* store_open: the database of a store run, from the store tunables, and
 * the batches of the subcommands that write in steps. */
#include "store_cmd.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

const char *store_cli_db_shown(struct app *a)
{
	static char shown[2048];
	char *r = redact_url(tun_str(a->tun, "store.db"));
	snprintf(shown, sizeof shown, "%s", r);
	free(r);
	return shown;
}

void store_cli_opts(struct app *a, int create, struct store_opts *o)
{
	*o = (struct store_opts){
		.db = tun_str(a->tun, "store.db"),
		.busy_timeout_ms = tun_int(a->tun, "store.busy_timeout_ms"),
		.synchronous = tun_str(a->tun, "store.synchronous"),
		.max_attempts = tun_int(a->tun, "store.max_attempts"),
		.create = create,
	};
}

struct store *store_cli_open(struct app *a, int create)
{
	struct store_opts o;
	store_cli_opts(a, create, &o);
	char err[1024];
	struct store *s = store_open(&o, err, sizeof err);
	if (!s) {
		log_error("%s", err);
		exit(EXIT_BACKEND);
	}
	return s;
}

void store_batches_commit(struct store_batches *b)
{
	char err[1024];
	if (b->failed)
		return;
	if (store_commit(b->s, NULL, err, sizeof err)) {
		log_error("%s", err);
		b->failed = 1;
		return;
	}
	b->pending = 0;
	b->committed = b->done;
}

void store_batches_step(struct store_batches *b)
{
	if (++b->pending >= b->size)
		store_batches_commit(b);
}
