/* Output files (runtime.h, "output files"): the one place where halograph
 * writes a user-visible file. Every writer creates "<dest>.tmp.<pid>" next
 * to the destination (exclusively), writes it through hg_atomic_stream,
 * fsyncs it, checks the destination again (only a missing or regular file
 * may be replaced; a symbolic link is written through to its target),
 * renames it over the destination and fsyncs the directory, so a crash at
 * any moment leaves the old or the new file, never a mixture. Also: the
 * check of a command's outputs against its inputs, removal of temporary
 * files left by dead processes, directories created with undo, and the
 * HG_FAULT_INJECT test hook. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/ir.h"

/* ------------------------------------------------------------ file kinds */

static const char *kind_name(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* The file a write to `path` replaces: path itself, or the final target
 * when path is a symbolic link (written through). Refuses (HG_ERR_INVALID)
 * an existing destination that is not a regular file and a dangling link.
 * *exists says whether the destination exists (st filled). */
static hg_status resolve_dest(const char *path, char *dest, size_t n, int *exists, struct stat *st) {
    struct stat ls;
    *exists = 0;
    if (lstat(path, &ls) != 0) {
        if (errno != ENOENT)
            return hg_error(HG_ERR_IO, "%s: cannot inspect the output: %s", path, strerror(errno));
        if (snprintf(dest, n, "%s", path) >= (int)n) return hg_error(HG_ERR_INVALID, "%s: path too long", path);
        return hg_ok();
    }
    if (S_ISLNK(ls.st_mode)) {
        char *r = realpath(path, NULL);
        if (!r)
            return hg_error(HG_ERR_INVALID,
                            "%s: the output is a symbolic link whose target cannot be resolved (%s): refusing "
                            "to replace the link; give the target's path",
                            path, strerror(errno));
        int too_long = snprintf(dest, n, "%s", r) >= (int)n;
        free(r);
        if (too_long) return hg_error(HG_ERR_INVALID, "%s: resolved path too long", path);
    } else if (snprintf(dest, n, "%s", path) >= (int)n) {
        return hg_error(HG_ERR_INVALID, "%s: path too long", path);
    }
    if (stat(dest, st) != 0) {
        if (errno == ENOENT) return hg_ok();
        return hg_error(HG_ERR_IO, "%s: cannot inspect the output: %s", path, strerror(errno));
    }
    *exists = 1;
    if (!S_ISREG(st->st_mode))
        return hg_error(HG_ERR_INVALID, "%s: the output exists and is %s: refusing to replace it", path,
                        kind_name(st->st_mode));
    return hg_ok();
}

/* ------------------------------------------------ outputs against inputs */

hg_status hg_output_check(const char *out, const char *const *inputs, int n_inputs) {
    char dest[PATH_MAX];
    struct stat so;
    int exists = 0;
    if (!out || !*out) return hg_error(HG_ERR_INVALID, "the output path is empty");
    HG_TRY(resolve_dest(out, dest, sizeof dest, &exists, &so));
    if (!exists) return hg_ok(); /* a new file cannot be an existing input */
    for (int i = 0; i < n_inputs; i++) {
        struct stat si;
        if (!inputs[i] || stat(inputs[i], &si) != 0) continue;
        if (si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return hg_error(HG_ERR_INVALID,
                            "%s: the output is the input %s (the same file): refusing to overwrite an input; "
                            "choose another output path",
                            out, inputs[i]);
    }
    return hg_ok();
}

hg_status hg_output_dir_check(const char *dir, const char *const *inputs, int n_inputs) {
    struct stat sd;
    if (stat(dir, &sd) != 0) return hg_ok(); /* created later */
    if (!S_ISDIR(sd.st_mode))
        return hg_error(HG_ERR_INVALID, "%s: the output directory exists and is %s", dir,
                        S_ISREG(sd.st_mode) ? "a regular file" : kind_name(sd.st_mode));
    for (int i = 0; i < n_inputs; i++) {
        struct stat si;
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == sd.st_dev && si.st_ino == sd.st_ino)
            return hg_error(HG_ERR_INVALID, "%s: the output directory is the input %s: choose another one", dir,
                            inputs[i]);
    }
    return hg_ok();
}

hg_status hg_output_dir_foreign_check(const char *dir, const char *marker) {
    DIR *d = opendir(dir);
    if (!d) return hg_ok(); /* missing (created later) or unreadable (the writes will say) */
    char first[256] = "";
    int has_marker = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strcmp(e->d_name, marker)) has_marker = 1;
        else if (!first[0]) snprintf(first, sizeof first, "%s", e->d_name);
    }
    closedir(d);
    if (has_marker || !first[0]) return hg_ok();
    return hg_error(HG_ERR_INVALID,
                    "%s: the output directory already holds files (e.g. '%s') but no %s: refusing to write "
                    "into it, which could replace them; choose a new or empty directory",
                    dir, first, marker);
}

