/* store_backend: what a database backend of the store implements, one
 * function per call of store.h, on its own connection type. store.c holds
 * the table of backends and passes each store.h call on; a backend lives
 * in a folder of its own (sqlite/, pg/). */
#ifndef LANES_STORE_BACKEND_H
#define LANES_STORE_BACKEND_H

#include "store.h"

struct store_backend {
	const char *name;
	/* 1 when db names a database of this backend */
	int (*handles)(const char *db);
	/* as store_open, returning the backend's connection */
	void *(*open)(const struct store_opts *o, char *err, size_t errlen);
	void (*close)(void *c);
	int (*write)(void *c, const struct store_rec *r, long *lost, char *err, size_t errlen);
	int (*prune_doc)(void *c, const char *doc, size_t doc_len, long long max_seq,
			 long *removed, long *lost, char *err, size_t errlen);
	int (*delete_records)(void *c, const char *key, size_t len, int by_doc, long *removed,
			      long *lost, char *err, size_t errlen);
	int (*commit)(void *c, long *lost, char *err, size_t errlen);
	long (*batch_records)(const void *c);
	double (*batch_age_ms)(const void *c);
	int (*get)(void *c, const char *id, const char *model, struct buf *out, char *err,
		   size_t errlen);
	int (*scan)(void *c, const struct store_query *q, store_row_fn fn, void *ud, char *err,
		    size_t errlen);
	int (*claim)(void *c, const struct store_query *q, const struct store_claim *cl,
		     store_row_fn fn, void *ud, char *err, size_t errlen);
	int (*claims_held)(void *c, const char *stage, const char *worker, long *held, char *err,
			   size_t errlen);
	int (*vectors)(void *c, const struct store_query *q, const char *model, int part,
		       int nparts, int ids, store_vec_fn fn, void *ud, char *err, size_t errlen);
	int (*models)(void *c, struct store_model_count **models, size_t *n, char *err,
		      size_t errlen);
	int (*get_key)(void *c, long long key, const char *model, struct buf *out, char *err,
		       size_t errlen);
	int (*result_get)(void *c, const char *stage, const char *fingerprint, const char *input,
			  struct buf *members, struct buf *vec, char *err, size_t errlen);
	int (*docs)(void *c, store_doc_fn fn, void *ud, char *err, size_t errlen);
	/* fills the counts of st, and st->usage from the request log */
	int (*stats)(void *c, struct store_stats *st, char *err, size_t errlen);
	/* The request log, a table of its own apart from the records (a
	 * deleted record keeps its entries): log_add keeps one entry in the
	 * open batch (begun as write begins one, committed by commit),
	 * findable by each of its ids; log_scan streams the lines of the
	 * entries a query selects, in the order they were added. */
	int (*log_add)(void *c, const struct store_log_entry *e, long *lost, char *err,
		       size_t errlen);
	int (*log_scan)(void *c, const struct store_log_query *q, store_row_fn fn, void *ud,
			char *err, size_t errlen);
	int (*backup)(void *c, const char *path, char *err, size_t errlen);
};

/* sqlite/: a SQLite file (any name that no other backend claims). */
extern const struct store_backend store_backend_sqlite;
/* pg/: a PostgreSQL database, by its URL (postgres://, postgresql://). */
extern const struct store_backend store_backend_pg;

#endif
