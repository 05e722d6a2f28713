//go:build ignore

/*
 * cpgclient - a CPG client linked against the distribution's libcpg, driven
 * by a line protocol on stdin/stdout. Built and driven by the Go package
 * github.com/corogo/corogo/internal/interop/libcpg (see doc.go there for the
 * full protocol).
 *
 *   usage: cpgclient [-w SECONDS]
 *
 * The "//go:build ignore" line above keeps the go tool from rejecting this
 * file as cgo source in a package without cgo: it is only embedded, and
 * compiled with gcc by Build.
 *
 * -w: how long cpg_model_initialize is retried while the daemon is not up
 * (CS_ERR_LIBRARY / CS_ERR_TRY_AGAIN); default 10, fractions allowed.
 *
 * Commands (stdin, one per line):
 *   join GROUP      cpg_join (GROUP %XX-escaped, see below)
 *   leave           cpg_leave of the joined group
 *   send TEXT       cpg_mcast_joined(CPG_TYPE_AGREED), payload = TEXT
 *                   (everything after "send "; "send" alone = empty payload)
 *   sendhex HEX     same with a hex payload ("-" or nothing = empty)
 *   members         cpg_membership_get of the joined group
 *   local           cpg_local_get
 *   quit            cpg_finalize, print "OK quit", exit 0
 * End of stdin acts as quit without the reply.
 *
 * Output (stdout, one line per event, flushed at once):
 *   READY nodeid pid
 *   OK cmd | ERR cmd code          (code: cs_error_t, or -1 for a bad command)
 *   MEMBERS n nodeid:pid ...       (before "OK members")
 *   LOCAL nodeid                   (before "OK local")
 *   DELIVER group nodeid pid len hex|-
 *   CONFCHG group members=N:P,... left=N:P:R,... joined=N:P:R,...  (- = empty)
 *   TOTEM ringnodeid.ringseq members=N,N,...|-   (ring id in hex: 1.d)
 *   FATAL message                  (then exit 2)
 *
 * Group names are printed with every byte outside '!'..'~' and '%' written
 * as %XX (upper-case hex); the join argument is decoded the same way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cpg.h>

#define MAX_LINE (16 * 1024 * 1024)
#define SEND_RETRY_MS 10000

static cpg_handle_t handle;
static int handle_ok;
static struct cpg_name joined_group;

static void out_flush(void)
{
	if (fflush(stdout) != 0) {
		/* nobody reads us any more: nothing left to report to */
		if (handle_ok)
			cpg_finalize(handle);
		_exit(2);
	}
}

static void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("FATAL ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	if (handle_ok)
		cpg_finalize(handle);
	exit(2);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* print a token with bytes outside '!'..'~' and '%' as %XX */
static void put_escaped(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '%')
			printf("%%%02X", s[i]);
		else
			putchar(s[i]);
	}
}

static void put_group(const struct cpg_name *g)
{
	size_t n = g->length;

	if (n > CPG_MAX_NAME_LENGTH)
		n = CPG_MAX_NAME_LENGTH;
	put_escaped((const unsigned char *)g->value, n);
}

