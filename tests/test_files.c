/* Output files and text inputs (runtime/atomic.c, ir/textfile.c): outputs
 * against inputs through links, special destinations refused, symbolic
 * links written through with the target's permissions kept, the ENOSPC
 * fault-injection point, directories created with undo, and the limits of
 * text inputs. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The whole file as a string (static buffer), "" when unreadable. */
static const char *get(const char *path) {
    static char buf[256];
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

HG_TEST(output_that_is_an_input_is_refused) {
    const char *in = hg_test_path("in.txt"), *sym = hg_test_path("sym.txt"), *hard = hg_test_path("hard.txt");
    const char *other = hg_test_path("other.txt"), *fresh = hg_test_path("fresh.txt");
    put(in, "input");
    put(other, "other");
    unlink(sym);
    unlink(hard);
    HG_CHECK(symlink(in, sym) == 0);
    HG_CHECK(link(in, hard) == 0);
    const char *inputs[3] = {NULL, hg_test_path("missing.txt"), in};
    HG_CHECK_ERR(hg_output_check(in, inputs, 3), "is the input");
    HG_CHECK_ERR(hg_output_check(sym, inputs, 3), "is the input");
    HG_CHECK_ERR(hg_output_check(hard, inputs, 3), "is the input");
    HG_CHECK_OK(hg_output_check(other, inputs, 3));
    HG_CHECK_OK(hg_output_check(fresh, inputs, 3));
    /* the input given through a link protects the file itself */
    const char *via_link[1] = {sym};
    HG_CHECK_ERR(hg_output_check(in, via_link, 1), "is the input");
    HG_CHECK(!strcmp(get(in), "input"));
    /* directories */
    HG_CHECK_ERR(hg_output_check(hg_test_tmpdir(), NULL, 0), "is a directory");
    HG_CHECK_ERR(hg_output_dir_check(in, NULL, 0), "is a regular file");
    const char *dir_in[1] = {hg_test_tmpdir()};
    HG_CHECK_ERR(hg_output_dir_check(hg_test_tmpdir(), dir_in, 1), "is the input");
    HG_CHECK_OK(hg_output_dir_check(hg_test_path("newdir"), dir_in, 1));
}

HG_TEST(special_destinations_are_never_replaced) {
    const char *fifo = hg_test_path("fifo"), *dangling = hg_test_path("dangling");
    unlink(fifo);
    unlink(dangling);
    HG_CHECK(mkfifo(fifo, 0644) == 0);
    HG_CHECK(symlink("no/such/target", dangling) == 0);
    HG_CHECK_ERR(hg_atomic_write(fifo, "x", 1), "is a FIFO");
    HG_CHECK_ERR(hg_atomic_write(dangling, "x", 1), "cannot be resolved");
    HG_CHECK_ERR(hg_atomic_write(hg_test_tmpdir(), "x", 1), "is a directory");
    struct stat st;
    HG_CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    HG_CHECK(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode));
    /* a socket */
    const char *sock = hg_test_path("sock");
    unlink(sock);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    if (fd >= 0 && strlen(sock) < sizeof a.sun_path && bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        HG_CHECK_ERR(hg_atomic_write(sock, "x", 1), "is a socket");
        HG_CHECK_ERR(hg_output_check(sock, NULL, 0), "is a socket");
    }
    if (fd >= 0) close(fd);
    /* the low-level commit checks again at the rename */
    char tmp[1100];
    hg_atomic_temp_path(fifo, tmp, sizeof tmp);
    put(tmp, "x");
    HG_CHECK_ERR(hg_atomic_commit(tmp, fifo), "is a FIFO");
    HG_CHECK(access(tmp, F_OK) != 0); /* the temporary file is removed */
    HG_CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    /* a character device, when this process may make one (root) */
    const char *dev = hg_test_path("null");
    unlink(dev);
    if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        HG_CHECK_ERR(hg_atomic_write(dev, "x", 1), "is a character device");
        HG_CHECK(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode));
        unlink(dev);
    }
}