/* ------------------------------------------------------- fault injection */

/* HG_FAULT_INJECT=KIND[@N][:NAME], a test hook (README, "What halograph
 * promises about your files"): KIND enospc (a write of the temporary file
 * fails with ENOSPC once N bytes are written), kill (SIGKILL once N bytes
 * are written) or kill-before-rename (SIGKILL after the fsync, before the
 * rename); NAME restricts it to destinations with that file name. */
typedef enum { FAULT_NONE, FAULT_ENOSPC, FAULT_KILL, FAULT_KILL_BEFORE_RENAME } fault_kind;

static fault_kind fault_for(const char *dest, uint64_t *at) {
    const char *v = getenv("HG_FAULT_INJECT");
    *at = 0;
    if (!v || !*v) return FAULT_NONE;
    fault_kind k = FAULT_NONE;
    size_t len = strcspn(v, "@:");
    if (len == 6 && !strncmp(v, "enospc", 6)) k = FAULT_ENOSPC;
    else if (len == 4 && !strncmp(v, "kill", 4)) k = FAULT_KILL;
    else if (len == 18 && !strncmp(v, "kill-before-rename", 18)) k = FAULT_KILL_BEFORE_RENAME;
    else return FAULT_NONE;
    const char *p = v + len;
    if (*p == '@') {
        char *end;
        *at = strtoull(p + 1, &end, 10);
        p = end;
    }
    if (*p == ':') {
        const char *base = strrchr(dest, '/');
        base = base ? base + 1 : dest;
        if (strcmp(base, p + 1)) return FAULT_NONE;
    }
    return k;
}

/* ------------------------------------------------------ the atomic file */

static void remove_stale_of(const char *dest);

struct hg_atomic_file {
    FILE *f;               /* a stream over fd (fopencookie) */
    int fd;
    int err;               /* errno of the first failed write, 0 none */
    uint64_t written;
    fault_kind fault;
    uint64_t fault_at;
    char path[PATH_MAX];   /* as given (messages) */
    char dest[PATH_MAX];   /* resolved destination */
    char tmp[PATH_MAX + 32];
    int had_mode;          /* the destination existed: its permissions are kept */
    mode_t mode;
};

static ssize_t cookie_write(void *c, const char *buf, size_t n) {
    hg_atomic_file *af = c;
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done;
        if (af->fault == FAULT_ENOSPC || af->fault == FAULT_KILL) {
            if (af->written >= af->fault_at) {
                if (af->fault == FAULT_KILL) raise(SIGKILL);
                af->err = ENOSPC;
                return done ? (ssize_t)done : -1;
            }
            if (chunk > af->fault_at - af->written) chunk = (size_t)(af->fault_at - af->written);
        }
        ssize_t w = write(af->fd, buf + done, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            af->err = errno;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)w;
        af->written += (uint64_t)w;
    }
    return (ssize_t)n;
}

static int cookie_close(void *c) {
    (void)c; /* the descriptor is closed by hg_atomic_close after fsync */
    return 0;
}

void hg_atomic_temp_path(const char *path, char *buf, size_t n) {
    char dest[PATH_MAX];
    struct stat st;
    int exists;
    hg_status s = resolve_dest(path, dest, sizeof dest, &exists, &st);
    snprintf(buf, n, "%s.tmp.%ld", s.code == HG_OK ? dest : path, (long)getpid());
}

