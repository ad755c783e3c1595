/*
 * posix-c ROOT: calls the POSIX file functions Rust's std never calls (utimensat, futimens,
 * O_CREAT|O_EXCL, two descriptors on one file, lseek(SEEK_END), ftruncate, readdir while a file
 * is being written, access, mkdir/rmdir errors, trailing slashes, escapes, ENAMETOOLONG) under
 * ROOT, an empty preopened directory, and prints a transcript to compare across worlds.
 *
 * One line per check, `<id>: <result>`, then `done`. A result is `ok`, a value, or the errno
 * name (`ENOENT`). Deterministic: no times, inode numbers or sizes of directories, only
 * comparisons. The program removes what it made; it exits 2 when ROOT is not empty at the
 * start, 0 otherwise, whatever the checks show.
 *
 * Built for wasm32-wasip1 with `clang --target=wasm32-wasi` (Debian's wasi-libc); the host runs
 * it through the preview1 adapter, in the cli world (the reference) and the cloud world.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *root;

/* The errno's name: the transcript shows names, which read better than numbers. */
static const char *errno_name(int e) {
    switch (e) {
#define NAME(E) case E: return #E;
        NAME(EACCES) NAME(EBADF) NAME(EBUSY) NAME(EEXIST) NAME(EFBIG) NAME(EINVAL) NAME(EIO)
        NAME(EISDIR) NAME(ELOOP) NAME(EMLINK) NAME(ENAMETOOLONG) NAME(ENOENT) NAME(ENOSPC)
        NAME(ENOSYS) NAME(ENOTCAPABLE) NAME(ENOTDIR) NAME(ENOTEMPTY) NAME(ENOTSUP) NAME(EPERM)
        NAME(EROFS) NAME(ESPIPE) NAME(EXDEV) NAME(EOVERFLOW)
#undef NAME
    default: {
        static char unknown[32];
        snprintf(unknown, sizeof unknown, "errno %d", e);
        return unknown;
    }
    }
}

/* `ROOT/relative`, in one of a few rotating buffers so a call can take two paths. */
static const char *at(const char *relative) {
    static char buffers[4][8192];
    static int next;
    char *buffer = buffers[next++ % 4];
    snprintf(buffer, sizeof buffers[0], "%s/%s", root, relative);
    return buffer;
}

static void line(const char *id, const char *format, ...) {
    va_list args;
    va_start(args, format);
    printf("%s: ", id);
    vprintf(format, args);
    printf("\n");
    va_end(args);
}

/* `ok` for a call that returned 0 or more, the errno's name for -1. */
static int result(const char *id, int rc) {
    if (rc < 0)
        line(id, "%s", errno_name(errno));
    else
        line(id, "ok");
    return rc;
}

/* The file's whole content through a fresh descriptor, quoted, or the errno's name. */
static void content(const char *id, const char *path) {
    char buffer[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        line(id, "%s", errno_name(errno));
        return;
    }
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    int saved = errno;
    close(fd);
    if (n < 0) {
        line(id, "%s", errno_name(saved));
        return;
    }
    buffer[n] = 0;
    line(id, "\"%s\"", buffer);
}

/* What `fd` reads at offset 0 (pread: the position stays). */
static void fd_content(const char *id, int fd) {
    char buffer[256];
    ssize_t n = pread(fd, buffer, sizeof buffer - 1, 0);
    if (n < 0) {
        line(id, "%s", errno_name(errno));
        return;
    }
    buffer[n] = 0;
    line(id, "\"%s\"", buffer);
}

static void exists(const char *id, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0)
        line(id, "true");
    else if (errno == ENOENT)
        line(id, "false");
    else
        line(id, "%s", errno_name(errno));
}

static void size_of(const char *id, const char *path) {
    struct stat st;
    if (stat(path, &st) < 0)
        line(id, "%s", errno_name(errno));
    else
        line(id, "%s size=%lld", S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other",
             (long long)st.st_size);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's names (not `.` or `..`), sorted. */
static void listing(const char *id, const char *path) {
    DIR *dir = opendir(path);
    if (!dir) {
        line(id, "%s", errno_name(errno));
        return;
    }
    char *names[64];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) && count < 64) {
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            names[count++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, count, sizeof names[0], by_name);
    printf("%s:", id);
    if (!count)
        printf(" (empty)");
    for (int i = 0; i < count; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0) {
        printf("setup failed (write %s): %s\n", path, errno_name(errno));
    }
}

