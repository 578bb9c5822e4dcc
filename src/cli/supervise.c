#include "cli/supervise.h"
#include "core/err.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void cu_sup_block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cu_sup_spawn(struct cu_sup *s, const char *name, char *const argv[],
                 const char *log_path)
{
	struct cu_sup_child *c;
	char self[4096];
	ssize_t n;
	pid_t pid;
	int fd;

	if (s->n >= CU_SUP_MAX_CHILDREN)
		return CU_ERR_RANGE;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return CU_ERR_IO;
	self[n] = '\0';
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "custos dev: cannot open %s: %s\n", log_path,
		        strerror(errno));
		return CU_ERR_IO;
	}
	pid = fork();
	if (pid < 0) {
		close(fd);
		return CU_ERR_IO;
	}
	if (pid == 0) {
		sigset_t empty;
		char *args[64];
		int i = 0;

		sigemptyset(&empty);
		sigprocmask(SIG_SETMASK, &empty, NULL);
		dup2(fd, 1);
		dup2(fd, 2);
		args[i++] = self;
		while (argv[i - 1] != NULL && i < 63) {
			args[i] = argv[i - 1];
			i++;
		}
		args[i] = NULL;
		execv(self, args);
		fprintf(stderr, "custos dev: exec %s: %s\n", self,
		        strerror(errno));
		_exit(127);
	}
	close(fd);
	c = &s->children[s->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->log, sizeof(c->log), "%s", log_path);
	c->pid = pid;
	return 0;
}

/* Reap whatever has exited, without blocking. Returns the number reaped. */
static int reap(struct cu_sup *s)
{
	int reaped = 0;
	for (int i = 0; i < s->n; i++) {
		struct cu_sup_child *c = &s->children[i];
		int st;
		if (c->exited || c->pid <= 0)
			continue;
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->exited = 1;
			c->status = st;
			reaped++;
		}
	}
	return reaped;
}

static struct cu_sup_child *find(struct cu_sup *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->children[i].name, name) == 0)
			return &s->children[i];
	return NULL;
}

static size_t discard(void *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

int cu_sup_wait_http(struct cu_sup *s, const char *name, const char *url,
                     const char *ca_file, int timeout_ms)
{
	struct cu_sup_child *c = find(s, name);
	long deadline = now_ms() + timeout_ms;
	CURL *h = curl_easy_init();
	int r = CU_ERR_TIMEOUT;

	if (h == NULL)
		return CU_ERR_NOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	while (now_ms() < deadline) {
		long code = 0;
		reap(s);
		if (c != NULL && c->exited) {
			r = CU_ERR_STATE;
			break;
		}
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) ==
		        CURLE_OK &&
		    code == 200) {
			r = 0;
			break;
		}
		usleep(50000);
	}
	curl_easy_cleanup(h);
	return r;
}

int cu_sup_wait(struct cu_sup *s)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	for (;;) {
		if (reap(s) > 0)
			return CU_ERR_STATE;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGINT || sig == SIGTERM)
			return 0;
	}
}

int cu_sup_stop_all(struct cu_sup *s, int grace_ms)
{
	long deadline = now_ms() + grace_ms;
	int clean = 1;

	for (int i = 0; i < s->n; i++) {
		struct cu_sup_child *c = &s->children[i];
		if (!c->exited && c->pid > 0)
			kill(c->pid, SIGTERM);
	}
	for (;;) {
		int running = 0;
		reap(s);
		for (int i = 0; i < s->n; i++)
			running += !s->children[i].exited;
		if (running == 0 || now_ms() >= deadline)
			break;
		usleep(20000);
	}
	for (int i = 0; i < s->n; i++) {
		struct cu_sup_child *c = &s->children[i];
		if (!c->exited && c->pid > 0) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &c->status, 0);
			c->exited = 1;
			clean = 0;
		}
		if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0)
			clean = 0;
	}
	return clean ? 0 : CU_ERR_STATE;
}
