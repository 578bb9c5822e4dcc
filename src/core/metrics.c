/* metrics.c - Prometheus metrics whose updates take no lock.
 *
 * Every request updates five series, so updates are atomic operations on
 * the series (doubles kept as their bits, added with compare-and-swap)
 * and finding a series is a scan of the published ones without a lock.
 * The family's mutex is only taken to add a series: a slot is filled,
 * then published by a release store of the count that readers load with
 * acquire, and slots never move or go away while the registry lives. A
 * histogram's count is the sum of its buckets, so a scrape never shows a
 * _count that disagrees with the +Inf bucket. */
#include "core/metrics.h"
#include "core/err.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
	char *values[CU_METRICS_MAX_LABELS];
	_Atomic uint64_t value;   /* counter, gauge: bits of a double */
	_Atomic uint64_t *counts; /* histogram: per bucket, not cumulative;
	                           * +Inf last */
	_Atomic uint64_t sum;     /* histogram: bits of a double */
};

struct cu_metric {
	cu_metrics_t *reg;
	enum cu_metric_type type;
	char *name;
	char *help;
	char *labels[CU_METRICS_MAX_LABELS];
	size_t nlabels;
	double buckets[CU_METRICS_MAX_BUCKETS];
	size_t nbuckets;
	size_t max_series;
	pthread_mutex_t mu;     /* taken only to add a series */
	struct series *series;  /* max_series slots */
	_Atomic size_t nseries; /* published slots */
};

static double bits_double(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static uint64_t double_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(
	    p, &old, double_bits(bits_double(old) + v), memory_order_relaxed,
	    memory_order_relaxed))
		;
}

static double load_double(_Atomic uint64_t *p)
{
	return bits_double(atomic_load_explicit(p, memory_order_relaxed));
}

struct cu_metrics {
	pthread_mutex_t mu;
	cu_metric_t **metrics;
	size_t n, cap;
	cu_metric_t *dropped;
};

static void metric_free(cu_metric_t *mt)
{
	if (mt == NULL)
		return;
	size_t ns = atomic_load(&mt->nseries);

	for (size_t i = 0; i < ns; i++) {
		for (size_t j = 0; j < mt->nlabels; j++)
			free(mt->series[i].values[j]);
		free((void *)mt->series[i].counts);
	}
	free(mt->series);
	for (size_t j = 0; j < mt->nlabels; j++)
		free(mt->labels[j]);
	free(mt->name);
	free(mt->help);
	pthread_mutex_destroy(&mt->mu);
	free(mt);
}

void cu_metrics_free(cu_metrics_t *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		metric_free(m->metrics[i]);
	free(m->metrics);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

int cu_metrics_new(cu_metrics_t **out)
{
	cu_metrics_t *m = NULL;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return CU_ERR_NOMEM;
	pthread_mutex_init(&m->mu, NULL);
	rc = cu_metrics_register(
	    m, CU_METRIC_COUNTER, "custos_metrics_dropped_total",
	    "Metric updates dropped because a label set was full.", NULL, 0,
	    NULL, 0, 1, &m->dropped);
	if (rc != 0)
		goto out;
	*out = m;
	m = NULL;
out:
	cu_metrics_free(m);
	return rc;
}

static int valid_name(const char *s, int allow_colon)
{
	if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' ||
		      (allow_colon && c == ':')))
			return 0;
	}
	return 1;
}