static void put_hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (n == 0) {
		putchar('-');
		return;
	}
	for (i = 0; i < n; i++) {
		putchar(digits[p[i] >> 4]);
		putchar(digits[p[i] & 15]);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* decode %XX escapes of s into g; 0 on success */
static int decode_group(const char *s, struct cpg_name *g)
{
	size_t n = 0;

	memset(g, 0, sizeof(*g));
	while (*s) {
		int c = (unsigned char)*s;

		if (c == '%') {
			int hi = hexval((unsigned char)s[1]), lo;

			if (hi < 0)
				return -1;
			lo = hexval((unsigned char)s[2]);
			if (lo < 0)
				return -1;
			c = hi << 4 | lo;
			s += 3;
		} else {
			s++;
		}
		if (n >= CPG_MAX_NAME_LENGTH)
			return -1;
		g->value[n++] = (char)c;
	}
	if (n == 0)
		return -1;
	g->length = (uint32_t)n;
	return 0;
}

static void put_addrs(const char *label, const struct cpg_address *a, size_t n, int with_reason)
{
	size_t i;

	printf(" %s=", label);
	if (n == 0) {
		putchar('-');
		return;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		if (with_reason)
			printf("%" PRIu32 ":%" PRIu32 ":%" PRIu32, a[i].nodeid, a[i].pid, a[i].reason);
		else
			printf("%" PRIu32 ":%" PRIu32, a[i].nodeid, a[i].pid);
	}
}

static void deliver_fn(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
		       void *msg, size_t msg_len)
{
	(void)h;
	fputs("DELIVER ", stdout);
	put_group(group);
	printf(" %" PRIu32 " %" PRIu32 " %zu ", nodeid, pid, msg_len);
	put_hex(msg, msg_len);
	putchar('\n');
	out_flush();
}

static void confchg_fn(cpg_handle_t h, const struct cpg_name *group,
		       const struct cpg_address *members, size_t n_members,
		       const struct cpg_address *left, size_t n_left,
		       const struct cpg_address *joined, size_t n_joined)
{
	(void)h;
	fputs("CONFCHG ", stdout);
	put_group(group);
	put_addrs("members", members, n_members, 0);
	put_addrs("left", left, n_left, 1);
	put_addrs("joined", joined, n_joined, 1);
	putchar('\n');
	out_flush();
}

static void totem_fn(cpg_handle_t h, struct cpg_ring_id ring_id, uint32_t n, const uint32_t *list)
{
	uint32_t i;

	(void)h;
	printf("TOTEM %" PRIx32 ".%" PRIx64 " members=", ring_id.nodeid, ring_id.seq);
	if (n == 0)
		putchar('-');
	for (i = 0; i < n; i++)
		printf(i ? ",%" PRIu32 : "%" PRIu32, list[i]);
	putchar('\n');
	out_flush();
}

static void dispatch_all(void)
{
	cs_error_t err = cpg_dispatch(handle, CS_DISPATCH_ALL);

	if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
		fatal("cpg_dispatch: error %d", (int)err);
}

static void reply(const char *cmd, cs_error_t err)
{
	if (err == CS_OK)
		printf("OK %s\n", cmd);
	else
		printf("ERR %s %d\n", cmd, (int)err);
	out_flush();
}

static void reply_bad(const char *cmd)
{
	fputs("ERR ", stdout);
	if (cmd[0] == '\0')
		putchar('-');
	else
		put_escaped((const unsigned char *)cmd, strlen(cmd));
	fputs(" -1\n", stdout);
	out_flush();
}

/* multicast one message, retrying CS_ERR_TRY_AGAIN while dispatching */
static cs_error_t mcast(const void *buf, size_t len)
{
	struct iovec iov;
	int64_t deadline = now_ms() + SEND_RETRY_MS;
	int fd = -1;
	cs_error_t err;

	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	for (;;) {
		err = cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1);
		if (err != CS_ERR_TRY_AGAIN || now_ms() >= deadline)
			return err;
		if (fd < 0 && cpg_fd_get(handle, &fd) != CS_OK)
			fatal("cpg_fd_get failed while retrying send");
		{
			struct pollfd p = {.fd = fd, .events = POLLIN};

			if (poll(&p, 1, 5) > 0)
				dispatch_all();
		}
	}
}

