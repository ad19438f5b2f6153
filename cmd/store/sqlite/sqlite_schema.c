/* sqlite_schema: the SQLite backend's schema, versioned by PRAGMA
 * user_version and marked by PRAGMA application_id, and the migrations
 * that bring a database to this binary's version. */
#include "sqlite_db.h"

#include <stdio.h>

/* Migration i brings the schema from version i to i + 1. They run in
 * order, all in one transaction; never edit one that has shipped.
 *
 * Stages and vectors are keyed by the record's rid, not its id: a new
 * record gets the next rid, so their rows are appended to the end of their
 * B-trees instead of being scattered (several times faster to write). The
 * views stages and vectors show them by id. */
static const char *const migrations[SQLITE_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE records ("
	" rid INTEGER PRIMARY KEY,"  /* stable row number */
	" id TEXT NOT NULL UNIQUE,"
	" doc TEXT,"
	" seq INTEGER,"
	" body TEXT NOT NULL,"      /* JSON object without embedding*, errors */
	" vec_model TEXT,"          /* model of the latest vector */
	" updated REAL NOT NULL);"  /* unix time of the last put */
	"CREATE INDEX records_doc_seq ON records(doc, seq);"
	"CREATE TABLE vector_data ("
	" rid INTEGER NOT NULL,"
	" model TEXT NOT NULL,"
	" dim INTEGER NOT NULL,"
	" vec BLOB NOT NULL,"       /* dim little-endian float32 */
	" updated REAL NOT NULL,"
	" PRIMARY KEY (rid, model));"
	"CREATE TABLE stage_data ("
	" rid INTEGER NOT NULL,"
	" stage TEXT NOT NULL,"
	/* not IN (...): SQLite builds an ephemeral table for it on each row */
	" status TEXT NOT NULL"
	" CHECK (status = 'ok' OR status = 'error' OR status = 'given_up'),"
	" model TEXT,"
	" failures INTEGER NOT NULL DEFAULT 0," /* failed puts since the last ok */
	" code TEXT,"
	" message TEXT,"
	" error TEXT,"              /* raw JSON of errors.<stage> */
	" updated REAL NOT NULL,"
	" PRIMARY KEY (rid, stage)) WITHOUT ROWID;"
	"CREATE VIEW vectors AS SELECT r.id, v.model, v.dim, v.vec, v.updated"
	" FROM vector_data v JOIN records r ON r.rid = v.rid;"
	"CREATE VIEW stages AS SELECT r.id, s.stage, s.status, s.model, s.failures,"
	" s.code, s.message, s.error, s.updated FROM stage_data s JOIN records r ON r.rid = s.rid;",
	/* 1 -> 2: what a result depends on (its fingerprint), and results
	 * kept by content, to be reused for another record with the same
	 * input under the same settings */
	"ALTER TABLE stage_data ADD COLUMN fingerprint TEXT;"
	"DROP VIEW stages;"
	"CREATE VIEW stages AS SELECT r.id, s.stage, s.status, s.model, s.failures,"
	" s.code, s.message, s.error, s.updated, s.fingerprint"
	" FROM stage_data s JOIN records r ON r.rid = s.rid;"
	"CREATE TABLE results ("
	" stage TEXT NOT NULL,"
	" fingerprint TEXT NOT NULL,"
	" input TEXT NOT NULL,"       /* hash of the input (fingerprint.h) */
	" members TEXT NOT NULL,"     /* the result and its stamp, one JSON object */
	" vec BLOB,"                  /* a vector stage's result */
	" updated REAL NOT NULL,"
	" PRIMARY KEY (stage, fingerprint, input));",
	/* 2 -> 3: the request log (store log), kept apart from the records,
	 * each entry found by each record id it names */
	"CREATE TABLE llm_log ("
	" n INTEGER PRIMARY KEY,"     /* order added */
	" ts TEXT NOT NULL,"
	" kind TEXT NOT NULL,"        /* request, or answer (judged by the tool) */
	" stage TEXT NOT NULL,"
	" model TEXT,"
	" code TEXT,"                 /* NULL: the request went through */
	" prompt_tokens INTEGER,"
	" completion_tokens INTEGER,"
	" entry TEXT NOT NULL);"      /* the entry, one JSON object */
	"CREATE INDEX llm_log_failed ON llm_log(code) WHERE code IS NOT NULL;"
	"CREATE TABLE llm_log_ids ("
	" id TEXT NOT NULL,"
	" n INTEGER NOT NULL,"
	" PRIMARY KEY (id, n)) WITHOUT ROWID;",
};

int sqlite_migrate(struct sqlite_db *s, char *err, size_t errlen)
{
	long version, app_id, tables;
	if (sqlite_query_long(s, "PRAGMA user_version", &version) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return -1;
	}
	if (version == SQLITE_SCHEMA_VERSION)
		return 0;
	int locked = 0;
	if (version < SQLITE_SCHEMA_VERSION) {
		if (sqlite_exec_retry(s, "BEGIN IMMEDIATE") != SQLITE_OK) {
			sqlite_db_error(s, err, errlen, "cannot lock it to update the schema");
			return -1;
		}
		locked = 1;
		/* another process may have migrated it meanwhile */
		if (sqlite_query_long(s, "PRAGMA user_version", &version) != SQLITE_OK)
			goto sql_fail;
		if (version == SQLITE_SCHEMA_VERSION) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return 0;
		}
	}
	if (version > SQLITE_SCHEMA_VERSION) {
		snprintf(err, errlen, "its schema version %ld is newer than this store's (%d): "
			 "use a newer lanes", version, SQLITE_SCHEMA_VERSION);
		goto fail;
	}
	if (sqlite_query_long(s, "PRAGMA application_id", &app_id) != SQLITE_OK ||
	    sqlite_query_long(s, "SELECT count(*) FROM sqlite_master", &tables) != SQLITE_OK)
		goto sql_fail;
	if ((app_id != 0 && app_id != SQLITE_APP_ID) ||
	    (app_id == 0 && version == 0 && tables > 0)) {
		snprintf(err, errlen, "not a lanes database (it has other tables); "
			 "give another --db");
		goto fail;
	}
	for (long v = version; v < SQLITE_SCHEMA_VERSION; v++)
		if (sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			goto sql_fail;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d",
		 SQLITE_SCHEMA_VERSION, SQLITE_APP_ID);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto sql_fail;
	if (sqlite_exec_retry(s, "COMMIT") != SQLITE_OK)
		goto sql_fail;
	return 0;
sql_fail:
	sqlite_db_error(s, err, errlen, "cannot update the schema");
fail:
	if (locked)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
