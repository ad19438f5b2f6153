/* store: keeps lanes records in a database, merged stage by stage; `put`
 * (the default) writes NDJSON from stdin, the other subcommands read it
 * back. This file: flags and the subcommand dispatch. */
#include "app.h"
#include "log.h"
#include "store_cmd.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: store [put] [--db FILE] [--tee] [--prune-docs] < records.ndjson\n"
	"       store get [--model M] ID...\n"
	"       store dump [--order id|doc] [--doc D] [--stage S --status STATUS] [--model M]\n"
	"       store pending --stage S [--model M] [--fingerprint FP[:FIELDS]] [--doc D]\n"
	"       store claim --stage S [--limit N] [--lease DURATION] [--worker NAME] [--follow]\n"
	"                   [PENDING FLAGS]\n"
	"       store stats [--json]\n"
	"       store similar [-k N] [--min-score X] [--model M] [FILTERS] (TEXT | --id ID | < VECTOR)\n"
	"       store export [--format ndjson|csv|tsv] [--fields F,...] [--explode LIST] [FILTERS]\n"
	"       store export --vectors FILE.npy|FILE.f32 [--ids FILE] [--model M] [FILTERS]\n"
	"       store docs\n"
	"       store delete --id ID... | --doc D...   (- reads them from stdin, one a line)\n"
	"       store backup FILE\n"
	"       store log [--errors] [--stage S] [ID...]   |   store log --add FILE|-\n"
	"\n"
	"Keeps NDJSON records in a SQLite database or a PostgreSQL one (--db FILE or\n"
	"--db postgresql://USER@HOST/DB; store.db, $LANES_STORE_DB), upserted by \"id\"\n"
	"and merged stage by stage; vectors as float32; the status of each stage\n"
	"(segment, mine, embed, classify) per record. claim leases pending records\n"
	"to one of many workers (a put of the result releases them).\n"
	"STATUS is ok, error, given_up or missing. FILTERS: --doc D, --stage S --status\n"
	"STATUS, --where FIELD=VALUE (repeatable).\n";

static const struct app_flag flags[] = {
	{"db", 0, 1, "db", 0, "FILE|URL",
	 "SQLite file or postgresql:// URL (store.db, $LANES_STORE_DB)"},
	{"tee", 0, 0, NULL, SF_TEE, NULL, "put: write each record to stdout once committed"},
	{"prune-docs", 0, 0, NULL, SF_PRUNE, NULL,
	 "put: input is whole documents' segments (segment's output): drop a document's stored segments past its last"},
	{"model", 0, 1, NULL, SF_MODEL, "M",
	 "get, dump: the vector of model M; pending, claim: output of another model is pending"},
	{"doc", 0, 1, NULL, SF_DOC, "D",
	 "dump, pending, claim: only the records of document D; delete: its records (repeatable)"},
	{"fingerprint", 0, 1, NULL, SF_FINGERPRINT, "FP[:FIELDS]",
	 "pending, claim: results of other settings are pending; with FIELDS, results kept for the same input are reused (`mine --fingerprint` prints it)"},
	{"stage", 0, 1, NULL, SF_STAGE, "S",
	 "dump, pending, claim: the stage (segment, mine, embed, classify); log: the tool (mine, embed, classify, consolidate)"},
	{"add", 0, 1, NULL, SF_ADD, "FILE",
	 "log: move the entries of a request log file (llm.log_file; - = stdin) into the store"},
	{"errors", 0, 0, NULL, SF_ERRORS, NULL, "log: only failed requests and invalid answers"},
	{"limit", 0, 1, NULL, SF_LIMIT, "N", "claim: records at most (100)"},
	{"lease", 0, 1, NULL, SF_LEASE, "DURATION",
	 "claim: how long the records stay claimed without a put (600s; 30s, 5m, 1h)"},
	{"worker", 0, 1, NULL, SF_WORKER, "NAME", "claim: who claims (HOST:PID)"},
	{"follow", 0, 0, NULL, SF_FOLLOW, NULL,
	 "claim: keep claiming, --limit records held at most (claimed, not yet put), until nothing is pending"},
	{"status", 0, 1, NULL, SF_STATUS, "STATUS", "dump: only records whose stage S has STATUS"},
	{"order", 0, 1, NULL, SF_ORDER, "id|doc", "dump: by id (default) or by doc then seq"},
	{"json", 0, 0, NULL, SF_JSON, NULL, "stats: as one JSON object"},
	{"top-k", 'k', 1, NULL, SF_TOP_K, "N", "similar: how many records (10)"},
	{"min-score", 0, 1, NULL, SF_MIN_SCORE, "X", "similar: lowest cosine similarity written"},
	{"id", 0, 1, NULL, SF_ID, "ID",
	 "similar: the records nearest this stored record; delete: the record ID (repeatable; - reads ids from stdin)"},
	{"where", 0, 1, NULL, SF_WHERE, "FIELD=VALUE",
	 "dump, similar, export: only records whose member FIELD (a.b.c) is VALUE"},
	{"format", 0, 1, NULL, SF_FORMAT, "ndjson|csv|tsv", "export: the output format"},
	{"fields", 0, 1, NULL, SF_FIELDS, "F,...", "export: the fields, e.g. id,mined.people.name"},
	{"explode", 0, 1, NULL, SF_EXPLODE, "LIST", "export: one row per item of the list LIST"},
	{"vectors", 0, 1, NULL, SF_VECTORS, "FILE", "export: the vectors to FILE (.npy, else raw float32)"},
	{"ids", 0, 1, NULL, SF_IDS, "FILE", "export: the ids of the vectors, one a line"},
	{"batch-records", 0, 1, "batch_records", 0, "N", "put: records per transaction at most"},
	{"batch-ms", 0, 1, "batch_ms", 0, "MS", "put: longest a transaction stays open"},
	{"synchronous", 0, 1, "synchronous", 0, "off|normal|full", "SQLite synchronous (see store(1))"},
	{"busy-timeout-ms", 0, 1, "busy_timeout_ms", 0, "MS", "how long to wait for another writer"},
	{"max-attempts", 0, 1, "max_attempts", 0, "N", "failures of a stage before it is given up"},
	{NULL, 0, 0, NULL, 0, NULL, NULL},
};