static void exclusive_and_fresh_files(void) {
    int fd = result("excl-create", open(at("excl.txt"), O_RDWR | O_CREAT | O_EXCL, 0644));
    result("excl-create-again-while-open", open(at("excl.txt"), O_RDWR | O_CREAT | O_EXCL, 0644));
    result("excl-write-5", write(fd, "12345", 5) == 5 ? 0 : -1);
    struct stat st;
    if (fstat(fd, &st) < 0)
        line("fstat-after-create", "%s", errno_name(errno));
    else
        line("fstat-after-create", "size=%lld regular=%d", (long long)st.st_size, S_ISREG(st.st_mode));
    size_of("stat-after-create", at("excl.txt"));
    listing("readdir-after-create", root);
    result("access-after-create", access(at("excl.txt"), F_OK));
    /* Run on whatever open gave (-1 gives EBADF lines), so the checks stay line for line. */
    int second = result("open-second-fd", open(at("excl.txt"), O_RDWR));
    {
        fd_content("second-fd-reads-first-write", second);
        line("lseek-end-second-fd", "%lld", (long long)lseek(second, 0, SEEK_END));
        result("second-fd-write-at-end", write(second, "678", 3) == 3 ? 0 : -1);
        fd_content("first-fd-reads-second-write", fd);
        result("ftruncate-first-fd", ftruncate(fd, 2));
        if (fstat(second, &st) < 0)
            line("second-fd-size-after-ftruncate", "%s", errno_name(errno));
        else
            line("second-fd-size-after-ftruncate", "%lld", (long long)st.st_size);
        line("lseek-end-after-ftruncate", "%lld", (long long)lseek(second, 0, SEEK_END));
        result("ftruncate-extend", ftruncate(second, 6));
        fd_content("ftruncate-extend-reads-up-to-zeros", fd);
        close(second);
    }
    result("fsync", fsync(fd));
    result("fdatasync", fdatasync(fd));
    result("close-first-fd", close(fd));
    size_of("stat-after-close", at("excl.txt"));
    result("excl-create-after-close", open(at("excl.txt"), O_RDWR | O_CREAT | O_EXCL, 0644));
}

static void seeking(void) {
    write_file(at("seek.txt"), "abcdef");
    int fd = result("seek-open", open(at("seek.txt"), O_RDWR));
    line("lseek-end", "%lld", (long long)lseek(fd, 0, SEEK_END));
    line("lseek-end-minus-2", "%lld", (long long)lseek(fd, -2, SEEK_END));
    line("lseek-end-plus-3", "%lld", (long long)lseek(fd, 3, SEEK_END));
    result("write-past-end", write(fd, "Z", 1) == 1 ? 0 : -1);
    struct stat st = {0};
    fstat(fd, &st);
    line("size-after-write-past-end", "%lld", (long long)st.st_size);
    char buffer[16] = {0};
    ssize_t n = pread(fd, buffer, sizeof buffer, 5);
    line("pread-hole", "n=%zd zeros=%d last=%c", n, buffer[1] == 0 && buffer[2] == 0 && buffer[3] == 0,
         n > 4 ? buffer[4] : '?');
    off_t before = lseek(fd, -100, SEEK_SET);
    line("lseek-negative", "%s", before < 0 ? errno_name(errno) : "ok");
    close(fd);
    fd = open(at("seek.txt"), O_WRONLY | O_APPEND);
    lseek(fd, 0, SEEK_SET);
    result("append-write", write(fd, "!", 1) == 1 ? 0 : -1);
    close(fd);
    size_of("append-size", at("seek.txt"));
    fd = open(at("seek.txt"), O_WRONLY | O_TRUNC);
    close(fd);
    size_of("o-trunc-size", at("seek.txt"));
    unlink(at("seek.txt"));
}