HG_TEST(symbolic_link_is_written_through_keeping_permissions) {
    const char *target = hg_test_path("target.txt"), *link_p = hg_test_path("link.txt");
    put(target, "old");
    HG_CHECK(chmod(target, 0640) == 0);
    unlink(link_p);
    HG_CHECK(symlink("target.txt", link_p) == 0); /* relative, as users make them */
    HG_CHECK_OK(hg_atomic_write(link_p, "new contents", 12));
    struct stat st;
    HG_CHECK(lstat(link_p, &st) == 0 && S_ISLNK(st.st_mode));
    HG_CHECK(stat(target, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640);
    HG_CHECK(!strcmp(get(target), "new contents"));
    /* the streaming writer, to a fresh file */
    const char *fresh = hg_test_path("fresh_stream.txt");
    unlink(fresh);
    hg_atomic_file *af;
    HG_CHECK_OK(hg_atomic_open(fresh, &af));
    fprintf(hg_atomic_stream(af), "%d %s", 42, "lines");
    HG_CHECK(access(fresh, F_OK) != 0); /* nothing at the destination before the close */
    HG_CHECK_OK(hg_atomic_close(af, hg_ok()));
    HG_CHECK(!strcmp(get(fresh), "42 lines"));
    /* a failed status discards the file */
    const char *never = hg_test_path("never.txt");
    unlink(never);
    HG_CHECK_OK(hg_atomic_open(never, &af));
    fputs("partial", hg_atomic_stream(af));
    HG_CHECK_ERR(hg_atomic_close(af, hg_error(HG_ERR_INVALID, "caller failed")), "caller failed");
    HG_CHECK(access(never, F_OK) != 0);
}

HG_TEST(disk_full_fault_leaves_the_old_file) {
    const char *p = hg_test_path("full.txt");
    put(p, "old");
    char big[5000];
    memset(big, 'a', sizeof big);
    setenv("HG_FAULT_INJECT", "enospc@4096:full.txt", 1);
    hg_status s = hg_atomic_write(p, big, sizeof big);
    unsetenv("HG_FAULT_INJECT");
    HG_CHECK(s.code == HG_ERR_IO && strstr(s.msg, "full.txt") && strstr(s.msg, "No space left on device"));
    HG_CHECK(!strcmp(get(p), "old"));
    char tmp[1100];
    hg_atomic_temp_path(p, tmp, sizeof tmp);
    HG_CHECK(access(tmp, F_OK) != 0);
    /* a fault for another file name does not apply */
    setenv("HG_FAULT_INJECT", "enospc@0:other.txt", 1);
    s = hg_atomic_write(p, big, sizeof big);
    unsetenv("HG_FAULT_INJECT");
    HG_CHECK_OK(s);
}

HG_TEST(mkdirs_undo_removes_only_what_it_made) {
    char base[1100], deep[1200];
    snprintf(base, sizeof base, "%s/mk_a", hg_test_tmpdir());
    snprintf(deep, sizeof deep, "%s/b/c", base);
    hg_mkdirs_record rec = {0};
    HG_CHECK_OK(hg_mkdirs(deep, &rec));
    HG_CHECK(rec.n == 3);
    hg_mkdirs_undo(&rec);
    HG_CHECK(access(base, F_OK) != 0);
    /* a directory that gained a file is kept */
    rec = (hg_mkdirs_record){0};
    HG_CHECK_OK(hg_mkdirs(deep, &rec));
    char f[1300];
    snprintf(f, sizeof f, "%s/b/keep.txt", base);
    put(f, "x");
    hg_mkdirs_undo(&rec);
    HG_CHECK(access(f, F_OK) == 0);
    char c[1300];
    snprintf(c, sizeof c, "%s/b/c", base);
    HG_CHECK(access(c, F_OK) != 0);
    /* existing directories are not recorded */
    rec = (hg_mkdirs_record){0};
    HG_CHECK_OK(hg_mkdirs(base, &rec));
    HG_CHECK(rec.n == 0);
    hg_mkdirs_keep(&rec);
    HG_CHECK_ERR(hg_mkdirs(f, NULL), "not a directory");
}

HG_TEST(text_inputs_are_bounded) {
    const char *p = hg_test_path("t.txt");
    put(p, "0123456789");
    char *buf;
    size_t n;
    HG_CHECK_OK(hg_read_text_file(p, 10, &buf, &n));
    HG_CHECK(n == 10 && !strcmp(buf, "0123456789"));
    free(buf);
    HG_CHECK_ERR(hg_read_text_file(p, 9, &buf, &n), "10 bytes, over the 9-byte limit");
    FILE *f = fopen(p, "wb");
    fwrite("ab\0cd", 1, 5, f);
    fclose(f);
    HG_CHECK_ERR(hg_read_text_file(p, 100, &buf, &n), "NUL byte at offset 2");
    HG_CHECK_ERR(hg_read_text_file("/dev/zero", HG_TEXT_MAX_BYTES, &buf, &n), "NUL byte at offset 0");
    HG_CHECK_ERR(hg_read_text_file(hg_test_tmpdir(), 100, &buf, &n), "is a directory");
    HG_CHECK_ERR(hg_read_text_file(hg_test_path("none.txt"), 100, &buf, &n), "cannot open");
    /* a FIFO without a writer reads as empty instead of hanging */
    const char *fifo = hg_test_path("rfifo");
    unlink(fifo);
    HG_CHECK(mkfifo(fifo, 0644) == 0);
    HG_CHECK_OK(hg_read_text_file(fifo, 100, &buf, &n));
    HG_CHECK(n == 0 && buf[0] == 0);
    free(buf);
    /* a pipe with more than the limit: read up to it, then refused */
    int fds[2];
    HG_CHECK(pipe(fds) == 0);
    HG_CHECK(write(fds[1], "aaaaaaaaaaaaaaaaaaaa", 20) == 20);
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    HG_CHECK_ERR(hg_read_text_file(path, 16, &buf, &n), "not a regular file: read up to the limit");
    close(fds[0]);
}

HG_TEST(next_write_removes_stale_temporaries_of_its_file) {
    const char *p = hg_test_path("stale.txt");
    put(p, "old");
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0); /* pid is now a dead process */
    char dead[1100], live[1100], other[1100];
    snprintf(dead, sizeof dead, "%s.tmp.%ld", p, (long)pid);
    snprintf(live, sizeof live, "%s.tmp.%ld", p, (long)getppid());
    snprintf(other, sizeof other, "%s/other.txt.tmp.%ld", hg_test_tmpdir(), (long)pid);
    put(dead, "half");
    put(live, "busy");
    put(other, "half");
    HG_CHECK_OK(hg_atomic_write(p, "new", 3));
    HG_CHECK(!strcmp(get(p), "new"));
    HG_CHECK(access(dead, F_OK) != 0);  /* a killed writer's leftover of this file */
    HG_CHECK(access(live, F_OK) == 0);  /* a live process's: kept */
    HG_CHECK(access(other, F_OK) == 0); /* another file's: not this writer's business */
    unlink(live);
    unlink(other);
}
