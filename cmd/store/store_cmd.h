/* store_cmd: what the subcommands of store share: the parsed flags, opening
 * the database from the tunables, turning a record into a store_rec, and
 * one entry point per subcommand (store_put.c, store_read.c,
 * store_delete.c, store_backup.c, store_similar.c, store_export.c,
 * store_log.c; their
 * filters in store_where.c). The database itself is behind store.h. */
#ifndef LANES_STORE_CMD_H
#define LANES_STORE_CMD_H

#include <stddef.h>

#include "app.h"
#include "stage.h"
#include "json.h"
#include "store.h"
#include "util.h"

/* Flags that are not tunables, by the subcommands they apply to. */
enum store_flag {
	SF_TEE = 1,
	SF_MODEL,
	SF_DOC,
	SF_STAGE,
	SF_STATUS,
	SF_ORDER,
	SF_JSON,
	SF_PRUNE,
	SF_TOP_K,
	SF_MIN_SCORE,
	SF_ID,
	SF_WHERE,
	SF_FORMAT,
	SF_FIELDS,
	SF_EXPLODE,
	SF_VECTORS,
	SF_IDS,
	SF_FINGERPRINT,
	SF_ADD,
	SF_ERRORS,
	SF_LIMIT,
	SF_LEASE,
	SF_WORKER,
	SF_FOLLOW,
};

/* --where conditions at most. */
#define STORE_WHERE_MAX 16

struct store_cli {
	unsigned seen;       /* 1 << store_flag for each flag given */
	int tee;
	int prune;
	int json;
	const char *model;
	const char *doc;
	const char *stage;
	const char *status;
	const char *order;
	long k;              /* similar: -k */
	int k_set;
	double min_score;    /* similar: --min-score */
	int min_score_set;
	const char *id;      /* similar: --id */
	const char *where[STORE_WHERE_MAX];
	int nwhere;
	const char *format;  /* export */
	const char *fields;
	const char *explode;
	const char *vectors;
	const char *ids;
	const char **id_list;  /* delete: every --id, in order (owned array) */
	size_t nid_list;
	const char **doc_list; /* delete: every --doc, in order (owned array) */
	size_t ndoc_list;
	const char *fingerprint;
	const char *add;       /* log: --add FILE */
	int errors;            /* log: --errors */
	long limit;          /* claim: --limit */
	int limit_set;
	const char *lease;   /* claim: --lease */
	const char *worker;  /* claim: --worker */
	int follow;          /* claim: --follow */
};

/* Opens the database named by store.db with the store tunables; create
 * for put. On failure logs "cannot open database ..." and exits 3. The
 * caller closes it with store_close. */
struct store *store_cli_open(struct app *a, int create);
/* store.db as it may be shown: a password in a URL redacted (valid
 * until the next call). */
const char *store_cli_db_shown(struct app *a);
/* The options store_cli_open opens with (strings are the tunables'). */
void store_cli_opts(struct app *a, int create, struct store_opts *o);

/* Writes in steps, a transaction every size steps (delete, log --add):
 * the caller counts what its steps did in done; a commit sets committed
 * to it. After a failure (said on stderr) failed is set and nothing more
 * is committed; the open batch is rolled back when the store closes. */
struct store_batches {
	struct store *s;
	long size;
	long done, pending, committed;
	int failed;
};
/* Counts one step (committing every size). */
void store_batches_step(struct store_batches *b);
void store_batches_commit(struct store_batches *b);
/* Ends a read subcommand (store_read.c): flushes stdout (w may be NULL),
 * closes, frees the tunables; returns code, or 1 after a write error. */
struct ndjson_writer;
int store_read_finish(struct app *a, struct store *s, struct ndjson_writer *w, int code);

/* Entry points: each returns the exit status. args/nargs: the positional
 * arguments after the subcommand name. */
int store_cmd_put(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_get(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_dump(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_pending(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_claim(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_stats(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_docs(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_delete(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_backup(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_similar(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_export(struct app *a, struct store_cli *c, char **args, int nargs);
int store_cmd_log(struct app *a, struct store_cli *c, char **args, int nargs);

/* store_where.c: the filters of dump, similar and export (--doc, --stage
 * with --status, --where FIELD=VALUE) into q. Returns 0, or -1 after
 * saying what is wrong (q is then empty). Free with store_where_free. */
int store_where_query(const struct store_cli *c, struct store_query *q);
void store_where_free(struct store_query *q);
/* The model whose vectors similar and export --vectors read: want, else
 * the only one the store holds. Returns 0 with *model (caller frees) and
 * *dim, or an exit status after saying why, naming the models the store
 * holds. */
int store_where_model(struct store *s, const char *want, char **model, long *dim);

/* Most stages a record can report on (the STAGE_COUNT of the stage table
 * and errors of 4 others). */
#define STORE_ITEM_EVENTS (STAGE_COUNT + 4)
/* Strings of a record that may need unescaping or are made for it (id,
 * doc, vector model; per event: model, code, message, error, fingerprint,
 * input, members). */
#define STORE_ITEM_STRS (3 + 7 * STORE_ITEM_EVENTS)

/* One input record made ready for store_write. */
struct store_item {
	struct store_rec rec;
	struct store_event ev[STORE_ITEM_EVENTS];
	struct buf body;      /* the body when members had to be cut out */
	float *vec;
	struct buf sbuf;      /* unescaped strings */
	struct {
		const char **p;
		size_t off;
	} fix[STORE_ITEM_STRS];
	size_t nfix;
	const char *fail_code; /* set when the record cannot be stored */
	char *fail;            /* why (owned) */
};

/* Per-worker lists reused from record to record. */
struct store_scratch {
	struct json_list top, cls, errs, entry;
};
void store_scratch_free(struct store_scratch *sc);

/* Checks a record line (as ndjson_parse would) and fills it: its spans
 * point into line, which must outlive it, or into strings it owns.
 * Returns 0; 1 when the line is a JSON object store cannot keep (no "id",
 * a bad "embedding": it->fail and it->fail_code set); -1 when it is not a
 * JSON object (reject says why, as ndjson_parse words it). Free with
 * store_item_free in every case. */
int store_item_parse(struct store_item *it, const char *line, size_t len,
		     struct store_scratch *sc, char *reject, size_t rejlen);
void store_item_free(struct store_item *it);

#endif