static const char *flag_name(int id)
{
	for (const struct app_flag *f = flags; f->name; f++)
		if (!f->tunable && f->id == id)
			return f->name;
	return "?";
}

static int on_flag(int id, const char *arg, void *ud)
{
	struct store_cli *c = ud;
	c->seen |= 1u << id;
	switch (id) {
	case SF_TEE: c->tee = 1; break;
	case SF_PRUNE: c->prune = 1; break;
	case SF_JSON: c->json = 1; break;
	case SF_MODEL: c->model = arg; break;
	case SF_DOC:
		c->doc = arg;
		c->doc_list = xrealloc(c->doc_list, (c->ndoc_list + 1) * sizeof *c->doc_list);
		c->doc_list[c->ndoc_list++] = arg;
		break;
	case SF_STAGE: c->stage = arg; break;
	case SF_FINGERPRINT: c->fingerprint = arg; break;
	case SF_ADD: c->add = arg; break;
	case SF_ERRORS: c->errors = 1; break;
	case SF_LEASE: c->lease = arg; break;
	case SF_WORKER: c->worker = arg; break;
	case SF_FOLLOW: c->follow = 1; break;
	case SF_LIMIT:
		if (parse_long(arg, 1, 1000000, &c->limit)) {
			log_error("--limit '%s' is not a number from 1 to 1000000", arg);
			exit(EXIT_USAGE);
		}
		c->limit_set = 1;
		break;
	case SF_STATUS: c->status = arg; break;
	case SF_ORDER: c->order = arg; break;
	case SF_ID:
		c->id = arg;
		c->id_list = xrealloc(c->id_list, (c->nid_list + 1) * sizeof *c->id_list);
		c->id_list[c->nid_list++] = arg;
		break;
	case SF_FORMAT: c->format = arg; break;
	case SF_FIELDS: c->fields = arg; break;
	case SF_EXPLODE: c->explode = arg; break;
	case SF_VECTORS: c->vectors = arg; break;
	case SF_IDS: c->ids = arg; break;
	case SF_TOP_K:
		if (parse_long(arg, 1, 100000, &c->k)) {
			log_error("-k '%s' is not a number from 1 to 100000", arg);
			exit(EXIT_USAGE);
		}
		c->k_set = 1;
		break;
	case SF_MIN_SCORE:
		if (parse_double(arg, &c->min_score) || c->min_score < -1 || c->min_score > 1) {
			log_error("--min-score '%s' is not a number from -1 to 1", arg);
			exit(EXIT_USAGE);
		}
		c->min_score_set = 1;
		break;
	case SF_WHERE:
		if (c->nwhere == STORE_WHERE_MAX) {
			log_error("more than %d --where conditions", STORE_WHERE_MAX);
			exit(EXIT_USAGE);
		}
		c->where[c->nwhere++] = arg;
		break;
	default: break;
	}
	return 0;
}

