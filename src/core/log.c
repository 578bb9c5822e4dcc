#include "core/log.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char component[32] = "custos";
static int min_level = CU_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cu_log_init(const char *name, int level, int fd)
{
	if (name != NULL)
		snprintf(component, sizeof(component), "%s", name);
	if (level >= CU_LOG_DEBUG && level <= CU_LOG_ERROR)
		min_level = level;
	if (fd >= 0)
		log_fd = fd;
}

int cu_log_level_parse(const char *s, int *level)
{
	for (int i = 0; i < 4; i++) {
		if (s != NULL && strcmp(s, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return CU_ERR_INVAL;
}

int cu_log_enabled(int level)
{
	return level >= min_level;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n <= 0)
			return; /* a log that cannot be written must not stop
			           work */
		buf += n;
		len -= (size_t)n;
	}
}

void cu_log(int level, const char *msg, json_t *fields)
{
	json_t *line = NULL;
	char *text = NULL;
	char ts[64];
	struct timespec now;
	struct tm tm;

	if (level < CU_LOG_DEBUG || level > CU_LOG_ERROR)
		level = CU_LOG_ERROR;
	if (!cu_log_enabled(level))
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, (int)(now.tv_nsec / 1000000));
	line = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level",
	                 level_names[level], "component", component, "msg",
	                 msg != NULL ? msg : "");
	if (line == NULL)
		goto out;
	if (fields != NULL && json_is_object(fields))
		json_object_update_missing(line, fields);
	text = json_dumps(line, JSON_COMPACT);
	if (text == NULL)
		goto out;
	size_t len = strlen(text);
	/* one write per line so concurrent threads never interleave */
	char *buf = malloc(len + 1);
	if (buf == NULL)
		goto out;
	memcpy(buf, text, len);
	buf[len] = '\n';
	write_all(log_fd, buf, len + 1);
	free(buf);
out:
	free(text);
	json_decref(line);
	json_decref(fields);
}

void cu_logf(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!cu_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cu_log(level, msg, NULL);
}
