/* pg_conn: the PostgreSQL backend's connection: opening it from a URL
 * (its password never shown), the statements with bound parameters, the
 * schema versioned in the table lanes_schema with its migrations (run
 * under an advisory lock, so that many workers opening one new database
 * at once migrate it once), closing, and the backup, which is pg_dump's:
 * a consistent snapshot in its custom format, restored with pg_restore. */
#include "pg_db.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void pg_q_reset(struct pg_q *q)
{
	buf_reset(&q->sql);
	q->n = 0;
}

void pg_q_free(struct pg_q *q)
{
	buf_free(&q->sql);
	q->n = 0;
}

void pg_q_sql(struct pg_q *q, const char *sql)
{
	buf_puts(&q->sql, sql);
}

static int param(struct pg_q *q)
{
	if (q->n == PG_MAX_PARAMS)
		log_internal("more than %d parameters in one statement", PG_MAX_PARAMS);
	return q->n++;
}

int pg_q_text(struct pg_q *q, const char *p, size_t n)
{
	int i = param(q);
	q->val[i] = p ? (n ? p : "") : NULL;
	q->len[i] = (int)n;
	q->fmt[i] = 1;
	buf_printf(&q->sql, "$%d::text", i + 1);
	return i + 1;
}

int pg_q_str(struct pg_q *q, const char *s)
{
	return pg_q_text(q, s, s ? strlen(s) : 0);
}

int pg_q_int(struct pg_q *q, long long v)
{
	int i = param(q);
	snprintf(q->num[i], sizeof q->num[i], "%lld", v);
	q->val[i] = q->num[i];
	q->len[i] = 0;
	q->fmt[i] = 0;
	buf_printf(&q->sql, "$%d::int8", i + 1);
	return i + 1;
}

int pg_q_double(struct pg_q *q, double v)
{
	int i = param(q);
	snprintf(q->num[i], sizeof q->num[i], "%.17g", v);
	q->val[i] = q->num[i];
	q->len[i] = 0;
	q->fmt[i] = 0;
	buf_printf(&q->sql, "$%d::float8", i + 1);
	return i + 1;
}

int pg_q_bytes(struct pg_q *q, const void *p, size_t n)
{
	int i = param(q);
	q->val[i] = p ? (n ? p : "") : NULL;
	q->len[i] = (int)n;
	q->fmt[i] = 1;
	buf_printf(&q->sql, "$%d::bytea", i + 1);
	return i + 1;
}

void pg_error(struct pg_db *s, char *err, size_t errlen, const char *what, const PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : "";
	if (!m || !*m)
		m = PQerrorMessage(s->conn);
	if (!m || !*m)
		m = "unknown error";
	/* libpq's messages end with a newline, some with more lines */
	if (!strncmp(m, "ERROR:  ", 8))
		m += 8;
	snprintf(err, errlen, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
}

static PGresult *check(struct pg_db *s, PGresult *r, char *err, size_t errlen, const char *what)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	pg_error(s, err, errlen, what, r);
	PQclear(r);
	return NULL;
}

PGresult *pg_exec(struct pg_db *s, const struct pg_q *q, char *err, size_t errlen,
		  const char *what)
{
	if (pg_write_held(s, err, errlen))
		return NULL;
	PGresult *r = PQexecParams(s->conn, q->sql.p ? q->sql.p : "", q->n, NULL, q->val, q->len,
				   q->fmt, 1);
	return check(s, r, err, errlen, what);
}

int pg_prepare(struct pg_db *s, int k, const char *sql, char *err, size_t errlen)
{
	if (s->prepared[k])
		return 0;
	char name[16];
	snprintf(name, sizeof name, "lanes%d", k);
	PGresult *r = check(s, PQprepare(s->conn, name, sql, 0, NULL), err, errlen,
			    "cannot prepare a statement");
	if (!r)
		return -1;
	PQclear(r);
	s->prepared[k] = 1;
	return 0;
}

PGresult *pg_exec_slot(struct pg_db *s, int k, const char *sql, const struct pg_q *q,
		       char *err, size_t errlen, const char *what)
{
	if (pg_write_held(s, err, errlen) || pg_prepare(s, k, sql, err, errlen))
		return NULL;
	char name[16];
	snprintf(name, sizeof name, "lanes%d", k);
	PGresult *r = PQexecPrepared(s->conn, name, q->n, q->val, q->len, q->fmt, 1);
	return check(s, r, err, errlen, what);
}

