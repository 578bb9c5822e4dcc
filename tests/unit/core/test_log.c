/* Unit tests for core/log: one JSON object per line, levels, fields. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "core/err.h"
#include "core/log.h"

static int fds[2];

static int setup(void **state)
{
	if (pipe(fds) != 0)
		return -1;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	cu_log_init("testcomp", CU_LOG_INFO, fds[1]);
	return 0;
}

static int teardown(void **state)
{
	cu_log_init(NULL, CU_LOG_INFO, 2);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

/* Read what was logged since the last call. */
static size_t drain(char *buf, size_t cap)
{
	ssize_t n = read(fds[0], buf, cap - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

static void a_line_is_one_json_object_with_the_standard_fields(void **state)
{
	char buf[4096];
	json_error_t err;

	cu_log(CU_LOG_WARN, "disk nearly full",
	       json_pack("{s:s, s:i}", "tenant", "acme", "free_mb", 12));
	size_t n = drain(buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1)); /* exactly one line */
	json_t *line = json_loads(buf, 0, &err);
	assert_non_null(line);
	assert_string_equal(json_string_value(json_object_get(line, "level")),
	                    "warn");
	assert_string_equal(
	    json_string_value(json_object_get(line, "component")), "testcomp");
	assert_string_equal(json_string_value(json_object_get(line, "msg")),
	                    "disk nearly full");
	assert_string_equal(json_string_value(json_object_get(line, "tenant")),
	                    "acme");
	assert_int_equal(json_integer_value(json_object_get(line, "free_mb")),
	                 12);
	const char *ts = json_string_value(json_object_get(line, "ts"));
	assert_non_null(ts);
	assert_int_equal(strlen(ts), strlen("2026-11-23T17:20:00.123Z"));
	assert_int_equal(ts[strlen(ts) - 1], 'Z');
	json_decref(line);
}

static void lines_below_the_level_are_not_written(void **state)
{
	char buf[256];
	cu_log(CU_LOG_DEBUG, "noise", json_pack("{s:s}", "k", "v"));
	cu_logf(CU_LOG_DEBUG, "noise %d", 2);
	assert_int_equal(drain(buf, sizeof(buf)), 0);
	assert_int_equal(cu_log_enabled(CU_LOG_DEBUG), 0);
	assert_int_equal(cu_log_enabled(CU_LOG_ERROR), 1);
}

static void fields_cannot_override_the_standard_ones(void **state)
{
	char buf[4096];
	cu_log(CU_LOG_INFO, "real",
	       json_pack("{s:s, s:s}", "msg", "forged", "level", "debug"));
	drain(buf, sizeof(buf));
	json_t *line = json_loads(buf, 0, NULL);
	assert_non_null(line);
	assert_string_equal(json_string_value(json_object_get(line, "msg")),
	                    "real");
	assert_string_equal(json_string_value(json_object_get(line, "level")),
	                    "info");
	json_decref(line);
}

static void messages_with_quotes_and_newlines_stay_one_valid_line(void **state)
{
	char buf[4096];
	cu_logf(CU_LOG_ERROR, "bad \"name\"\nnext %s", "line");
	size_t n = drain(buf, sizeof(buf));
	assert_null(memchr(buf, '\n', n - 1));
	json_t *line = json_loads(buf, 0, NULL);
	assert_non_null(line);
	assert_string_equal(json_string_value(json_object_get(line, "msg")),
	                    "bad \"name\"\nnext line");
	json_decref(line);
}

static void level_names_parse_and_others_are_refused(void **state)
{
	int level = -1;
	assert_int_equal(cu_log_level_parse("debug", &level), 0);
	assert_int_equal(level, CU_LOG_DEBUG);
	assert_int_equal(cu_log_level_parse("error", &level), 0);
	assert_int_equal(level, CU_LOG_ERROR);
	assert_int_equal(cu_log_level_parse("verbose", &level), CU_ERR_INVAL);
	assert_int_equal(cu_log_level_parse(NULL, &level), CU_ERR_INVAL);
	assert_int_equal(level, CU_LOG_ERROR); /* untouched on refusal */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        a_line_is_one_json_object_with_the_standard_fields),
	    cmocka_unit_test(lines_below_the_level_are_not_written),
	    cmocka_unit_test(fields_cannot_override_the_standard_ones),
	    cmocka_unit_test(
	        messages_with_quotes_and_newlines_stay_one_valid_line),
	    cmocka_unit_test(level_names_parse_and_others_are_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
