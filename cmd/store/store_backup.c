/* store_backup: `store backup FILE`, a consistent copy of the database
 * taken while writers go on (store_backup in store.h; the copy is the backend's). */
#include "store_cmd.h"
#include "log.h"

int store_cmd_backup(struct app *a, struct store_cli *c, char **args, int nargs)
{
	(void)c;
	if (nargs != 1) {
		log_error("backup needs one FILE to write (try --help)");
		return EXIT_USAGE;
	}
	struct store *s = store_cli_open(a, 0);
	char err[1024];
	int code = EXIT_DONE;
	if (store_backup(s, args[0], err, sizeof err)) {
		log_error("%s", err);
		code = EXIT_FAILURES;
	} else {
		log_event("backup of %s written to %s", store_cli_db_shown(a), args[0]);
	}
	store_close(s);
	tun_free(a->tun);
	a->tun = NULL;
	return code;
}
