/* lockfile.c - one process per data directory. */
#include "core/lockfile.h"
#include "core/err.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int cu_lockfile_take(const char *dir, const char *name, const char *who,
                     int *fd)
{
	char path[4096];
	int held;

	*fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return CU_ERR_RANGE;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		cu_logf(CU_LOG_ERROR, "cannot open %s: %s", path,
		        strerror(errno));
		return CU_ERR_IO;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	held = errno == EWOULDBLOCK;
	if (held)
		cu_logf(CU_LOG_ERROR,
		        "another %s is serving %s (%s is locked): stop it "
		        "first, or give this one its own --data directory",
		        who, dir, path);
	else
		cu_logf(CU_LOG_ERROR, "cannot lock %s: %s", path,
		        strerror(errno));
	close(*fd);
	*fd = -1;
	return held ? CU_ERR_STATE : CU_ERR_IO;
}
