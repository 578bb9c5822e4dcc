/* lockfile.h - one process per data directory.
 *
 * A server that keeps a memo of its database (memo.h) sees only its own
 * commits, so a second server writing the same files could change what
 * the first goes on answering from memory. Each takes an exclusive flock
 * on a lock file in its data directory and holds it until it exits (the
 * kernel lets go of it when the process dies, kill -9 included). */
#ifndef CU_CORE_LOCKFILE_H
#define CU_CORE_LOCKFILE_H

/* cu_lockfile_take - open (creating it 0600) DIR/NAME and lock it without
 * waiting, for the server `who` ("vault", "store": named in the error
 * logged when another process holds it, with what to do). *fd is the
 * caller's, open while the lock is to be held (close it to let go; -1 on
 * failure). Returns 0, CU_ERR_STATE (another process holds it),
 * CU_ERR_RANGE (path too long) or CU_ERR_IO (logged). */
int cu_lockfile_take(const char *dir, const char *name, const char *who,
                     int *fd);

#endif
