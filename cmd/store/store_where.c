/* store_where: the record filters the reading subcommands share (dump,
 * similar, export): --doc D, --stage S with --status STATUS, and any
 * number of --where FIELD=VALUE (FIELD: member names joined by '.', as in
 * mined.lang), into a struct store_query; and which model's vectors a
 * subcommand reads (similar, export --vectors). */
#include "store_cmd.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

int store_where_query(const struct store_cli *c, struct store_query *q)
{
	if (!c->stage != !c->status) {
		log_error("--stage and --status go together (e.g. --stage embed --status error)");
		return -1;
	}
	if (c->status) {
		if (!*c->stage) {
			log_error("--stage needs a stage name (segment, mine, embed, classify)");
			return -1;
		}
		q->status = store_status_parse(c->status);
		if (q->status == STORE_ANY) {
			log_error("--status '%s' is not ok, error, given_up or missing", c->status);
			return -1;
		}
		q->stage = c->stage;
	}
	q->doc = c->doc;
	if (!c->nwhere)
		return 0;
	struct store_where *w = xcalloc((size_t)c->nwhere, sizeof *w);
	q->where = w;
	q->nwhere = (size_t)c->nwhere;
	for (int i = 0; i < c->nwhere; i++) {
		const char *eq = strchr(c->where[i], '=');
		if (!eq || eq == c->where[i]) {
			log_error("--where '%s' is not FIELD=VALUE (e.g. --where mined.lang=fr)",
				  c->where[i]);
			q->nwhere = (size_t)i;
			store_where_free(q);
			return -1;
		}
		/* the path's names in one copy, NUL-terminated in place */
		char *names = xstrndup(c->where[i], (size_t)(eq - c->where[i]));
		size_t n = 1;
		for (const char *p = names; *p; p++)
			n += *p == '.';
		const char **path = xcalloc(n, sizeof *path);
		size_t k = 0;
		for (char *p = names;; p++) {
			path[k++] = p;
			p = strchr(p, '.');
			if (!p)
				break;
			*p = '\0';
		}
		for (size_t j = 0; j < k; j++)
			if (!*path[j]) {
				log_error("--where '%s': an empty member name", c->where[i]);
				free(names);
				free(path);
				q->nwhere = (size_t)i;
				store_where_free(q);
				return -1;
			}
		w[i] = (struct store_where){path, k, eq + 1};
	}
	return 0;
}

void store_where_free(struct store_query *q)
{
	struct store_where *w = (struct store_where *)q->where;
	for (size_t i = 0; i < q->nwhere; i++) {
		free((char *)w[i].path[0]);
		free((void *)w[i].path);
	}
	free(w);
	q->where = NULL;
	q->nwhere = 0;
}

int store_where_model(struct store *s, const char *want, char **model, long *dim)
{
	struct store_model_count *m;
	size_t nm;
	char err[1024];
	if (store_models(s, &m, &nm, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_FAILURES;
	}
	struct buf held = {0};
	size_t n = 0;
	long at = -1;
	for (size_t i = 0; i < nm; i++) {
		if (m[i].vectors <= 0)
			continue;
		buf_printf(&held, "%s%s (%ld vectors of %ld numbers)", n++ ? ", " : "", m[i].model,
			   m[i].vectors, m[i].dim);
		if (want ? !strcmp(want, m[i].model) : at < 0)
			at = (long)i;
	}
	int rc = 0;
	if (!n) {
		log_error("the store holds no vectors: embed the records first "
			  "(store pending --stage embed | embed | store put)");
		rc = EXIT_FAILURES;
	} else if (want && at < 0) {
		log_error("the store holds no vectors of model '%s'; it holds %s", want, held.p);
		rc = EXIT_USAGE;
	} else if (!want && n > 1) {
		log_error("the store holds vectors of %zu models: %s; choose one with --model "
			  "(vectors of two models are never compared)", n, held.p);
		rc = EXIT_USAGE;
	} else {
		*model = xstrdup(m[at].model);
		*dim = m[at].dim;
	}
	buf_free(&held);
	store_models_free(m, nm);
	return rc;
}
