/* Unit tests for core/db: durable SQLite, migrations, transactions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/db.h"
#include "core/err.h"

static const char *const schema[] = {
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT UNIQUE "
    "NOT NULL);",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL "
    "REFERENCES parent(id), data BLOB);",
};

struct fixture {
	char dir[64];
	char path[128];
	cu_db_t *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/custos-test-db-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	if (cu_db_open(f->path, schema, 2, &f->db) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];
	cu_db_close(f->db);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void opening_applies_migrations_and_wal_and_full_sync(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL;
	int v = -1;
	struct stat sb;

	assert_int_equal(cu_db_user_version(f->db, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(cu_db_query(f->db, &st, "PRAGMA journal_mode", ""), 0);
	assert_int_equal(cu_db_step(st), 1);
	assert_string_equal(cu_db_col_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(cu_db_query(f->db, &st, "PRAGMA synchronous", ""), 0);
	assert_int_equal(cu_db_step(st), 1);
	assert_int_equal(sqlite3_column_int(st, 0), 2); /* FULL */
	sqlite3_finalize(st);
	assert_int_equal(cu_db_query(f->db, &st, "PRAGMA foreign_keys", ""), 0);
	assert_int_equal(cu_db_step(st), 1);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	cu_db_rollback(f->db);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void reopening_keeps_data_and_runs_only_new_migrations(void **state)
{
	struct fixture *f = *state;
	const char *const more[] = {
	    schema[0], schema[1], "ALTER TABLE parent ADD COLUMN extra TEXT;"};
	sqlite3_stmt *st = NULL;
	int v = 0;

	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(cu_db_run(f->db, NULL,
	                           "INSERT INTO parent(name) VALUES(?1)", "t",
	                           "one"),
	                 0);
	assert_int_equal(cu_db_commit(f->db), 0);
	cu_db_close(f->db);
	f->db = NULL;
	assert_int_equal(cu_db_open(f->path, more, 3, &f->db), 0);
	assert_int_equal(cu_db_user_version(f->db, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(
	    cu_db_query(f->db, &st, "SELECT name, extra FROM parent", ""), 0);
	assert_int_equal(cu_db_step(st), 1);
	assert_string_equal(cu_db_col_text(st, 0), "one");
	assert_string_equal(cu_db_col_text(st, 1), ""); /* NULL */
	assert_int_equal(cu_db_step(st), 0);
	sqlite3_finalize(st);
	cu_db_rollback(f->db);
}

static void a_newer_schema_than_known_is_refused(void **state)
{
	struct fixture *f = *state;
	cu_db_t *db = NULL;

	assert_int_equal(cu_db_open(f->path, schema, 1, &db), CU_ERR_STATE);
	assert_null(db);
}

static void a_failing_migration_leaves_the_old_version(void **state)
{
	struct fixture *f = *state;
	const char *const bad[] = {schema[0], schema[1],
	                           "CREATE TABLE x (a);"
	                           "THIS IS NOT SQL;"};
	cu_db_t *db = NULL;
	int v = 0;

	cu_db_close(f->db);
	f->db = NULL;
	assert_int_equal(cu_db_open(f->path, bad, 3, &db), CU_ERR_DB);
	assert_null(db);
	assert_int_equal(cu_db_open(f->path, schema, 2, &f->db), 0);
	assert_int_equal(cu_db_user_version(f->db, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cu_db_begin(f->db), 0);
	/* table x of the failed migration was rolled back */
	assert_int_equal(cu_db_run(f->db, NULL, "INSERT INTO x VALUES(1)", ""),
	                 CU_ERR_DB);
	cu_db_rollback(f->db);
}

static void constraint_violations_map_to_exists_and_notfound(void **state)
{
	struct fixture *f = *state;
	int changes = -1;

	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(cu_db_run(f->db, &changes,
	                           "INSERT INTO parent(name) VALUES(?1)", "T",
	                           "abcdef", (size_t)3),
	                 0);
	assert_int_equal(changes, 1);
	assert_int_equal(cu_db_run(f->db, NULL,
	                           "INSERT INTO parent(name) VALUES(?1)", "t",
	                           "abc"),
	                 CU_ERR_EXISTS);
	assert_int_equal(
	    cu_db_run(f->db, NULL,
	              "INSERT INTO parent(id, name) VALUES(?1, ?2)", "it",
	              cu_db_last_rowid(f->db), "zzz"),
	    CU_ERR_EXISTS);
	assert_int_equal(cu_db_run(f->db, NULL,
	                           "INSERT INTO child(parent, data) "
	                           "VALUES(?1, ?2)",
	                           "ib", (int64_t)999, "x", (size_t)1),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_db_commit(f->db), 0);
}

static void rollback_discards_and_commit_keeps(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL;
	static const unsigned char blob[4] = {0, 1, 2, 0xff};

	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(
	    cu_db_run(f->db, NULL,
	              "INSERT INTO parent(id, name) VALUES(1, 'a')", ""),
	    0);
	cu_db_rollback(f->db);
	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(
	    cu_db_run(f->db, NULL,
	              "INSERT INTO parent(id, name) VALUES(1, 'b')", ""),
	    0);
	assert_int_equal(cu_db_run(f->db, NULL,
	                           "INSERT INTO child(parent, data) "
	                           "VALUES(1, ?1)",
	                           "b", blob, sizeof(blob)),
	                 0);
	assert_int_equal(cu_db_commit(f->db), 0);
	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(cu_db_query(f->db, &st,
	                             "SELECT p.name, c.data FROM parent p "
	                             "JOIN child c ON c.parent = p.id "
	                             "WHERE p.id = ?1",
	                             "i", (int64_t)1),
	                 0);
	assert_int_equal(cu_db_step(st), 1);
	assert_string_equal(cu_db_col_text(st, 0), "b");
	assert_int_equal(sqlite3_column_bytes(st, 1), 4);
	assert_memory_equal(sqlite3_column_blob(st, 1), blob, 4);
	assert_int_equal(cu_db_step(st), 0);
	sqlite3_finalize(st);
	cu_db_rollback(f->db);
}

static void bad_bind_formats_are_refused(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL;

	assert_int_equal(cu_db_begin(f->db), 0);
	/* too few, too many, unknown letter */
	assert_int_equal(
	    cu_db_query(f->db, &st, "SELECT ?1, ?2", "i", (int64_t)1),
	    CU_ERR_INVAL);
	assert_null(st);
	assert_int_equal(
	    cu_db_query(f->db, &st, "SELECT ?1", "ii", (int64_t)1, (int64_t)2),
	    CU_ERR_INVAL);
	assert_int_equal(cu_db_query(f->db, &st, "SELECT ?1", "x", 1),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_db_query(f->db, &st, "SELEKT 1", ""), CU_ERR_DB);
	assert_int_equal(cu_db_query(f->db, &st, "SELECT ?1", "n"), 0);
	assert_int_equal(cu_db_step(st), 1);
	assert_int_equal(sqlite3_column_type(st, 0), SQLITE_NULL);
	sqlite3_finalize(st);
	cu_db_rollback(f->db);
}

static void open_refuses_bad_arguments_and_unopenable_paths(void **state)
{
	cu_db_t *db = NULL;

	assert_int_equal(cu_db_open(NULL, schema, 2, &db), CU_ERR_INVAL);
	assert_int_equal(cu_db_open("/nonexistent/dir/x.db", schema, 2, &db),
	                 CU_ERR_IO);
	assert_null(db);
	assert_int_equal(cu_db_open(":memory:", schema, 2, &db), 0);
	cu_db_close(db);
	cu_db_close(NULL);
}

static void error_mapping_covers_the_codes(void **state)
{
	assert_int_equal(cu_db_err(SQLITE_OK), 0);
	assert_int_equal(cu_db_err(SQLITE_DONE), 0);
	assert_int_equal(cu_db_err(SQLITE_CONSTRAINT_UNIQUE), CU_ERR_EXISTS);
	assert_int_equal(cu_db_err(SQLITE_CONSTRAINT_FOREIGNKEY),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_db_err(SQLITE_NOMEM), CU_ERR_NOMEM);
	assert_int_equal(cu_db_err(SQLITE_BUSY), CU_ERR_DB);
	assert_int_equal(cu_db_err(SQLITE_CORRUPT), CU_ERR_DB);
}

static const char sel_parent[] = "SELECT name FROM parent WHERE id = ?1";

static void a_cached_statement_is_prepared_once_and_reused(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL, *first = NULL, *nested = NULL;

	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(
	    cu_db_run(f->db, NULL,
	              "INSERT INTO parent(id, name) VALUES(?1, ?2)", "it",
	              (int64_t)1, "one"),
	    0);
	assert_int_equal(
	    cu_db_run(f->db, NULL,
	              "INSERT INTO parent(id, name) VALUES(?1, ?2)", "it",
	              (int64_t)2, "two"),
	    0);
	assert_int_equal(cu_db_commit(f->db), 0);

	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(
	    cu_db_query_cached(f->db, &st, sel_parent, "i", (int64_t)1), 0);
	first = st;
	assert_int_equal(cu_db_step(st), 1);
	assert_string_equal(cu_db_col_text(st, 0), "one");
	/* the same text while it is handed out: a statement of its own */
	assert_int_equal(
	    cu_db_query_cached(f->db, &nested, sel_parent, "i", (int64_t)2), 0);
	assert_ptr_not_equal(nested, first);
	assert_int_equal(cu_db_step(nested), 1);
	assert_string_equal(cu_db_col_text(nested, 0), "two");
	cu_db_release(f->db, nested);
	cu_db_release(f->db, st);
	cu_db_rollback(f->db);

	/* released: the next transaction gets the same statement, reset,
	 * with its new bindings */
	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(
	    cu_db_query_cached(f->db, &st, sel_parent, "i", (int64_t)2), 0);
	assert_ptr_equal(st, first);
	assert_int_equal(cu_db_step(st), 1);
	assert_string_equal(cu_db_col_text(st, 0), "two");
	assert_int_equal(cu_db_step(st), 0);
	cu_db_release(f->db, st);
	cu_db_release(f->db, NULL);
	cu_db_rollback(f->db);
}

static void a_cached_statement_is_found_by_its_text_not_its_buffer(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL;
	char sql[64];

	/* one buffer, two texts: the second must not run the first */
	assert_int_equal(cu_db_begin(f->db), 0);
	snprintf(sql, sizeof(sql), "INSERT INTO parent(name) VALUES(?1)");
	assert_int_equal(cu_db_run(f->db, NULL, sql, "t", "a"), 0);
	snprintf(sql, sizeof(sql), "DELETE FROM parent WHERE name = ?1");
	assert_int_equal(cu_db_run(f->db, NULL, sql, "t", "a"), 0);
	assert_int_equal(cu_db_commit(f->db), 0);
	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(
	    cu_db_query_cached(f->db, &st, "SELECT count(*) FROM parent", ""),
	    0);
	assert_int_equal(cu_db_step(st), 1);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	cu_db_release(f->db, st);
	cu_db_rollback(f->db);
}

static void more_statements_than_kept_still_run(void **state)
{
	struct fixture *f = *state;
	char sql[100][64];

	assert_int_equal(cu_db_begin_read(f->db), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 100; i++) {
			sqlite3_stmt *st = NULL;

			snprintf(sql[i], sizeof(sql[i]), "SELECT %d + ?1", i);
			assert_int_equal(cu_db_query_cached(f->db, &st, sql[i],
			                                    "i",
			                                    (int64_t)round),
			                 0);
			assert_int_equal(cu_db_step(st), 1);
			assert_int_equal(sqlite3_column_int(st, 0), i + round);
			cu_db_release(f->db, st);
		}
	}
	cu_db_rollback(f->db);
}

static void a_cached_statement_sees_schema_changes(void **state)
{
	struct fixture *f = *state;
	static const char sql[] = "SELECT * FROM parent";
	sqlite3_stmt *st = NULL;

	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(cu_db_query_cached(f->db, &st, sql, ""), 0);
	assert_int_equal(sqlite3_column_count(st), 2);
	cu_db_release(f->db, st);
	cu_db_rollback(f->db);
	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(
	    cu_db_exec(f->db, "ALTER TABLE parent ADD COLUMN extra TEXT"), 0);
	assert_int_equal(cu_db_commit(f->db), 0);
	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(cu_db_query_cached(f->db, &st, sql, ""), 0);
	assert_int_equal(cu_db_step(st), 0);
	assert_int_equal(sqlite3_column_count(st), 3);
	cu_db_release(f->db, st);
	cu_db_rollback(f->db);
}

static void a_bad_bind_on_a_cached_statement_leaves_it_usable(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL;

	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(cu_db_query_cached(f->db, &st, sel_parent, "ii",
	                                    (int64_t)1, (int64_t)2),
	                 CU_ERR_INVAL);
	assert_null(st);
	assert_int_equal(
	    cu_db_query_cached(f->db, &st, sel_parent, "i", (int64_t)1), 0);
	assert_int_equal(cu_db_step(st), 0);
	cu_db_release(f->db, st);
	cu_db_rollback(f->db);
}

static void sql_without_a_statement_is_refused_not_stepped(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL;

	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(cu_db_query(f->db, &st, "", ""), CU_ERR_INVAL);
	assert_null(st);
	assert_int_equal(cu_db_query_cached(f->db, &st, "-- nothing", ""),
	                 CU_ERR_INVAL);
	assert_null(st);
	assert_int_equal(cu_db_run(f->db, NULL, " ", ""), CU_ERR_INVAL);
	cu_db_rollback(f->db);
}

/* The count memos are tagged with (core/memo.h): every commit of the
 * handle, made with cu_db_commit or as a lone statement, and nothing
 * else. */
static void the_commit_count_moves_with_every_commit_only(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st = NULL;
	uint64_t c0 = cu_db_commits(f->db);

	assert_true(c0 >= 2); /* the two migrations */
	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(
	    cu_db_run(f->db, NULL, "INSERT INTO parent(name) VALUES('a')", ""),
	    0);
	assert_int_equal(cu_db_commits(f->db), c0); /* not yet */
	assert_int_equal(cu_db_commit(f->db), 0);
	assert_int_equal(cu_db_commits(f->db), c0 + 1);
	assert_int_equal(
	    cu_db_run(f->db, NULL, "INSERT INTO parent(name) VALUES('b')", ""),
	    0);
	assert_int_equal(cu_db_commits(f->db), c0 + 2);
	/* reads and rolled-back writes do not count */
	assert_int_equal(cu_db_begin(f->db), 0);
	assert_int_equal(
	    cu_db_run(f->db, NULL, "INSERT INTO parent(name) VALUES('c')", ""),
	    0);
	cu_db_rollback(f->db);
	assert_int_equal(cu_db_begin_read(f->db), 0);
	assert_int_equal(
	    cu_db_query(f->db, &st, "SELECT COUNT(*) FROM parent", ""), 0);
	assert_int_equal(cu_db_step(st), 1);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	cu_db_rollback(f->db);
	assert_int_equal(cu_db_commits(f->db), c0 + 2);
}

static int collect_name(sqlite3_stmt *st, void *arg)
{
	char *names = arg;

	strcat(names, cu_db_col_text(st, 0));
	/* stop at "c": the rows after it are not read */
	return strcmp(cu_db_col_text(st, 0), "c") == 0 ? 1 : 0;
}

static int refuse_row(sqlite3_stmt *st, void *arg)
{
	(void)st;
	(void)arg;
	return CU_ERR_PARSE;
}

/* Reads on the pool of read connections see every commit made before
 * them, hand rows over in order, stop when asked, and pass errors on. */
static void pooled_reads_see_each_commit_and_stop_when_asked(void **state)
{
	struct fixture *f = *state;
	static const char *sql = "SELECT name FROM parent ORDER BY name";
	char names[16] = "";

	assert_int_equal(cu_db_read_row(f->db, NULL, NULL, sql, ""),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_db_read_rows(f->db, collect_name, names, sql, ""),
	                 0);
	assert_string_equal(names, "");
	for (const char *n = "abcd"; *n != '\0'; n++) {
		char one[2] = {*n, '\0'};
		assert_int_equal(
		    cu_db_run(f->db, NULL,
		              "INSERT INTO parent(name) VALUES(?1)", "t", one),
		    0);
		/* the next read sees it */
		assert_int_equal(
		    cu_db_read_row(f->db, NULL, NULL,
		                   "SELECT 1 FROM parent WHERE name = ?1", "t",
		                   one),
		    0);
	}
	assert_int_equal(cu_db_read_rows(f->db, collect_name, names, sql, ""),
	                 0);
	assert_string_equal(names, "abc");
	names[0] = '\0';
	assert_int_equal(cu_db_read_row(f->db, collect_name, names, sql, ""),
	                 0);
	assert_string_equal(names, "a");
	assert_int_equal(cu_db_read_rows(f->db, refuse_row, NULL, sql, ""),
	                 CU_ERR_PARSE);
	assert_int_equal(cu_db_read_row(f->db, refuse_row, NULL, sql, ""),
	                 CU_ERR_PARSE);
	/* a bad query is an error, not a row */
	assert_int_not_equal(
	    cu_db_read_row(f->db, NULL, NULL, "SELECT * FROM nowhere", ""), 0);
	assert_int_equal(cu_db_read_row(f->db, NULL, NULL,
	                                "SELECT 1 FROM parent WHERE name = ?1",
	                                "", "a"),
	                 CU_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        opening_applies_migrations_and_wal_and_full_sync, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        reopening_keeps_data_and_runs_only_new_migrations, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        a_newer_schema_than_known_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        a_failing_migration_leaves_the_old_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        constraint_violations_map_to_exists_and_notfound, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(rollback_discards_and_commit_keeps,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_bind_formats_are_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        a_cached_statement_is_prepared_once_and_reused, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        a_cached_statement_is_found_by_its_text_not_its_buffer, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(more_statements_than_kept_still_run,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        a_cached_statement_sees_schema_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        a_bad_bind_on_a_cached_statement_leaves_it_usable, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        sql_without_a_statement_is_refused_not_stepped, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        the_commit_count_moves_with_every_commit_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        pooled_reads_see_each_commit_and_stop_when_asked, setup,
	        teardown),
	    cmocka_unit_test(open_refuses_bad_arguments_and_unopenable_paths),
	    cmocka_unit_test(error_mapping_covers_the_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