int cu_metrics_register(cu_metrics_t *m, enum cu_metric_type type,
                        const char *name, const char *help,
                        const char *const *labels, size_t nlabels,
                        const double *buckets, size_t nbuckets,
                        size_t max_series, cu_metric_t **out)
{
	cu_metric_t *mt = NULL;
	int rc = CU_ERR_INVAL;
	int locked = 0;

	if (out != NULL)
		*out = NULL;
	if (m == NULL || out == NULL || !valid_name(name, 1) ||
	    nlabels > CU_METRICS_MAX_LABELS || (nlabels > 0 && labels == NULL))
		goto out;
	if (type != CU_METRIC_COUNTER && type != CU_METRIC_GAUGE &&
	    type != CU_METRIC_HISTOGRAM)
		goto out;
	if (type == CU_METRIC_HISTOGRAM) {
		if (nbuckets == 0 || nbuckets > CU_METRICS_MAX_BUCKETS ||
		    buckets == NULL)
			goto out;
		for (size_t i = 0; i < nbuckets; i++) {
			if (isnan(buckets[i]) || isinf(buckets[i]) ||
			    (i > 0 && !(buckets[i] > buckets[i - 1])))
				goto out;
		}
	} else if (nbuckets != 0) {
		goto out;
	}
	for (size_t i = 0; i < nlabels; i++) {
		if (!valid_name(labels[i], 0) || strcmp(labels[i], "le") == 0)
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(labels[i], labels[j]) == 0)
				goto out;
		}
	}
	if (max_series == 0)
		max_series = CU_METRICS_DEFAULT_SERIES;
	if (nlabels == 0)
		max_series = 1;
	rc = CU_ERR_NOMEM;
	mt = calloc(1, sizeof(*mt));
	if (mt == NULL)
		goto out;
	pthread_mutex_init(&mt->mu, NULL);
	atomic_init(&mt->nseries, 0);
	mt->reg = m;
	mt->type = type;
	mt->max_series = max_series;
	mt->name = strdup(name);
	mt->help = strdup(help != NULL ? help : "");
	mt->series = calloc(max_series, sizeof(*mt->series));
	if (mt->name == NULL || mt->help == NULL || mt->series == NULL)
		goto out;
	for (size_t i = 0; i < nlabels; i++) {
		if ((mt->labels[i] = strdup(labels[i])) == NULL)
			goto out;
		mt->nlabels++;
	}
	for (size_t i = 0; i < nbuckets; i++)
		mt->buckets[i] = buckets[i];
	mt->nbuckets = nbuckets;

	pthread_mutex_lock(&m->mu);
	locked = 1;
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->metrics[i]->name, name) == 0) {
			rc = CU_ERR_EXISTS;
			goto out;
		}
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		cu_metric_t **nm = realloc(m->metrics, cap * sizeof(*nm));
		if (nm == NULL)
			goto out;
		m->metrics = nm;
		m->cap = cap;
	}
	m->metrics[m->n++] = mt;
	*out = mt;
	mt = NULL;
	rc = 0;
out:
	if (locked)
		pthread_mutex_unlock(&m->mu);
	metric_free(mt);
	return rc;
}

/* The published series for `values` among the first `from`..n slots,
 * or NULL. */
static struct series *scan_series(cu_metric_t *mt, const char *const *values,
                                  size_t from, size_t n)
{
	for (size_t i = from; i < n; i++) {
		size_t j;
		for (j = 0; j < mt->nlabels; j++) {
			if (strcmp(mt->series[i].values[j], values[j]) != 0)
				break;
		}
		if (j == mt->nlabels)
			return &mt->series[i];
	}
	return NULL;
}

/* Fill and publish a new slot; caller holds mt->mu and has checked that
 * no published series has these values. */
static int add_series(cu_metric_t *mt, const char *const *values,
                      struct series **out)
{
	size_t n = atomic_load_explicit(&mt->nseries, memory_order_relaxed);
	struct series *s;