hg_status hg_atomic_open(const char *path, hg_atomic_file **out) {
    *out = NULL;
    hg_atomic_file *af = calloc(1, sizeof *af);
    if (!af) return hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    af->fd = -1;
    snprintf(af->path, sizeof af->path, "%s", path);
    struct stat st;
    int exists;
    hg_status s = resolve_dest(path, af->dest, sizeof af->dest, &exists, &st);
    if (s.code != HG_OK) {
        free(af);
        return s;
    }
    if (exists) {
        af->had_mode = 1;
        af->mode = st.st_mode & 07777;
    }
    remove_stale_of(af->dest); /* left by writers of this file that were killed */
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", af->dest, (long)getpid());
    for (int attempt = 0; attempt < 2 && af->fd < 0; attempt++) {
        af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (af->fd < 0 && errno == EEXIST && attempt == 0) unlink(af->tmp); /* ours: a pid reused */
        else if (af->fd < 0) break;
    }
    if (af->fd < 0) {
        s = hg_error(HG_ERR_IO, "%s: cannot create %s: %s", path, af->tmp, strerror(errno));
        free(af);
        return s;
    }
    af->fault = fault_for(af->dest, &af->fault_at);
    cookie_io_functions_t io = {NULL, cookie_write, NULL, cookie_close};
    af->f = fopencookie(af, "w", io);
    if (!af->f) {
        close(af->fd);
        unlink(af->tmp);
        free(af);
        return hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    }
    *out = af;
    return hg_ok();
}

FILE *hg_atomic_stream(hg_atomic_file *af) { return af->f; }

static hg_status fsync_dir_of(const char *dest) {
    char *dup = strdup(dest);
    if (!dup) return hg_error(HG_ERR_NOMEM, "%s: out of memory", dest);
    int fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    hg_status s = hg_ok();
    if (fd < 0) s = hg_error(HG_ERR_IO, "%s: cannot open its directory for fsync: %s", dest, strerror(errno));
    else {
        /* Some file systems refuse fsync on directories (EINVAL): not an error. */
        if (fsync(fd) != 0 && errno != EINVAL && errno != EBADF)
            s = hg_error(HG_ERR_IO, "%s: fsync of its directory failed: %s", dest, strerror(errno));
        close(fd);
    }
    free(dup);
    return s;
}

