/* store_open: the database of a store run, from the store tunables. */
#include "store_cmd.h"
#include "log.h"

#include <stdlib.h>

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
