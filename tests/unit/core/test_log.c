/* Unit tests for core/log: one JSON object per line, levels, fields. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>

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

/* Read one whole line (the pipe holds it all: lines are written at once). */
static json_t *read_line(char *buf, size_t cap, size_t *n_out)
{
	size_t n = drain(buf, cap);
	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1)); /* exactly one line */
	if (n_out != NULL)
		*n_out = n;
	json_error_t err;
	json_t *line =
	    json_loadb(buf, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (line == NULL)
		fprintf(stderr, "not JSON (%s): %s", err.text, buf);
	assert_non_null(line);
	return line;
}

static const char *get_s(json_t *line, const char *key)
{
	const char *v = json_string_value(json_object_get(line, key));
	assert_non_null(v);
	return v;
}

static void typed_fields_come_in_order_after_the_standard_ones(void **state)
{
	char buf[4096];
	const struct cu_log_field f[] = {
	    {.key = "request_id", .type = CU_LOG_STR, .s = "abc", .len = 3},
	    {.key = "status", .type = CU_LOG_INT, .i = 404},
	    {.key = "bytes_out", .type = CU_LOG_INT, .i = INT64_MAX},
	    {.key = "neg", .type = CU_LOG_INT, .i = INT64_MIN},
	    {.key = "duration_ms", .type = CU_LOG_NS_MS, .i = 1500},
	    {.key = "long_ms", .type = CU_LOG_NS_MS, .i = 12345678901},
	    {.key = "neg_ms", .type = CU_LOG_NS_MS, .i = -2000000},
	    {.key = "cut", .type = CU_LOG_STR, .s = "abcdef", .len = 2},
	    {.key = "null_s", .type = CU_LOG_STR, .s = NULL, .len = 5},
	};
	cu_log_fields(CU_LOG_INFO, "request", f, sizeof(f) / sizeof(f[0]));
	json_t *line = read_line(buf, sizeof(buf), NULL);
	/* the order jansson used to write them in */
	const char *order[] = {"ts",          "level",   "component", "msg",
	                       "request_id",  "status",  "bytes_out", "neg",
	                       "duration_ms", "long_ms", "neg_ms",    "cut",
	                       "null_s"};
	const char *p = buf;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "\"%s\":", order[i]);
		const char *at = strstr(p, quoted);
		assert_non_null(at);
		p = at;
	}
	assert_string_equal(get_s(line, "msg"), "request");
	assert_string_equal(get_s(line, "level"), "info");
	assert_string_equal(get_s(line, "component"), "testcomp");
	assert_string_equal(get_s(line, "request_id"), "abc");
	assert_int_equal(json_integer_value(json_object_get(line, "status")),
	                 404);
	assert_true(json_integer_value(json_object_get(line, "bytes_out")) ==
	            INT64_MAX);
	assert_true(json_integer_value(json_object_get(line, "neg")) ==
	            INT64_MIN);
	/* durations are reals, in milliseconds, to the nanosecond */
	assert_true(json_is_real(json_object_get(line, "duration_ms")));
	assert_non_null(strstr(buf, "\"duration_ms\":0.001500,"));
	assert_non_null(strstr(buf, "\"long_ms\":12345.678901,"));
	assert_non_null(strstr(buf, "\"neg_ms\":-2.000000,"));
	assert_string_equal(get_s(line, "cut"), "ab");
	assert_string_equal(get_s(line, "null_s"), "");
	json_decref(line);
}

static void typed_fields_cannot_override_the_standard_ones(void **state)
{
	char buf[4096];
	const struct cu_log_field f[] = {
	    {.key = "msg", .type = CU_LOG_STR, .s = "forged", .len = 6},
	    {.key = "level", .type = CU_LOG_STR, .s = "debug", .len = 5},
	    {.key = "ts", .type = CU_LOG_INT, .i = 1},
	    {.key = "component", .type = CU_LOG_INT, .i = 2},
	    {.key = "ok", .type = CU_LOG_INT, .i = 3},
	};
	cu_log_fields(CU_LOG_WARN, "real", f, sizeof(f) / sizeof(f[0]));
	json_t *line = read_line(buf, sizeof(buf), NULL); /* no duplicates */
	assert_string_equal(get_s(line, "msg"), "real");
	assert_string_equal(get_s(line, "level"), "warn");
	assert_string_equal(get_s(line, "component"), "testcomp");
	assert_int_equal(json_integer_value(json_object_get(line, "ok")), 3);
	json_decref(line);
	cu_log_fields(CU_LOG_DEBUG, "below the level", f, 1);
	assert_int_equal(drain(buf, sizeof(buf)), 0);
}