	if (n == mt->max_series)
		return CU_ERR_RANGE;
	s = &mt->series[n];
	memset(s->values, 0, sizeof(s->values));
	atomic_init(&s->value, double_bits(0.0));
	atomic_init(&s->sum, double_bits(0.0));
	s->counts = NULL;
	if (mt->type == CU_METRIC_HISTOGRAM) {
		s->counts = malloc((mt->nbuckets + 1) * sizeof(*s->counts));
		if (s->counts == NULL)
			return CU_ERR_NOMEM;
		for (size_t b = 0; b <= mt->nbuckets; b++)
			atomic_init(&s->counts[b], 0);
	}
	for (size_t j = 0; j < mt->nlabels; j++) {
		s->values[j] = strdup(values[j]);
		if (s->values[j] == NULL) {
			for (size_t k = 0; k < j; k++)
				free(s->values[k]);
			free((void *)s->counts);
			s->counts = NULL;
			return CU_ERR_NOMEM;
		}
	}
	atomic_store_explicit(&mt->nseries, n + 1, memory_order_release);
	*out = s;
	return 0;
}

/* Find or create the series for `values`. Returns 0 and *out,
 * CU_ERR_INVAL, CU_ERR_RANGE (label set full) or CU_ERR_NOMEM. With
 * create 0, CU_ERR_NOTFOUND instead of creating. */
static int find_series(cu_metric_t *mt, const char *const *values, int create,
                       struct series **out)
{
	size_t n, n2;
	int rc = 0;

	if (mt->nlabels > 0 && values == NULL)
		return CU_ERR_INVAL;
	for (size_t i = 0; i < mt->nlabels; i++) {
		if (values[i] == NULL)
			return CU_ERR_INVAL;
	}
	n = atomic_load_explicit(&mt->nseries, memory_order_acquire);
	if ((*out = scan_series(mt, values, 0, n)) != NULL)
		return 0;
	if (!create)
		return CU_ERR_NOTFOUND;
	pthread_mutex_lock(&mt->mu);
	/* another thread may have added it since */
	n2 = atomic_load_explicit(&mt->nseries, memory_order_acquire);
	if ((*out = scan_series(mt, values, n, n2)) == NULL)
		rc = add_series(mt, values, out);
	pthread_mutex_unlock(&mt->mu);
	return rc;
}

