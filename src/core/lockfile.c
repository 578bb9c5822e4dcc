/* lockfile.c - one process per data directory. */
#include "core/lockfile.h"
#include "core/err.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int cu_lockfile_take(const char *path, int *fd)
{
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		cu_logf(CU_LOG_ERROR, "cannot open %s: %s", path,
		        strerror(errno));
		return CU_ERR_IO;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	close(*fd);
	*fd = -1;
	return errno == EWOULDBLOCK ? CU_ERR_STATE : CU_ERR_IO;
}