static int decode_hex(const char *s, unsigned char **out, size_t *len)
{
	size_t n = strlen(s), i;
	unsigned char *b;

	*out = NULL;
	*len = 0;
	if (n == 0 || strcmp(s, "-") == 0)
		return 0;
	if (n % 2)
		return -1;
	b = malloc(n / 2);
	if (!b)
		fatal("out of memory");
	for (i = 0; i < n / 2; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(b);
			return -1;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = b;
	*len = n / 2;
	return 0;
}

/* run one command line (without its newline); returns 1 to quit */
static int command(char *line)
{
	char *arg = strchr(line, ' ');
	cs_error_t err;

	if (arg)
		*arg++ = '\0';
	else
		arg = line + strlen(line); /* empty argument */

	if (line[0] == '\0' && arg == line)
		return 0; /* empty line: ignored */

	if (strcmp(line, "join") == 0) {
		struct cpg_name g;

		if (decode_group(arg, &g) != 0) {
			reply_bad(line);
			return 0;
		}
		err = cpg_join(handle, &g);
		if (err == CS_OK)
			joined_group = g;
		reply(line, err);
	} else if (strcmp(line, "leave") == 0) {
		err = cpg_leave(handle, &joined_group);
		reply(line, err);
	} else if (strcmp(line, "send") == 0) {
		reply(line, mcast(arg, strlen(arg)));
	} else if (strcmp(line, "sendhex") == 0) {
		unsigned char *b;
		size_t n;

		if (decode_hex(arg, &b, &n) != 0) {
			reply_bad(line);
			return 0;
		}
		err = mcast(b ? (void *)b : (void *)"", n);
		free(b);
		reply(line, err);
	} else if (strcmp(line, "members") == 0) {
		struct cpg_address list[CPG_MEMBERS_MAX];
		int n = CPG_MEMBERS_MAX, i;

		err = cpg_membership_get(handle, &joined_group, list, &n);
		if (err == CS_OK) {
			printf("MEMBERS %d", n);
			for (i = 0; i < n; i++)
				printf(" %" PRIu32 ":%" PRIu32, list[i].nodeid, list[i].pid);
			putchar('\n');
		}
		reply(line, err);
	} else if (strcmp(line, "local") == 0) {
		unsigned int nodeid = 0;

		err = cpg_local_get(handle, &nodeid);
		if (err == CS_OK)
			printf("LOCAL %u\n", nodeid);
		reply(line, err);
	} else if (strcmp(line, "quit") == 0) {
		cpg_finalize(handle);
		handle_ok = 0;
		reply(line, CS_OK);
		return 1;
	} else {
		reply_bad(line);
	}
	return 0;
}

static void initialize(double wait_s)
{
	cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = deliver_fn,
		.cpg_confchg_fn = confchg_fn,
		.cpg_totem_confchg_fn = totem_fn,
		.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
	};
	int64_t deadline = now_ms() + (int64_t)(wait_s * 1000);
	cs_error_t err;

	for (;;) {
		err = cpg_model_initialize(&handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL);
		if (err == CS_OK)
			break;
		if ((err != CS_ERR_LIBRARY && err != CS_ERR_TRY_AGAIN) || now_ms() >= deadline)
			fatal("cpg_model_initialize: error %d", (int)err);
		usleep(100 * 1000);
	}
	handle_ok = 1;
}

int main(int argc, char **argv)
{
	double wait_s = 10;
	unsigned int nodeid = 0;
	cs_error_t err;
	int fd, opt;
	char *buf;
	size_t cap = 65536, len = 0;
	int eof = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "w:")) != -1) {
		switch (opt) {
		case 'w':
			wait_s = strtod(optarg, NULL);
			break;
		default:
			fatal("usage: %s [-w SECONDS]", argv[0]);
		}
	}

	initialize(wait_s);
	err = cpg_local_get(handle, &nodeid);
	if (err != CS_OK)
		fatal("cpg_local_get: error %d", (int)err);
	err = cpg_fd_get(handle, &fd);
	if (err != CS_OK)
		fatal("cpg_fd_get: error %d", (int)err);
	printf("READY %u %ld\n", nodeid, (long)getpid());
	out_flush();

	buf = malloc(cap);
	if (!buf)
		fatal("out of memory");

	for (;;) {
		struct pollfd p[2] = {
			{.fd = fd, .events = POLLIN},
			{.fd = 0, .events = POLLIN},
		};
		int n = poll(p, eof ? 1 : 2, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}
		if (p[0].revents)
			dispatch_all();
		if (!eof && p[1].revents) {
			ssize_t r;
			char *nl;

			if (len == cap) {
				if (cap >= MAX_LINE)
					fatal("command line longer than %d bytes", MAX_LINE);
				cap *= 2;
				buf = realloc(buf, cap);
				if (!buf)
					fatal("out of memory");
			}
			r = read(0, buf + len, cap - len);
			if (r < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				fatal("read stdin: %s", strerror(errno));
			}
			if (r == 0)
				eof = 1;
			len += (size_t)r;
			while ((nl = memchr(buf, '\n', len)) != NULL) {
				size_t used = (size_t)(nl - buf) + 1;

				*nl = '\0';
				if (command(buf))
					return 0;
				memmove(buf, buf + used, len - used);
				len -= used;
			}
			if (eof) {
				if (len > 0) {
					if (len == cap) {
						buf = realloc(buf, cap + 1);
						if (!buf)
							fatal("out of memory");
					}
					buf[len] = '\0';
					if (command(buf))
						return 0;
				}
				cpg_finalize(handle);
				return 0;
			}
		}
	}
}
