/* metrics.h - Prometheus counters, gauges and histograms with labels.
 *
 * A registry holds metric families; each family has fixed label names and
 * at most `max_series` label-value combinations (a bounded label set:
 * values from the network must never create series without bound). A
 * combination past the bound is dropped and counted in the registry's own
 * family `custos_metrics_dropped_total`. Every call is thread-safe.
 *
 * Rendering follows the text exposition format 0.0.4: `# HELP`, `# TYPE`,
 * then one line per series; histograms as _bucket{le=...}, _sum, _count. */
#ifndef CU_METRICS_H
#define CU_METRICS_H

#include <stddef.h>

typedef struct cu_metrics cu_metrics_t;
typedef struct cu_metric cu_metric_t;

#define CU_METRICS_MAX_LABELS     4
#define CU_METRICS_MAX_BUCKETS    32
#define CU_METRICS_DEFAULT_SERIES 64

enum cu_metric_type {
	CU_METRIC_COUNTER = 1,
	CU_METRIC_GAUGE = 2,
	CU_METRIC_HISTOGRAM = 3,
};

/* cu_metrics_new - an empty registry. Returns 0 and *out (free with
 * cu_metrics_free), or CU_ERR_NOMEM. */
int cu_metrics_new(cu_metrics_t **out);

/* cu_metrics_free - free the registry and its families. NULL ok. Metric
 * handles from it become invalid. */
void cu_metrics_free(cu_metrics_t *m);

/* cu_metrics_register - add a family. `name` must match
 * [a-zA-Z_:][a-zA-Z0-9_:]* and be new in the registry; `help` is one line
 * of text; `labels` has nlabels (<= CU_METRICS_MAX_LABELS) label names
 * matching [a-zA-Z_][a-zA-Z0-9_]* and not "le"; histograms take `buckets`
 * (nbuckets <= CU_METRICS_MAX_BUCKETS upper bounds, strictly increasing;
 * +Inf is implicit), others pass NULL and 0. max_series 0 means
 * CU_METRICS_DEFAULT_SERIES. Everything is copied. Returns 0 and *out (a
 * handle owned by the registry), CU_ERR_INVAL, CU_ERR_EXISTS (name taken),
 * or CU_ERR_NOMEM. */
int cu_metrics_register(cu_metrics_t *m, enum cu_metric_type type,
                        const char *name, const char *help,
                        const char *const *labels, size_t nlabels,
                        const double *buckets, size_t nbuckets,
                        size_t max_series, cu_metric_t **out);

/* The updates below take `values`: one label value per label name, in the
 * registered order (NULL when there are no labels). Each returns 0,
 * CU_ERR_INVAL (wrong kind of metric, negative counter increment, NaN),
 * CU_ERR_RANGE (a new label combination past max_series: dropped), or
 * CU_ERR_NOMEM. */

/* cu_metrics_add - counter: add delta >= 0; gauge: add any delta. */
int cu_metrics_add(cu_metric_t *metric, const char *const *values,
                   double delta);

/* cu_metrics_set - gauge only: set the value. */
int cu_metrics_set(cu_metric_t *metric, const char *const *values, double v);

/* cu_metrics_observe - histogram only: record one observation. */
int cu_metrics_observe(cu_metric_t *metric, const char *const *values,
                       double v);

/* cu_metrics_value - a counter or gauge series' current value, or a
 * histogram series' count, into *out. Returns 0, CU_ERR_NOTFOUND (no such
 * series yet), or CU_ERR_INVAL. For tests and health checks. */
int cu_metrics_value(cu_metric_t *metric, const char *const *values,
                     double *out);

/* cu_metrics_render - the whole registry in the text format. Returns 0 and
 * *out (NUL-terminated, caller frees) with *len its length (len may be
 * NULL), or CU_ERR_NOMEM. */
int cu_metrics_render(cu_metrics_t *m, char **out, size_t *len);

#endif
