/* Unit tests for core/metrics: types, labels, bounds, text format. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/metrics.h"

static char *render(cu_metrics_t *m)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(cu_metrics_render(m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void counters_with_labels_render_in_text_format(void **state)
{
	cu_metrics_t *m = NULL;
	cu_metric_t *c = NULL;
	const char *labels[] = {"method", "code"};
	double v;

	assert_int_equal(cu_metrics_new(&m), 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_COUNTER,
	                                     "http_requests_total",
	                                     "Requests.\nSecond line \\",
	                                     labels, 2, NULL, 0, 0, &c),
	                 0);
	assert_int_equal(cu_metrics_add(c, (const char *[]){"GET", "200"}, 1),
	                 0);
	assert_int_equal(cu_metrics_add(c, (const char *[]){"GET", "200"}, 2),
	                 0);
	assert_int_equal(
	    cu_metrics_add(c, (const char *[]){"P\"U\\T\n", "500"}, 1), 0);
	assert_int_equal(cu_metrics_add(c, (const char *[]){"GET", "200"}, -1),
	                 CU_ERR_INVAL);
	assert_int_equal(
	    cu_metrics_value(c, (const char *[]){"GET", "200"}, &v), 0);
	assert_true(v == 3.0);
	assert_int_equal(
	    cu_metrics_value(c, (const char *[]){"GET", "404"}, &v),
	    CU_ERR_NOTFOUND);
	char *t = render(m);
	assert_non_null(strstr(t,
	                       "# HELP http_requests_total Requests.\\nSecond "
	                       "line \\\\\n"));
	assert_non_null(strstr(t, "# TYPE http_requests_total counter\n"));
	assert_non_null(
	    strstr(t, "http_requests_total{method=\"GET\",code=\"200\"} 3\n"));
	assert_non_null(strstr(t,
	                       "http_requests_total{method=\"P\\\"U\\\\T\\n\","
	                       "code=\"500\"} 1\n"));
	free(t);
	cu_metrics_free(m);
}

static void gauges_go_up_and_down_and_can_be_set(void **state)
{
	cu_metrics_t *m = NULL;
	cu_metric_t *g = NULL;

	assert_int_equal(cu_metrics_new(&m), 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_GAUGE, "in_flight",
	                                     "x", NULL, 0, NULL, 0, 0, &g),
	                 0);
	assert_int_equal(cu_metrics_add(g, NULL, 2), 0);
	assert_int_equal(cu_metrics_add(g, NULL, -3), 0);
	char *t = render(m);
	assert_non_null(strstr(t, "\nin_flight -1\n"));
	free(t);
	assert_int_equal(cu_metrics_set(g, NULL, 0.25), 0);
	t = render(m);
	assert_non_null(strstr(t, "\nin_flight 0.25\n"));
	free(t);
	assert_int_equal(cu_metrics_observe(g, NULL, 1), CU_ERR_INVAL);
	cu_metrics_free(m);
}

static void histograms_have_cumulative_buckets_sum_and_count(void **state)
{
	cu_metrics_t *m = NULL;
	cu_metric_t *h = NULL;
	const double b[] = {0.1, 1, 10};
	const char *l[] = {"route"};

	assert_int_equal(cu_metrics_new(&m), 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_HISTOGRAM, "lat_s",
	                                     "latency", l, 1, b, 3, 0, &h),
	                 0);
	assert_int_equal(cu_metrics_observe(h, (const char *[]){"a"}, 0.05), 0);
	assert_int_equal(cu_metrics_observe(h, (const char *[]){"a"}, 0.1), 0);
	assert_int_equal(cu_metrics_observe(h, (const char *[]){"a"}, 5), 0);
	assert_int_equal(cu_metrics_observe(h, (const char *[]){"a"}, 100), 0);
	char *t = render(m);
	assert_non_null(strstr(t, "# TYPE lat_s histogram\n"));
	assert_non_null(strstr(t, "lat_s_bucket{route=\"a\",le=\"0.1\"} 2\n"));
	assert_non_null(strstr(t, "lat_s_bucket{route=\"a\",le=\"1\"} 2\n"));
	assert_non_null(strstr(t, "lat_s_bucket{route=\"a\",le=\"10\"} 3\n"));
	assert_non_null(strstr(t, "lat_s_bucket{route=\"a\",le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(t, "lat_s_sum{route=\"a\"} 105.15"));
	assert_non_null(strstr(t, "lat_s_count{route=\"a\"} 4\n"));
	free(t);
	assert_int_equal(cu_metrics_add(h, (const char *[]){"a"}, 1),
	                 CU_ERR_INVAL);
	cu_metrics_free(m);
}

static void label_sets_are_bounded_and_drops_counted(void **state)
{
	cu_metrics_t *m = NULL;
	cu_metric_t *c = NULL;
	const char *l[] = {"k"};
	char v[16];

	assert_int_equal(cu_metrics_new(&m), 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_COUNTER, "c_total",
	                                     "c", l, 1, NULL, 0, 3, &c),
	                 0);
	for (int i = 0; i < 3; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		assert_int_equal(cu_metrics_add(c, (const char *[]){v}, 1), 0);
	}
	assert_int_equal(cu_metrics_add(c, (const char *[]){"v9"}, 1),
	                 CU_ERR_RANGE);
	assert_int_equal(cu_metrics_add(c, (const char *[]){"v1"}, 1), 0);
	char *t = render(m);
	assert_non_null(strstr(t, "custos_metrics_dropped_total 1\n"));
	assert_null(strstr(t, "v9"));
	free(t);
	cu_metrics_free(m);
}

static void bad_registrations_are_refused(void **state)
{
	cu_metrics_t *m = NULL;
	cu_metric_t *c = NULL;
	const double unsorted[] = {1, 0.5};
	const char *le[] = {"le"};
	const char *dup[] = {"a", "a"};

	assert_int_equal(cu_metrics_new(&m), 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_COUNTER, "1bad", "",
	                                     NULL, 0, NULL, 0, 0, &c),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_COUNTER, "a-b", "",
	                                     NULL, 0, NULL, 0, 0, &c),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_HISTOGRAM, "h", "",
	                                     NULL, 0, unsorted, 2, 0, &c),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_HISTOGRAM, "h", "",
	                                     le, 1, unsorted, 1, 0, &c),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_GAUGE, "g", "", dup,
	                                     2, NULL, 0, 0, &c),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_GAUGE, "g", "", NULL,
	                                     0, NULL, 0, 0, &c),
	                 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_GAUGE, "g", "", NULL,
	                                     0, NULL, 0, 0, &c),
	                 CU_ERR_EXISTS);
	cu_metrics_free(m);
	cu_metrics_free(NULL);
}

static cu_metric_t *shared;

static void *hammer(void *arg)
{
	for (int i = 0; i < 10000; i++)
		(void)cu_metrics_add(shared,
		                     (const char *[]){(const char *)arg}, 1);
	return NULL;
}

static void concurrent_updates_are_not_lost(void **state)
{
	cu_metrics_t *m = NULL;
	const char *l[] = {"t"};
	pthread_t th[4];
	const char *names[] = {"a", "b", "a", "b"};
	double v;

	assert_int_equal(cu_metrics_new(&m), 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_COUNTER, "n_total",
	                                     "n", l, 1, NULL, 0, 0, &shared),
	                 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, (void *)names[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(cu_metrics_value(shared, (const char *[]){"a"}, &v),
	                 0);
	assert_true(v == 20000.0);
	cu_metrics_free(m);
}

/* Many threads, each adding its own new label sets (so series are
 * created while others are read without a lock), the same shared ones,
 * a gauge and a histogram: nothing lost, no series made twice. */