int pg_cmd(struct pg_db *s, const char *sql, char *err, size_t errlen, const char *what)
{
	if (pg_write_held(s, err, errlen))
		return -1;
	PGresult *r = check(s, PQexec(s->conn, sql), err, errlen, what);
	PQclear(r);
	return r ? 0 : -1;
}

long long pg_int(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int n = PQgetlength(r, row, col);
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 2)
		return (int16_t)v;
	if (n == 4)
		return (int32_t)v;
	return (long long)(int64_t)v;
}

double pg_double(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
		return 0;
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

const char *pg_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Migration i brings the schema from version i to i + 1; they run in
 * order, in one transaction; never edit one that has shipped. The tables
 * are those of the SQLite backend (sqlite_schema.c, with the request log),
 * plus claims: the
 * records handed out by `store claim`, each until its lease ends (seconds
 * since the epoch on the server's clock, which every worker shares). */
static const char *const migrations[PG_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE records ("
	" rid bigserial PRIMARY KEY,"
	" id text COLLATE \"C\" NOT NULL UNIQUE,"
	" doc text COLLATE \"C\","
	" seq bigint,"
	" body text NOT NULL,"
	" vec_model text,"
	" updated float8 NOT NULL);"
	"CREATE INDEX records_doc_seq ON records(doc, seq);"
	"CREATE TABLE vector_data ("
	" rid bigint NOT NULL,"
	" model text COLLATE \"C\" NOT NULL,"
	" dim bigint NOT NULL,"
	" vec bytea NOT NULL,"
	" updated float8 NOT NULL,"
	" PRIMARY KEY (rid, model));"
	"CREATE INDEX vector_data_model ON vector_data(model, rid);"
	"CREATE TABLE stage_data ("
	" rid bigint NOT NULL,"
	" stage text COLLATE \"C\" NOT NULL,"
	" status text NOT NULL CHECK (status IN ('ok', 'error', 'given_up')),"
	" model text,"
	" failures bigint NOT NULL DEFAULT 0,"
	" code text,"
	" message text,"
	" error text,"
	" updated float8 NOT NULL,"
	" fingerprint text,"
	" PRIMARY KEY (rid, stage));"
	"CREATE TABLE results ("
	" stage text NOT NULL,"
	" fingerprint text NOT NULL,"
	" input text NOT NULL,"
	" members text NOT NULL,"
	" vec bytea,"
	" updated float8 NOT NULL,"
	" PRIMARY KEY (stage, fingerprint, input));"
	"CREATE TABLE claims ("
	" rid bigint NOT NULL,"
	" stage text NOT NULL,"
	" worker text NOT NULL,"
	" until float8 NOT NULL,"
	" PRIMARY KEY (rid, stage));"
	/* the request log (store log), apart from the records, each entry
	 * found by each record id it names */
	"CREATE TABLE llm_log ("
	" n bigserial PRIMARY KEY,"
	" ts text NOT NULL,"
	" kind text NOT NULL,"
	" stage text COLLATE \"C\" NOT NULL,"
	" model text,"
	" code text,"
	" prompt_tokens bigint,"
	" completion_tokens bigint,"
	" entry text NOT NULL);"
	"CREATE INDEX llm_log_failed ON llm_log(code) WHERE code IS NOT NULL;"
	"CREATE TABLE llm_log_ids ("
	" id text COLLATE \"C\" NOT NULL,"
	" n bigint NOT NULL,"
	" PRIMARY KEY (id, n));"
	"CREATE VIEW vectors AS SELECT r.id, v.model, v.dim, v.vec, v.updated"
	" FROM vector_data v JOIN records r ON r.rid = v.rid;"
	"CREATE VIEW stages AS SELECT r.id, s.stage, s.status, s.model, s.failures,"
	" s.code, s.message, s.error, s.updated, s.fingerprint"
	" FROM stage_data s JOIN records r ON r.rid = s.rid;",
};

/* An advisory lock key that says "lanes migrates this database". */
#define PG_MIGRATE_LOCK "7308604897068082789"

/* The version of the schema, or 0 without lanes_schema; -1 when the
 * database holds other tables and no lanes_schema (not a lanes one). */
static int read_version(struct pg_db *s, long *version, int *foreign, char *err, size_t errlen)
{
	struct pg_q *q = &s->q;
	pg_q_reset(q);
	pg_q_sql(q, "SELECT to_regclass('lanes_schema') IS NOT NULL,"
		    " (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema())");
	PGresult *r = pg_exec(s, q, err, errlen, "cannot read the schema");
	if (!r)
		return -1;
	int has = PQgetvalue(r, 0, 0)[0] != 0;
	long long tables = pg_int(r, 0, 1);
	PQclear(r);
	*version = 0;
	*foreign = !has && tables > 0;
	if (!has)
		return 0;
	pg_q_reset(q);
	pg_q_sql(q, "SELECT max(version) FROM lanes_schema");
	if (!(r = pg_exec(s, q, err, errlen, "cannot read the schema")))
		return -1;
	*version = (long)pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}

int pg_migrate(struct pg_db *s, char *err, size_t errlen)
{
	long version;
	int foreign;
	if (read_version(s, &version, &foreign, err, errlen))
		return -1;
	if (version == PG_SCHEMA_VERSION)
		return 0;
	if (pg_cmd(s, "BEGIN", err, errlen, "cannot begin a transaction") ||
	    pg_cmd(s, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", err, errlen,
		   "cannot lock the schema"))
		goto fail;
	/* another process may have migrated it meanwhile */
	if (read_version(s, &version, &foreign, err, errlen))
		goto fail;
	if (version == PG_SCHEMA_VERSION)
		return pg_cmd(s, "COMMIT", err, errlen, "cannot commit");
	if (version > PG_SCHEMA_VERSION) {
		snprintf(err, errlen, "its schema version %ld is newer than this store's (%d): "
			 "use a newer lanes", version, PG_SCHEMA_VERSION);
		goto fail;
	}
	if (foreign) {
		snprintf(err, errlen, "not a lanes database (its schema has other tables); "
			 "give another database or schema");
		goto fail;
	}
	if (version == 0 && pg_cmd(s, "CREATE TABLE lanes_schema (version bigint NOT NULL,"
				      " updated timestamptz NOT NULL DEFAULT now())",
				   err, errlen, "cannot create the schema"))
		goto fail;
	for (long v = version; v < PG_SCHEMA_VERSION; v++)
		if (pg_cmd(s, migrations[v], err, errlen, "cannot update the schema"))
			goto fail;
	pg_q_reset(&s->q);
	pg_q_sql(&s->q, "INSERT INTO lanes_schema(version) VALUES(");
	pg_q_int(&s->q, PG_SCHEMA_VERSION);
	pg_q_sql(&s->q, ")");
	PGresult *r = pg_exec(s, &s->q, err, errlen, "cannot update the schema");
	if (!r)
		goto fail;
	PQclear(r);
	return pg_cmd(s, "COMMIT", err, errlen, "cannot commit the schema");
fail:
	PQclear(PQexec(s->conn, "ROLLBACK"));
	return -1;
}

void *pg_open(const struct store_opts *o, char *err, size_t errlen)
{
	char why[512] = "";
	struct pg_db *s = xcalloc(1, sizeof *s);
	s->shown = redact_url(o->db);
	s->max_attempts = o->max_attempts > 0 ? o->max_attempts : 1;
	/* the URL goes to libpq as it is; what is shown is s->shown */
	s->conn = PQconnectdb(o->db);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		pg_error(s, why, sizeof why, "cannot connect", NULL);
		goto fail;
	}
	/* quiet: NOTICEs (IF NOT EXISTS and the like) are not the user's */
	if (pg_cmd(s, "SET client_min_messages = warning", why, sizeof why, "cannot set up"))
		goto fail;
	/* no JIT: its compile time (~90 ms for a claim over 20k records)
	 * outweighs what it saves on the store's short queries; a server
	 * older than 11 has no such setting, which is fine */
	PQclear(PQexec(s->conn, "SET jit = off"));
	/* how long to wait for a row another writer holds: busy_timeout_ms */
	char sql[128];
	snprintf(sql, sizeof sql, "SET lock_timeout = %ld", o->busy_timeout_ms > 0 ?
		 o->busy_timeout_ms : 0);
	if (pg_cmd(s, sql, why, sizeof why, "cannot set lock_timeout"))
		goto fail;
	/* synchronous off: a commit does not wait for the server's WAL flush
	 * (a crash of the server loses the last ones, never corrupts); normal
	 * and full keep the server's setting */
	const char *sync = o->synchronous ? o->synchronous : "normal";
	if (strcmp(sync, "off") && strcmp(sync, "normal") && strcmp(sync, "full")) {
		snprintf(why, sizeof why, "synchronous '%s' is not off, normal or full", sync);
		goto fail;
	}
	if (!strcmp(sync, "off") &&
	    pg_cmd(s, "SET synchronous_commit = off", why, sizeof why, "cannot set synchronous"))
		goto fail;
	if (pg_migrate(s, why, sizeof why))
		goto fail;
	return s;
fail:
	snprintf(err, errlen, "cannot open database '%s': %s", s->shown, why);
	pg_close(s);
	return NULL;
}

void pg_close(void *c)
{
	struct pg_db *s = c;
	if (!s)
		return;
	if (s->in_txn && s->conn)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	PQfinish(s->conn);
	free(s->shown);
	store_body_free(&s->body);
	buf_free(&s->errs);
	pg_q_free(&s->q);
	pg_q_free(&s->pq);
	pg_held_free(s);
	free(s);
}

/* The backup is pg_dump's (custom format, one consistent snapshot, taken
 * while writers go on): pg_dump runs with the connection's settings in
 * its environment (PGHOST, PGPASSWORD, ...), never on its command line,
 * writes path.tmp, pg_restore --list checks it, and it is renamed over
 * path. Restore with `pg_restore --clean --if-exists -d URL path`. */
static int run_tool(char *const argv[], PQconninfoOption *opts, char *err, size_t errlen)
{
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (pid == 0) {
		for (PQconninfoOption *o = opts; o && o->keyword; o++)
			if (o->val && *o->val && o->envvar)
				setenv(o->envvar, o->val, 1);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "store: cannot run %s: %s (Debian package postgresql-client)\n",
			argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "cannot wait for %s: %s", argv[0], strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "%s failed (%s %d; its message is above)", argv[0],
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 0;
}

int pg_backup(void *c, const char *path, char *err, size_t errlen)
{
	struct pg_db *s = c;
	char *cerr = NULL;
	/* the connection's own settings, as libpq resolved them */
	PQconninfoOption *opts = PQconninfo(s->conn);
	if (!opts) {
		snprintf(err, errlen, "cannot read the connection's settings%s%s",
			 cerr ? ": " : "", cerr ? cerr : "");
		PQfreemem(cerr);
		return -1;
	}
	char *tmp = xasprintf("%s.tmp", path);
	char *const dump[] = {"pg_dump", "--format=custom", "--no-owner", "--file", tmp, NULL};
	char *const list[] = {"pg_restore", "--list", tmp, NULL};
	int rc = -1;
	if (run_tool(dump, opts, err, errlen) == 0 && run_tool(list, NULL, err, errlen) == 0) {
		if (rename(tmp, path))
			snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		else
			rc = 0;
	}
	if (rc)
		unlink(tmp);
	free(tmp);
	PQconninfoFree(opts);
	return rc;
}

/* postgres:// and postgresql:// URLs (libpq's own two spellings). */
static int handles(const char *db)
{
	return !strncmp(db, "postgres://", 11) || !strncmp(db, "postgresql://", 13);
}

const struct store_backend store_backend_pg = {
	.name = "postgresql",
	.handles = handles,
	.open = pg_open,
	.close = pg_close,
	.write = pg_write,
	.prune_doc = pg_prune_doc,
	.delete_records = pg_delete,
	.commit = pg_commit,
	.batch_records = pg_batch_records,
	.batch_age_ms = pg_batch_age_ms,
	.get = pg_get,
	.scan = pg_scan,
	.claim = pg_claim,
	.claims_held = pg_claims_held,
	.vectors = pg_vectors,
	.models = pg_models,
	.get_key = pg_get_key,
	.docs = pg_docs,
	.result_get = pg_result_get,
	.stats = pg_stats,
	.log_add = pg_log_add,
	.log_scan = pg_log_scan,
	.backup = pg_backup,
};