/* Renames tmp over the destination of `path` after checking it again. */
static hg_status rename_into_place(const char *tmp, const char *path, const char *expect_dest) {
    char dest[PATH_MAX];
    struct stat st;
    int exists;
    HG_TRY(resolve_dest(path, dest, sizeof dest, &exists, &st));
    if (expect_dest && strcmp(dest, expect_dest))
        return hg_error(HG_ERR_IO, "%s: the output's link target changed while it was written (%s, now %s)", path,
                        expect_dest, dest);
    if (rename(tmp, dest) != 0)
        return hg_error(HG_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    return fsync_dir_of(dest);
}

hg_status hg_atomic_close(hg_atomic_file *af, hg_status s) {
    if (!af) return s;
    int bad = fflush(af->f) != 0 || ferror(af->f);
    fclose(af->f);
    if (s.code == HG_OK && bad)
        s = hg_error(HG_ERR_IO, "%s: write failed: %s", af->path, strerror(af->err ? af->err : EIO));
    if (s.code == HG_OK && af->had_mode && fchmod(af->fd, af->mode) != 0)
        s = hg_error(HG_ERR_IO, "%s: cannot set the permissions of %s: %s", af->path, af->tmp, strerror(errno));
    if (s.code == HG_OK && fsync(af->fd) != 0)
        s = hg_error(HG_ERR_IO, "%s: fsync of %s failed: %s", af->path, af->tmp, strerror(errno));
    if (close(af->fd) != 0 && s.code == HG_OK)
        s = hg_error(HG_ERR_IO, "%s: close of %s failed: %s", af->path, af->tmp, strerror(errno));
    if (s.code == HG_OK && af->fault == FAULT_KILL_BEFORE_RENAME) raise(SIGKILL);
    if (s.code == HG_OK) s = rename_into_place(af->tmp, af->path, af->dest);
    if (s.code != HG_OK) unlink(af->tmp); /* a no-op after a successful rename */
    free(af);
    return s;
}

hg_status hg_atomic_write(const char *path, const void *buf, size_t n) {
    hg_atomic_file *af;
    HG_TRY(hg_atomic_open(path, &af));
    hg_status s = hg_ok();
    if (n && fwrite(buf, 1, n, af->f) != n)
        s = hg_error(HG_ERR_IO, "%s: write failed: %s", path, strerror(af->err ? af->err : EIO));
    return hg_atomic_close(af, s);
}

hg_status hg_atomic_commit(const char *tmp, const char *path) {
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    hg_status s = hg_ok();
    if (fd < 0) s = hg_error(HG_ERR_IO, "%s: cannot open %s for fsync: %s", path, tmp, strerror(errno));
    else {
        if (fsync(fd) != 0) s = hg_error(HG_ERR_IO, "%s: fsync of %s failed: %s", path, tmp, strerror(errno));
        close(fd);
    }
    if (s.code == HG_OK) s = rename_into_place(tmp, path, NULL);
    if (s.code != HG_OK) unlink(tmp);
    return s;
}

/* ------------------------------------------ temporary files of the dead */

/* pid of a name "<anything>.tmp.<digits>", else 0. */
static long temp_pid(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t) return 0;
    for (const char *next; (next = strstr(t + 1, ".tmp.")); t = next) {}
    const char *d = t + 5;
    if (!*d) return 0;
    for (const char *p = d; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    char *end;
    long pid = strtol(d, &end, 10);
    return pid > 0 && pid < INT_MAX ? pid : 0;
}

/* Removes dir's stale temporary files whose names start with prefix
 * ("" for all). */
static hg_status remove_stale(const char *dir, const char *prefix, int *n_removed) {
    if (n_removed) *n_removed = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? hg_ok() : hg_error(HG_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    hg_status s = hg_ok();
    size_t np = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, np)) continue;
        long pid = temp_pid(e->d_name);
        if (!pid || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to judge) */
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (unlink(p) != 0) {
            s = hg_error(HG_ERR_IO, "%s: cannot remove the stale temporary file: %s", p, strerror(errno));
            break;
        }
        if (n_removed) (*n_removed)++;
    }
    closedir(d);
    return s;
}

hg_status hg_atomic_remove_stale(const char *dir, int *n_removed) { return remove_stale(dir, "", n_removed); }

/* The stale temporary files "<dest>.tmp.<dead pid>" of one destination
 * (best effort: a failure here does not stop the write). */
static void remove_stale_of(const char *dest) {
    char *d = strdup(dest), *b = strdup(dest);
    if (d && b) {
        char prefix[PATH_MAX];
        snprintf(prefix, sizeof prefix, "%s.tmp.", basename(b));
        remove_stale(dirname(d), prefix, NULL);
    }
    free(d);
    free(b);
}

/* ------------------------------------------------ directories with undo */

hg_status hg_mkdirs(const char *dir, hg_mkdirs_record *rec) {
    char buf[PATH_MAX];
    if (!*dir) return hg_error(HG_ERR_INVALID, "empty directory name");
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return hg_error(HG_ERR_INVALID, "%s: path too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) == 0) {
            if (rec && rec->n < HG_MKDIRS_MAX) {
                rec->made[rec->n] = strdup(buf);
                if (rec->made[rec->n]) rec->n++;
            }
        } else if (errno != EEXIST) {
            return hg_error(HG_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        }
        *p = c;
        if (!c) break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return hg_error(HG_ERR_IO, "%s: not a directory", dir);
    return hg_ok();
}

void hg_mkdirs_undo(hg_mkdirs_record *rec) {
    for (int i = rec->n - 1; i >= 0; i--) {
        rmdir(rec->made[i]); /* only succeeds when empty: never removes a file */
        free(rec->made[i]);
    }
    rec->n = 0;
}

void hg_mkdirs_keep(hg_mkdirs_record *rec) {
    for (int i = 0; i < rec->n; i++) free(rec->made[i]);
    rec->n = 0;
}
