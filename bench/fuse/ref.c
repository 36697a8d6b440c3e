// C reference for bench/fuse.mjs: a minimal libfuse3 low-level file system keeping a flat
// directory of files in memory, served with libfuse's own multi-threaded loop and the same
// max_read/max_write (1 MiB) as the project's addon. It answers synchronously from the reader
// threads: the fastest a libfuse3 file system can be on this machine.
#define FUSE_USE_VERSION 34
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXF 200000
struct file { char *name; char *data; size_t size, cap; int used; };
static struct file files[MAXF];
static int nfiles = 0;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void st_of(fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  if (ino == 1) { st->st_mode = S_IFDIR | 0755; st->st_nlink = 2; return; }
  st->st_mode = S_IFREG | 0644; st->st_nlink = 1; st->st_size = files[ino - 2].size;
  st->st_blocks = (st->st_size + 511) / 512; st->st_blksize = 4096;
}
static void reply_entry(fuse_req_t req, fuse_ino_t ino) {
  struct fuse_entry_param e; memset(&e, 0, sizeof e);
  e.ino = ino; e.attr_timeout = 1; e.entry_timeout = 1; st_of(ino, &e.attr);
  fuse_reply_entry(req, &e);
}
static int find(const char *name) {
  for (int i = 0; i < nfiles; i++) if (files[i].used && !strcmp(files[i].name, name)) return i;
  return -1;
}
static void init(void *u, struct fuse_conn_info *c) {
  (void)u; c->max_write = 1 << 20; c->max_read = 1 << 20; c->max_readahead = 1 << 20;
  c->want &= ~FUSE_CAP_SPLICE_READ; c->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}
static void lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  pthread_mutex_lock(&mu); int i = parent == 1 ? find(name) : -1; pthread_mutex_unlock(&mu);
  if (i < 0) fuse_reply_err(req, ENOENT); else reply_entry(req, i + 2);
}
static void getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi; struct stat st; st_of(ino, &st); fuse_reply_attr(req, &st, 1);
}
static void setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int to_set, struct fuse_file_info *fi) {
  (void)fi;
  if (ino > 1 && (to_set & FUSE_SET_ATTR_SIZE)) {
    pthread_mutex_lock(&mu);
    struct file *f = &files[ino - 2];
    if ((size_t)a->st_size > f->cap) { f->cap = a->st_size; f->data = realloc(f->data, f->cap); }
    if ((size_t)a->st_size > f->size) memset(f->data + f->size, 0, a->st_size - f->size);
    f->size = a->st_size;
    pthread_mutex_unlock(&mu);
  }
  getattr(req, ino, NULL);
}
static void create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t m, struct fuse_file_info *fi) {
  (void)parent; (void)m;
  pthread_mutex_lock(&mu);
  int i = find(name);
  if (i < 0 && nfiles < MAXF) { i = nfiles++; files[i].name = strdup(name); files[i].used = 1; }
  pthread_mutex_unlock(&mu);
  if (i < 0) { fuse_reply_err(req, ENOSPC); return; }
  struct fuse_entry_param e; memset(&e, 0, sizeof e);
  e.ino = i + 2; e.attr_timeout = 1; e.entry_timeout = 1; st_of(e.ino, &e.attr);
  fuse_reply_create(req, &e, fi);
}
static void unlink_(fuse_req_t req, fuse_ino_t parent, const char *name) {
  (void)parent; pthread_mutex_lock(&mu); int i = find(name);
  if (i >= 0) { files[i].used = 0; free(files[i].name); files[i].name = NULL; }
  pthread_mutex_unlock(&mu); fuse_reply_err(req, i < 0 ? ENOENT : 0);
}
static void open_(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (ino == 1) fuse_reply_err(req, EISDIR); else fuse_reply_open(req, fi);
}
static void read_(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi; struct file *f = &files[ino - 2];
  if ((size_t)off >= f->size) { fuse_reply_buf(req, NULL, 0); return; }
  if (off + size > f->size) size = f->size - off;
  fuse_reply_buf(req, f->data + off, size);
}
static void write_(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi; pthread_mutex_lock(&mu); struct file *f = &files[ino - 2];
  if (off + size > f->cap) { f->cap = (off + size) * 2; f->data = realloc(f->data, f->cap); }
  memcpy(f->data + off, buf, size); if (off + size > f->size) f->size = off + size;
  pthread_mutex_unlock(&mu); fuse_reply_write(req, size);
}
static void readdir_(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)ino; (void)fi; char *buf = calloc(1, size); size_t used = 0; struct stat st;
  pthread_mutex_lock(&mu);
  for (int i = off; i < nfiles; i++) {
    if (!files[i].used) continue;
    st_of(i + 2, &st);
    size_t n = fuse_add_direntry(req, buf + used, size - used, files[i].name, &st, i + 1);
    if (used + n > size) break;
    used += n;
  }
  pthread_mutex_unlock(&mu); fuse_reply_buf(req, buf, used); free(buf);
}
static void opendir_(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { (void)ino; fuse_reply_open(req, fi); }
static void ok(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { (void)ino; (void)fi; fuse_reply_err(req, 0); }

static const struct fuse_lowlevel_ops ops = {
  .init = init, .lookup = lookup, .getattr = getattr, .setattr = setattr, .create = create,
  .unlink = unlink_, .open = open_, .read = read_, .write = write_, .readdir = readdir_,
  .flush = ok, .release = ok, .opendir = opendir_, .releasedir = ok,
};

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: ref MOUNTPOINT\n"); return 2; }
  char *args[] = {argv[0], "-o", "fsname=cref,max_read=1048576,default_permissions"};
  struct fuse_args fa = FUSE_ARGS_INIT(3, args);
  struct fuse_session *se = fuse_session_new(&fa, &ops, sizeof ops, NULL);
  if (!se || fuse_session_mount(se, argv[1]) != 0) return 1;
  fuse_set_signal_handlers(se);
  printf("ready\n"); fflush(stdout);
  struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = 10};
  int r = fuse_session_loop_mt(se, &cfg);
  fuse_session_unmount(se); fuse_remove_signal_handlers(se); fuse_session_destroy(se);
  return r;
}