/* Times: a fixed past time set through a path and through a descriptor, read back by stat. */
static void times(void) {
    write_file(at("times.txt"), "timed");
    struct timespec set[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1000000500, .tv_nsec = 0}};
    struct stat st = {0};
    result("utimensat", utimensat(AT_FDCWD, at("times.txt"), set, 0));
    stat(at("times.txt"), &st);
    line("utimensat-mtime-read-back", "%d", st.st_mtim.tv_sec == 1000000500);
    struct timespec omit_mtime[2] = {{.tv_sec = 0, .tv_nsec = UTIME_NOW}, {.tv_sec = 0, .tv_nsec = UTIME_OMIT}};
    result("utimensat-omit-mtime", utimensat(AT_FDCWD, at("times.txt"), omit_mtime, 0));
    stat(at("times.txt"), &st);
    line("utimensat-omit-keeps-mtime", "%d", st.st_mtim.tv_sec == 1000000500);
    int fd = open(at("times.txt"), O_RDWR);
    struct timespec by_fd[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, {.tv_sec = 1200000000, .tv_nsec = 0}};
    result("futimens", futimens(fd, by_fd));
    fstat(fd, &st);
    line("futimens-fstat-read-back", "%d", st.st_mtim.tv_sec == 1200000000);
    stat(at("times.txt"), &st);
    line("futimens-stat-read-back", "%d", st.st_mtim.tv_sec == 1200000000);
    close(fd);
    stat(at("times.txt"), &st);
    line("futimens-after-close", "%d", st.st_mtim.tv_sec == 1200000000);
    struct timespec now[2] = {{.tv_sec = 0, .tv_nsec = UTIME_NOW}, {.tv_sec = 0, .tv_nsec = UTIME_NOW}};
    result("utimensat-now", utimensat(AT_FDCWD, at("times.txt"), now, 0));
    stat(at("times.txt"), &st);
    line("utimensat-now-is-recent", "%d", st.st_mtim.tv_sec > 1600000000);
    result("utimensat-missing", utimensat(AT_FDCWD, at("missing.txt"), set, 0));
    result("utimensat-directory", utimensat(AT_FDCWD, root, set, 0));
    unlink(at("times.txt"));
}

static void trailing_slashes(void) {
    write_file(at("f.txt"), "file");
    result("unlink-file-slash", unlink(at("f.txt/")));
    result("rename-file-slash-source", rename(at("f.txt/"), at("g.txt")));
    result("rename-file-slash-target", rename(at("f.txt"), at("g.txt/")));
    result("open-file-slash", open(at("f.txt/"), O_RDONLY));
    result("open-file-slash-write", open(at("f.txt/"), O_WRONLY));
    result("open-create-slash", open(at("new.txt/"), O_WRONLY | O_CREAT, 0644));
    exists("open-create-slash-made-nothing", at("new.txt"));
    result("stat-file-slash", access(at("f.txt/"), F_OK));
    content("file-slash-content-kept", at("f.txt"));
    exists("file-slash-no-rename-target", at("g.txt"));
}

