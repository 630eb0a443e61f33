/*
 * A thread-per-connection HTTP/1.1 server for the tests of OS sampling:
 * one thread accepts, one thread per connection reads requests with
 * read(2) on its descriptor and answers each "200 ok", keeping the
 * connection alive, as eMule's Web UI server serves a connection per
 * thread. Built by the tests with cc.
 *
 * usage: tpc ADDR PORT MODE
 *   clean   SIGTERM: close the listener, shut every connection down, join
 *           every thread, then finish other work for 1 s and exit 0
 *           (so that samples see the closes while it is alive). SIGHUP:
 *           the same, and keep running.
 *   kernel  SIGTERM: exit at once; the kernel closes the connections.
 *   leak    SIGHUP: close the listener only; connection threads stay.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 4096

static int lfd;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int fds[MAXCONN];
static pthread_t threads[MAXCONN];
static int nconn;

static void *serve(void *arg) {
	int fd = (int)(long)arg;
	char buf[4096];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
		if (n <= 0)
			break;
		have += n;
		buf[have] = 0;
		char *end;
		while ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
			if (write(fd, resp, strlen(resp)) < 0)
				break;
			size_t used = end + 4 - buf;
			memmove(buf, end + 4, have - used + 1);
			have -= used;
		}
		if (have >= sizeof buf - 1)
			have = 0;
	}
	close(fd);
	return NULL;
}

static void *acceptor(void *arg) {
	(void)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&mu);
		if (nconn == MAXCONN) {
			pthread_mutex_unlock(&mu);
			close(fd);
			continue;
		}
		fds[nconn] = fd;
		pthread_create(&threads[nconn], NULL, serve, (void *)(long)fd);
		nconn++;
		pthread_mutex_unlock(&mu);
	}
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: tpc ADDR PORT clean|kernel|leak\n");
		return 2;
	}
	const char *mode = argv[3];
	/* A client that left before its answer must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0) {
		perror("listen");
		return 3;
	}
	fprintf(stderr, "listening on %s:%s\n", argv[1], argv[2]);
	pthread_t acc;
	pthread_create(&acc, NULL, acceptor, NULL);
	for (;;) {
		int sig;
		sigwait(&set, &sig);
		if (strcmp(mode, "kernel") == 0 && sig == SIGTERM)
			_exit(0);
		/* Stop admitting: accept(2) fails once the listener is shut down. */
		shutdown(lfd, SHUT_RDWR);
		pthread_join(acc, NULL);
		close(lfd);
		if (strcmp(mode, "leak") == 0)
			continue;
		pthread_mutex_lock(&mu);
		for (int i = 0; i < nconn; i++)
			shutdown(fds[i], SHUT_RDWR);
		for (int i = 0; i < nconn; i++)
			pthread_join(threads[i], NULL);
		nconn = 0;
		pthread_mutex_unlock(&mu);
		fprintf(stderr, "drained\n");
		if (sig == SIGTERM) {
			usleep(3000000); /* long enough for a sample between the closes and the exit on a busy machine */
			return 0;
		}
	}
}