static void odd_strings_are_escaped_and_stay_one_valid_line(void **state)
{
	/* quotes, backslashes, every control byte, DEL, UTF-8 of 2, 3 and 4
	 * bytes, and bytes that are not UTF-8 (a lone continuation, a cut
	 * sequence, an overlong '/', a surrogate, past U+10FFFF, 0xff) */
	static const char odd[] =
	    "/keys/a\"b\\c/\x01\x02\x08\x09\x0a\x0c\x0d\x1f\x7f"
	    "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x94\x91"
	    "/\x80/\xe2\x82/\xc0\xaf/\xed\xa0\x80/\xf4\x90\x80\x80/\xff";
	static const char want[] =
	    "/keys/a\"b\\c/\x01\x02\x08\x09\x0a\x0c\x0d\x1f\x7f"
	    "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x94\x91"
	    "/\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd\xef\xbf\xbd"
	    "/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/\xef\xbf\xbd";
	char buf[4096];
	size_t n;
	const struct cu_log_field f[] = {
	    {.key = "path",
	     .type = CU_LOG_STR,
	     .s = odd,
	     .len = sizeof(odd) - 1},
	    {.key = "principal\"\n", .type = CU_LOG_STR, .s = "a\0b", .len = 3},
	};
	cu_log_fields(CU_LOG_INFO, "quote \" and\nnewline", f, 2);
	json_t *line = read_line(buf, sizeof(buf), &n);
	/* the line itself holds no raw control byte but its final newline */
	for (size_t i = 0; i + 1 < n; i++)
		assert_true((unsigned char)buf[i] >= 0x20);
	assert_string_equal(get_s(line, "path"), want);
	assert_string_equal(get_s(line, "msg"), "quote \" and\nnewline");
	json_t *nul = json_object_get(line, "principal\"\n");
	assert_non_null(nul);
	assert_int_equal(json_string_length(nul), 3);
	assert_memory_equal(json_string_value(nul), "a\0b", 3);
	/* control bytes as jansson writes them */
	assert_non_null(strstr(buf, "\\u0001\\u0002\\b\\t\\n\\f\\r\\u001F"));
	json_decref(line);
}

static void a_line_longer_than_the_stack_buffer_is_written_whole(void **state)
{
	static char big[20000], buf[65536];
	memset(big, 'x', sizeof(big));
	big[100] = '"'; /* escaped: the line grows while written */
	const struct cu_log_field f[] = {
	    {.key = "big", .type = CU_LOG_STR, .s = big, .len = sizeof(big)},
	};
	cu_log_fields(CU_LOG_INFO, "big", f, 1);
	json_t *line = read_line(buf, sizeof(buf), NULL);
	assert_int_equal(strlen(get_s(line, "big")), sizeof(big));
	assert_memory_equal(get_s(line, "big"), big, sizeof(big));
	json_decref(line);
}

static void jansson_fields_of_every_type_keep_their_values(void **state)
{
	char buf[4096];
	json_t *fields = json_pack(
	    "{s:s, s:I, s:f, s:b, s:b, s:n, s:{s:[i, s]}, s:[], s:s%}", "s",
	    "caf\xc3\xa9 \"q\"\t", "i", (json_int_t)-42, "r", 0.25, "t", 1, "f",
	    0, "nil", "obj", "a", 1, "two", "arr", "nul", "a\0b", (size_t)3);
	assert_non_null(fields);
	json_t *copy = json_deep_copy(fields);
	cu_log(CU_LOG_INFO, "typed", fields);
	json_t *line = read_line(buf, sizeof(buf), NULL);
	const char *key;
	json_t *v;
	json_object_foreach(copy, key, v)
	{
		assert_true(json_equal(json_object_get(line, key), v));
	}
	assert_int_equal(json_object_size(line), json_object_size(copy) + 4);
	json_decref(copy);
	json_decref(line);
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
	    cmocka_unit_test(
	        typed_fields_come_in_order_after_the_standard_ones),
	    cmocka_unit_test(typed_fields_cannot_override_the_standard_ones),
	    cmocka_unit_test(odd_strings_are_escaped_and_stay_one_valid_line),
	    cmocka_unit_test(
	        a_line_longer_than_the_stack_buffer_is_written_whole),
	    cmocka_unit_test(jansson_fields_of_every_type_keep_their_values),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