static void note_drop(cu_metric_t *mt, int rc)
{
	if (rc == CU_ERR_RANGE && mt->reg != NULL && mt->reg->dropped != mt)
		(void)cu_metrics_add(mt->reg->dropped, NULL, 1);
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static int update(cu_metric_t *mt, const char *const *values, double v,
                  enum op op)
{
	struct series *s;
	int rc;

	if (mt == NULL || isnan(v))
		return CU_ERR_INVAL;
	switch (op) {
	case OP_ADD:
		if (mt->type == CU_METRIC_HISTOGRAM ||
		    (mt->type == CU_METRIC_COUNTER && v < 0))
			return CU_ERR_INVAL;
		break;
	case OP_SET:
		if (mt->type != CU_METRIC_GAUGE)
			return CU_ERR_INVAL;
		break;
	case OP_OBSERVE:
		if (mt->type != CU_METRIC_HISTOGRAM)
			return CU_ERR_INVAL;
		break;
	}
	rc = find_series(mt, values, 1, &s);
	if (rc == 0) {
		if (op == OP_ADD) {
			atomic_add_double(&s->value, v);
		} else if (op == OP_SET) {
			atomic_store_explicit(&s->value, double_bits(v),
			                      memory_order_relaxed);
		} else {
			size_t b = 0;
			while (b < mt->nbuckets && v > mt->buckets[b])
				b++;
			atomic_fetch_add_explicit(&s->counts[b], 1,
			                          memory_order_relaxed);
			atomic_add_double(&s->sum, v);
		}
	}
	note_drop(mt, rc);
	return rc;
}

int cu_metrics_add(cu_metric_t *mt, const char *const *values, double delta)
{
	return update(mt, values, delta, OP_ADD);
}

int cu_metrics_set(cu_metric_t *mt, const char *const *values, double v)
{
	return update(mt, values, v, OP_SET);
}

int cu_metrics_observe(cu_metric_t *mt, const char *const *values, double v)
{
	return update(mt, values, v, OP_OBSERVE);
}

static uint64_t histogram_count(const cu_metric_t *mt, struct series *s)
{
	uint64_t n = 0;

	for (size_t b = 0; b <= mt->nbuckets; b++)
		n += atomic_load_explicit(&s->counts[b], memory_order_relaxed);
	return n;
}

int cu_metrics_value(cu_metric_t *mt, const char *const *values, double *out)
{
	struct series *s;
	int rc;

	if (mt == NULL || out == NULL)
		return CU_ERR_INVAL;
	rc = find_series(mt, values, 0, &s);
	if (rc == 0)
		*out = mt->type == CU_METRIC_HISTOGRAM
		           ? (double)histogram_count(mt, s)
		           : load_double(&s->value);
	return rc;
}

static void put_number(FILE *f, double v)
{
	if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else if (isnan(v))
		fputs("NaN", f);
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.17g", v);
}

/* Label values: backslash, double quote and newline escaped. HELP text:
 * backslash and newline. */
static void put_escaped(FILE *f, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void put_labels(FILE *f, const cu_metric_t *mt, const struct series *s,
                       const char *le)
{
	if (mt->nlabels == 0 && le == NULL)
		return;
	fputc('{', f);
	for (size_t j = 0; j < mt->nlabels; j++) {
		fprintf(f, "%s%s=\"", j ? "," : "", mt->labels[j]);
		put_escaped(f, s->values[j], 1);
		fputc('"', f);
	}
	if (le != NULL)
		fprintf(f, "%sle=\"%s\"", mt->nlabels ? "," : "", le);
	fputc('}', f);
}

static void render_metric(FILE *f, cu_metric_t *mt)
{
	static const char *const type_names[] = {"", "counter", "gauge",
	                                         "histogram"};

	size_t ns = atomic_load_explicit(&mt->nseries, memory_order_acquire);

	fprintf(f, "# HELP %s ", mt->name);
	put_escaped(f, mt->help, 0);
	fprintf(f, "\n# TYPE %s %s\n", mt->name, type_names[mt->type]);
	for (size_t i = 0; i < ns; i++) {
		struct series *s = &mt->series[i];
		if (mt->type != CU_METRIC_HISTOGRAM) {
			fputs(mt->name, f);
			put_labels(f, mt, s, NULL);
			fputc(' ', f);
			put_number(f, load_double(&s->value));
			fputc('\n', f);
			continue;
		}
		uint64_t cum = 0;
		for (size_t b = 0; b <= mt->nbuckets; b++) {
			char le[64];
			cum += atomic_load_explicit(&s->counts[b],
			                            memory_order_relaxed);
			if (b < mt->nbuckets)
				snprintf(le, sizeof(le), "%.15g",
				         mt->buckets[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			fprintf(f, "%s_bucket", mt->name);
			put_labels(f, mt, s, le);
			fprintf(f, " %llu\n", (unsigned long long)cum);
		}
		fprintf(f, "%s_sum", mt->name);
		put_labels(f, mt, s, NULL);
		fputc(' ', f);
		put_number(f, load_double(&s->sum));
		fprintf(f, "\n%s_count", mt->name);
		put_labels(f, mt, s, NULL);
		/* the +Inf bucket: the same snapshot, so they always agree */
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
}

int cu_metrics_render(cu_metrics_t *m, char **out, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int rc = CU_ERR_NOMEM;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (m == NULL)
		return CU_ERR_INVAL;
	f = open_memstream(&buf, &size);
	if (f == NULL)
		return CU_ERR_NOMEM;
	/* Families are never removed while the registry lives, so holding
	 * the registry lock while rendering each one is only for the list. */
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++)
		render_metric(f, m->metrics[i]);
	pthread_mutex_unlock(&m->mu);
	if (ferror(f)) {
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0)
		goto out;
	*out = buf;
	buf = NULL;
	if (len != NULL)
		*len = size;
	rc = 0;
out:
	free(buf);
	return rc;
}