static void directories(void) {
    result("mkdir", mkdir(at("d"), 0755));
    result("mkdir-existing", mkdir(at("d"), 0755));
    result("mkdir-over-file", mkdir(at("f.txt"), 0755));
    result("mkdir-missing-parent", mkdir(at("nope/child"), 0755));
    result("mkdir-under-file", mkdir(at("f.txt/child"), 0755));
    result("mkdir-trailing-slash", mkdir(at("d2/"), 0755));
    write_file(at("d/inner.txt"), "inner");
    result("rmdir-non-empty", rmdir(at("d")));
    result("rmdir-file", rmdir(at("f.txt")));
    result("rmdir-missing", rmdir(at("missing")));
    result("unlink-directory", unlink(at("d")));
    result("rename-dir-over-file", rename(at("d2"), at("f.txt")));
    result("rename-file-over-dir", rename(at("f.txt"), at("d")));
    result("open-dir-for-write", open(at("d"), O_WRONLY));
    int dirfd = open(at("d"), O_RDONLY | O_DIRECTORY);
    result("open-directory", dirfd);
    result("open-file-o-directory", open(at("f.txt"), O_RDONLY | O_DIRECTORY));
    int fd = openat(dirfd, "via-dirfd.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
    result("openat-dirfd-create", fd);
    close(fd);
    result("openat-dirfd-escape", openat(dirfd, "../../x", O_RDONLY));
    close(dirfd);
    listing("readdir-d", at("d"));
    unlink(at("d/inner.txt"));
    unlink(at("d/via-dirfd.txt"));
    result("rmdir-empty", rmdir(at("d")));
    result("rmdir-d2", rmdir(at("d2")));
    exists("rmdir-gone", at("d"));
}

static void access_checks(void) {
    result("access-exists", access(at("f.txt"), F_OK));
    result("access-read-write", access(at("f.txt"), R_OK | W_OK));
    result("access-missing", access(at("missing"), F_OK));
    result("access-root", access(root, R_OK | W_OK | X_OK));
    result("access-through-file", access(at("f.txt/x"), F_OK));
}

static void escapes(void) {
    result("escape-open", open(at("../outside"), O_RDONLY));
    result("escape-create", open(at("../outside"), O_WRONLY | O_CREAT, 0644));
    result("escape-stat", access(at("../outside"), F_OK));
    result("escape-mkdir", mkdir(at("../outside-dir"), 0755));
    result("escape-unlink", unlink(at("../outside")));
    result("escape-rename-out", rename(at("f.txt"), at("../outside")));
    result("absolute-open", open("/etc/passwd", O_RDONLY));
    result("absolute-create", open("/tmp/posix-c-outside", O_WRONLY | O_CREAT, 0644));
    content("escape-kept-content", at("f.txt"));
}

static void too_long(void) {
    char name[300], path[5000];
    memset(name, 'n', 255);
    name[255] = 0;
    int fd = result("name-255-create", open(at(name), O_WRONLY | O_CREAT, 0644));
    if (fd >= 0)
        close(fd);
    result("name-255-unlink", unlink(at(name)));
    memset(name, 'n', 256);
    name[256] = 0;
    result("name-256-create", open(at(name), O_WRONLY | O_CREAT, 0644));
    result("name-256-mkdir", mkdir(at(name), 0755));
    result("name-256-stat", access(at(name), F_OK));
    size_t used = 0;
    for (int i = 0; i < 17; i++) {
        memset(path + used, 'd', 250);
        used += 250;
        path[used++] = '/';
    }
    path[used - 1] = 0;
    result("path-4096-stat", access(at(path), F_OK));
    result("path-4096-create", open(at(path), O_WRONLY | O_CREAT, 0644));
}

/* A file keeps its content for descriptors opened before an unlink or a rename. */
static void open_files(void) {
    write_file(at("doomed.txt"), "doomed");
    int fd = open(at("doomed.txt"), O_RDWR);
    result("unlink-open", unlink(at("doomed.txt")));
    fd_content("unlink-open-read", fd);
    result("unlink-open-write", pwrite(fd, "D", 1, 0) == 1 ? 0 : -1);
    fd_content("unlink-open-read-after-write", fd);
    result("unlink-open-close", close(fd));
    exists("unlink-open-gone-after-close", at("doomed.txt"));

    write_file(at("moving.txt"), "moving");
    fd = open(at("moving.txt"), O_WRONLY);
    result("rename-open", rename(at("moving.txt"), at("moved.txt")));
    result("rename-open-write", write(fd, "MOV", 3) == 3 ? 0 : -1);
    result("rename-open-close", close(fd));
    content("rename-open-new-name", at("moved.txt"));
    exists("rename-open-old-name", at("moving.txt"));

    write_file(at("victim.txt"), "victim");
    write_file(at("replacement.txt"), "replacement");
    fd = open(at("victim.txt"), O_RDWR);
    result("rename-onto-open", rename(at("replacement.txt"), at("victim.txt")));
    fd_content("rename-onto-open-old-fd", fd);
    result("rename-onto-open-old-fd-write", pwrite(fd, "V", 1, 0) == 1 ? 0 : -1);
    result("rename-onto-open-close", close(fd));
    content("rename-onto-open-content", at("victim.txt"));
    unlink(at("moved.txt"));
    unlink(at("victim.txt"));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: posix-c ROOT\n");
        return 2;
    }
    root = argv[1];
    /* Line by line, so a run the host ends part-way still shows how far it got. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    DIR *dir = opendir(root);
    int empty = dir != NULL;
    struct dirent *entry;
    while (dir && (entry = readdir(dir)))
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            empty = 0;
    if (dir)
        closedir(dir);
    if (!empty) {
        fprintf(stderr, "posix-c: ROOT must be an empty preopened directory\n");
        return 2;
    }
    exclusive_and_fresh_files();
    seeking();
    times();
    trailing_slashes();
    directories();
    access_checks();
    escapes();
    too_long();
    open_files();
    unlink(at("excl.txt"));
    unlink(at("f.txt"));
    listing("root-at-end", root);
    printf("done\n");
    return 0;
}
