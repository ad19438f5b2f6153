/* sqlite_backup: a copy of a SQLite database taken with the online
 * backup API, a few pages per step, from one consistent snapshot while
 * writers go on (in WAL mode they are never blocked by it); the copy is a
 * self-contained file, checked before it replaces the target; a target
 * that is the live database or one of its files is refused. */
#include "sqlite_db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pages copied per backup step: small steps keep each one short. */
#define BACKUP_STEP_PAGES 256

/* The name path would have once written: its directory with links
 * resolved, and its last component (path itself when the directory cannot
 * be resolved). Owned by the caller. */
static char *canonical(const char *path)
{
	char *full = realpath(path, NULL);
	if (full)
		return full;
	char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	const char *dir = slash ? (slash == copy ? "/" : copy) : ".";
	const char *base = slash ? slash + 1 : copy;
	if (slash)
		*slash = '\0';
	char *d = realpath(dir, NULL);
	char *out = d ? xasprintf("%s/%s", strcmp(d, "/") ? d : "", base) : xstrdup(path);
	free(d);
	free(copy);
	return out;
}

/* Whether a and b are one file: the same inode when both exist, else the
 * same canonical name. */
static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	char *ca = canonical(a), *cb = canonical(b);
	int same = !strcmp(ca, cb);
	free(ca);
	free(cb);
	return same;
}

/* Whether writing path (or path.tmp, which the backup writes first) would
 * overwrite the live database or one of the files SQLite keeps beside it
 * (its write-ahead log, shared memory, rollback journal). Says which in
 * err. */
static int hits_live_files(const struct sqlite_db *s, const char *path, const char *tmp,
			   char *err, size_t errlen)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	const char *target[] = {path, tmp};
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		char *live = xasprintf("%s%s", s->path, suffix[i]);
		for (size_t k = 0; k < 2; k++) {
			if (!same_file(target[k], live))
				continue;
			snprintf(err, errlen, "refusing to back up '%s' onto itself: '%s'%s is %s "
				 "(the same file): give another FILE", s->path, target[k],
				 k ? ", where the copy is written first," : "",
				 i ? "a file of the live database" : "the live database");
			free(live);
			return 1;
		}
		free(live);
	}
	return 0;
}

int sqlite_backup(void *c, const char *path, char *err, size_t errlen)
{
	struct sqlite_db *s = c;
	char *tmp = xasprintf("%s.tmp", path);
	sqlite3 *dst = NULL;
	sqlite3_backup *bk = NULL;
	int ret = -1, rc;
	int snap = 0;
	if (hits_live_files(s, path, tmp, err, errlen)) {
		free(tmp);
		return -1;
	}
	unlink(tmp);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		int sys = dst ? sqlite3_system_errno(dst) : 0;
		snprintf(err, errlen, "cannot create '%s': %s%s%s", tmp,
			 dst ? sqlite3_errmsg(dst) : "out of memory", sys ? ": " : "",
			 sys ? strerror(sys) : "");
		goto out;
	}
	/* a read transaction held across the steps: every step copies the same
	 * snapshot, and commits by other writers do not restart the copy (in
	 * WAL mode they go on meanwhile) */
	if (sqlite_exec_retry(s, "BEGIN") != SQLITE_OK ||
	    sqlite_exec_retry(s, "SELECT count(*) FROM sqlite_master") != SQLITE_OK) {
		sqlite_db_error(s, err, errlen, "cannot read the database");
		goto out;
	}
	snap = 1;
	bk = sqlite3_backup_init(dst, "main", s->db, "main");
	if (!bk) {
		snprintf(err, errlen, "cannot start the backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	double t0 = now_ms();
	for (;;) {
		rc = sqlite3_backup_step(bk, BACKUP_STEP_PAGES);
		if (rc == SQLITE_DONE)
			break;
		if (rc == SQLITE_OK)
			continue;
		if (sqlite_is_busy(rc) && now_ms() - t0 < (double)s->busy_timeout_ms) {
			sleep_ms(5 * sqlite_jitter(s));
			continue;
		}
		snprintf(err, errlen, "backup failed: %s", sqlite3_errstr(rc));
		goto out;
	}
	rc = sqlite3_backup_finish(bk);
	bk = NULL;
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "backup failed: %s", sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	snap = 0;
	/* a self-contained single file, then checked before it replaces path */
	sqlite3_stmt *st = NULL;
	char *msg = NULL;
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot finish '%s': %s", tmp, msg ? msg : "?");
		sqlite3_free(msg);
		goto out;
	}
	if (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		snprintf(err, errlen, "the copy '%s' fails its check: %s", tmp,
			 st && sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
							  : sqlite3_errmsg(dst));
		sqlite3_finalize(st);
		goto out;
	}
	sqlite3_finalize(st);
	if (sqlite3_close(dst) != SQLITE_OK) {
		snprintf(err, errlen, "cannot close '%s': %s", tmp, sqlite3_errmsg(dst));
		goto out;
	}
	dst = NULL;
	if (rename(tmp, path)) {
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (bk)
		sqlite3_backup_finish(bk);
	if (snap)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (dst) {
		sqlite3_close(dst);
		unlink(tmp);
	}
	free(tmp);
	return ret;
}