#define F(x) (1u << (x))

static const struct subcommand {
	const char *name;
	int (*run)(struct app *, struct store_cli *, char **, int);
	unsigned flags; /* the store_flag bits it accepts */
} subcommands[] = {
	{"put", store_cmd_put, F(SF_TEE) | F(SF_PRUNE)},
	{"get", store_cmd_get, F(SF_MODEL)},
	{"dump", store_cmd_dump,
	 F(SF_MODEL) | F(SF_DOC) | F(SF_STAGE) | F(SF_STATUS) | F(SF_ORDER) | F(SF_WHERE)},
	{"pending", store_cmd_pending, F(SF_MODEL) | F(SF_DOC) | F(SF_STAGE) | F(SF_FINGERPRINT)},
	{"claim", store_cmd_claim,
	 F(SF_MODEL) | F(SF_DOC) | F(SF_STAGE) | F(SF_FINGERPRINT) | F(SF_LIMIT) | F(SF_LEASE) |
	 F(SF_WORKER) | F(SF_FOLLOW)},
	{"stats", store_cmd_stats, F(SF_JSON)},
	{"docs", store_cmd_docs, 0},
	{"delete", store_cmd_delete, F(SF_ID) | F(SF_DOC)},
	{"backup", store_cmd_backup, 0},
	{"similar", store_cmd_similar,
	 F(SF_MODEL) | F(SF_DOC) | F(SF_STAGE) | F(SF_STATUS) | F(SF_WHERE) | F(SF_TOP_K) |
	 F(SF_MIN_SCORE) | F(SF_ID)},
	{"export", store_cmd_export,
	 F(SF_MODEL) | F(SF_DOC) | F(SF_STAGE) | F(SF_STATUS) | F(SF_WHERE) | F(SF_ORDER) |
	 F(SF_FORMAT) | F(SF_FIELDS) | F(SF_EXPLODE) | F(SF_VECTORS) | F(SF_IDS)},
	{"log", store_cmd_log, F(SF_STAGE) | F(SF_ADD) | F(SF_ERRORS)},
};

int main(int argc, char **argv)
{
	/* the llm settings only for similar, which may embed a text query
	 * with the server's model (the other subcommands print no llm
	 * section with --print-config) */
	static const char *const plain[] = {"store", NULL};
	static const char *const with_llm[] = {"store", "llm", NULL};
	const char *const *sections = plain;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "similar"))
			sections = with_llm;
	struct store_cli cli = {0};
	struct app a;
	app_init(&a, "store", sections, argc, argv, flags, on_flag, &cli, usage);
	const char *name = a.nargs > 0 ? a.args[0] : "put";
	for (size_t i = 0; i < ARRAY_LEN(subcommands); i++) {
		const struct subcommand *sc = &subcommands[i];
		if (strcmp(sc->name, name))
			continue;
		int code;
		unsigned wrong = cli.seen & ~sc->flags;
		if (wrong) {
			int id = SF_TEE;
			while (!(wrong & F(id)))
				id++;
			log_error("--%s does not apply to `store %s` (try --help)",
				  flag_name(id), name);
			code = EXIT_USAGE;
		} else {
			int skip = a.nargs > 0;
			code = sc->run(&a, &cli, a.args + skip, a.nargs - skip);
		}
		/* the subcommands free the tunables, but not on a usage error */
		tun_free(a.tun);
		free(cli.id_list);
		free(cli.doc_list);
		return code;
	}
	log_error("unknown subcommand '%s': put, get, dump, pending, claim, stats, docs, delete, "
		  "backup, similar, export or log (try --help)", name);
	tun_free(a.tun);
	free(cli.id_list);
	free(cli.doc_list);
	return EXIT_USAGE;
}