static cu_metric_t *h_counter, *h_gauge, *h_hist;

static void *hammer_all(void *arg)
{
	long id = (long)arg;
	char own[16];

	for (int i = 0; i < 20000; i++) {
		snprintf(own, sizeof(own), "t%ld-%d", id, i % 8);
		(void)cu_metrics_add(h_counter, (const char *[]){own}, 1);
		(void)cu_metrics_add(h_counter, (const char *[]){"shared"},
		                     0.5);
		(void)cu_metrics_add(h_gauge, NULL, 1);
		(void)cu_metrics_add(h_gauge, NULL, -1);
		(void)cu_metrics_observe(h_hist, NULL, (i % 3) * 0.5);
	}
	return NULL;
}

static void concurrent_series_creation_and_updates_agree(void **state)
{
	cu_metrics_t *m = NULL;
	const char *l[] = {"t"};
	const double b[] = {0.25, 0.75};
	pthread_t th[6];
	double v;
	char name[16], *text;

	assert_int_equal(cu_metrics_new(&m), 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_COUNTER, "c_total",
	                                     "c", l, 1, NULL, 0, 64,
	                                     &h_counter),
	                 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_GAUGE, "g", "g", NULL,
	                                     0, NULL, 0, 0, &h_gauge),
	                 0);
	assert_int_equal(cu_metrics_register(m, CU_METRIC_HISTOGRAM, "h", "h",
	                                     NULL, 0, b, 2, 0, &h_hist),
	                 0);
	for (long i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, hammer_all, (void *)i);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	for (long i = 0; i < 6; i++) {
		for (int k = 0; k < 8; k++) {
			snprintf(name, sizeof(name), "t%ld-%d", i, k);
			assert_int_equal(
			    cu_metrics_value(h_counter, (const char *[]){name},
			                     &v),
			    0);
			assert_true(v == 2500.0);
		}
	}
	assert_int_equal(
	    cu_metrics_value(h_counter, (const char *[]){"shared"}, &v), 0);
	assert_true(v == 60000.0);
	assert_int_equal(cu_metrics_value(h_gauge, NULL, &v), 0);
	assert_true(v == 0.0);
	assert_int_equal(cu_metrics_value(h_hist, NULL, &v), 0);
	assert_true(v == 120000.0);
	text = render(m);
	/* each label set once: 48 own + shared */
	size_t lines = 0;
	for (char *p = text; (p = strstr(p, "\nc_total{")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 49);
	/* values 0, 0.5 and 1 in turn: 40002, 40002 and 39996 of them */
	assert_non_null(strstr(text, "h_bucket{le=\"0.25\"} 40002\n"));
	assert_non_null(strstr(text, "h_bucket{le=\"0.75\"} 80004\n"));
	assert_non_null(strstr(text, "h_bucket{le=\"+Inf\"} 120000\n"));
	assert_non_null(strstr(text, "h_count 120000\n"));
	assert_non_null(strstr(text, "h_sum 59997\n"));
	free(text);
	cu_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counters_with_labels_render_in_text_format),
	    cmocka_unit_test(gauges_go_up_and_down_and_can_be_set),
	    cmocka_unit_test(histograms_have_cumulative_buckets_sum_and_count),
	    cmocka_unit_test(label_sets_are_bounded_and_drops_counted),
	    cmocka_unit_test(bad_registrations_are_refused),
	    cmocka_unit_test(concurrent_updates_are_not_lost),
	    cmocka_unit_test(concurrent_series_creation_and_updates_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
