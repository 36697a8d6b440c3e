// libfuse3 low-level ops and the reader loop. Each op copies what it needs from the kernel
// request into a Req and queues it for JS; it never blocks. The reader loop waits on /dev/fuse
// (non-blocking) together with a stop pipe so a hand-over can stop reading between requests.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <unistd.h>

#include "filespace_fuse.h"

namespace fsfuse {

static Req* NewReq(fuse_req_t req, int op, uint64_t ino) {
  auto* s = static_cast<Session*>(fuse_req_userdata(req));
  Req* r = new Req();
  r->session = s;
  r->req = req;
  r->op = op;
  r->ino = ino;
  r->id = s->nextId.fetch_add(1);
  const struct fuse_ctx* c = fuse_req_ctx(req);
  r->uid = c->uid;
  r->gid = c->gid;
  r->pid = c->pid;
  return r;
}

static void SetFi(Req* r, const struct fuse_file_info* fi) {
  if (fi) {
    r->fh = fi->fh;
    r->hasFh = true;
  }
}

void Dispatch(Req* r) {
  Session* s = r->session;
  if (r->req) s->inflight.fetch_add(1);
  if (napi_call_threadsafe_function(s->tsfn, r, napi_tsfn_nonblocking) != napi_ok) {
    // The JS side is gone (shutting down): answer here so the kernel is never left waiting.
    if (r->req && r->op != OP_FORGET) fuse_reply_err(r->req, EIO);
    if (r->req) s->inflight.fetch_sub(1);
    free(r->data);
    delete r;
  }
}

static void OnInterrupt(fuse_req_t, void* data) {
  Req* orig = static_cast<Req*>(data);
  Req* r = new Req();
  r->session = orig->session;
  r->op = OP_INTERRUPT;
  r->id = orig->id;
  Dispatch(r);
}

static void Init(void* userdata, struct fuse_conn_info* conn) {
  auto* s = static_cast<Session*>(userdata);
  s->proto_minor = conn->proto_minor;
  // The kernel sends O_TRUNC opens as a separate setattr(size=0): the VFS need not know.
  conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
  unsigned want = FUSE_CAP_READDIRPLUS | FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ASYNC_READ;
  if (s->locks) want |= FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS;
  if (s->writebackCache) want |= FUSE_CAP_WRITEBACK_CACHE;
  // Splice only for replies: reading requests through a pipe (SPLICE_READ) makes libfuse copy
  // every write payload out of the pipe again; measured 129 vs 480 MB/s for 1 MiB writes.
  if (s->splice) want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
  conn->want &= ~FUSE_CAP_SPLICE_READ;
  conn->want |= want & conn->capable;
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;  // always readdirplus: one round trip per page
  conn->max_write = 1 << 20;
  conn->max_readahead = 1 << 20;
  conn->max_read = 1 << 20;  // must equal the max_read mount option
  conn->max_background = 64;
  conn->congestion_threshold = 48;
}

#define NAME_OP(fn, OP)                                                    \
  static void fn(fuse_req_t req, fuse_ino_t parent, const char* name) {   \
    Req* r = NewReq(req, OP, parent);                                      \
    r->name = name;                                                        \
    Dispatch(r);                                                           \
  }
NAME_OP(Lookup, OP_LOOKUP)
NAME_OP(Unlink, OP_UNLINK)
NAME_OP(Rmdir, OP_RMDIR)

static void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  ForgetInodeXattrs(static_cast<Session*>(fuse_req_userdata(req)), ino);
  Req* r = NewReq(req, OP_FORGET, ino);
  r->num[0] = (double)nlookup;
  r->req = nullptr;  // forget has no answer
  fuse_reply_none(req);
  Dispatch(r);
}

static void ForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; i++) {
    ForgetInodeXattrs(static_cast<Session*>(fuse_req_userdata(req)), forgets[i].ino);
    Req* r = NewReq(req, OP_FORGET, forgets[i].ino);
    r->num[0] = (double)forgets[i].nlookup;
    r->req = nullptr;
    Dispatch(r);
  }
  fuse_reply_none(req);
}

static void Getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_GETATTR, ino);
  SetFi(r, fi);
  Dispatch(r);
}

static void Setattr(fuse_req_t req, fuse_ino_t ino, struct stat* a, int to_set, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_SETATTR, ino);
  SetFi(r, fi);
  r->num[0] = to_set;
  r->num[1] = a->st_mode;
  r->num[2] = a->st_uid;
  r->num[3] = a->st_gid;
  r->num[4] = (double)a->st_size;
  r->num[5] = a->st_atim.tv_sec * 1e3 + a->st_atim.tv_nsec / 1e6;
  r->num[6] = a->st_mtim.tv_sec * 1e3 + a->st_mtim.tv_nsec / 1e6;
  Dispatch(r);
}

static void Readlink(fuse_req_t req, fuse_ino_t ino) { Dispatch(NewReq(req, OP_READLINK, ino)); }

static void Mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Req* r = NewReq(req, OP_MKNOD, parent);
  r->name = name;
  r->num[0] = mode;
  r->num[1] = (double)rdev;
  Dispatch(r);
}

static void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Req* r = NewReq(req, OP_MKDIR, parent);
  r->name = name;
  r->num[0] = mode;
  Dispatch(r);
}

static void Symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Req* r = NewReq(req, OP_SYMLINK, parent);
  r->name = name;
  r->name2 = link;
  Dispatch(r);
}

static void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                   const char* newname, unsigned int flags) {
  Req* r = NewReq(req, OP_RENAME, parent);
  r->name = name;
  r->ino2 = newparent;
  r->name2 = newname;
  r->num[0] = flags;
  Dispatch(r);
}

static void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Req* r = NewReq(req, OP_LINK, ino);
  r->ino2 = newparent;
  r->name = newname;
  Dispatch(r);
}

static void Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_OPEN, ino);
  r->num[0] = fi->flags;
  Dispatch(r);
}

static void Opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_OPENDIR, ino);
  r->num[0] = fi->flags;
  Dispatch(r);
}

static void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_READ, ino);
  SetFi(r, fi);
  r->num[0] = (double)size;
  r->num[1] = (double)off;
  Dispatch(r);
}

static void Readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_READDIRPLUS, ino);
  SetFi(r, fi);
  r->num[0] = (double)size;
  r->num[1] = (double)off;
  Dispatch(r);
}

static void Write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
                  struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_WRITE, ino);
  SetFi(r, fi);
  // The request buffer is reused as soon as we return: one copy into memory JS then owns.
  r->data = static_cast<char*>(malloc(size ? size : 1));
  memcpy(r->data, buf, size);
  r->dataLen = size;
  r->num[1] = (double)off;
  Dispatch(r);
}

static void Flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_FLUSH, ino);
  SetFi(r, fi);
  r->owner = fi->lock_owner;
  r->hasOwner = true;
  Dispatch(r);
}

static void Release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_RELEASE, ino);
  SetFi(r, fi);
  r->owner = fi->lock_owner;
  r->hasOwner = fi->flock_release;
  Dispatch(r);
}

static void Releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_RELEASEDIR, ino);
  SetFi(r, fi);
  Dispatch(r);
}

static void Fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_FSYNC, ino);
  SetFi(r, fi);
  r->num[0] = datasync;
  Dispatch(r);
}

static void Fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_FSYNCDIR, ino);
  SetFi(r, fi);
  r->num[0] = datasync;
  Dispatch(r);
}

static void Statfs(fuse_req_t req, fuse_ino_t ino) { Dispatch(NewReq(req, OP_STATFS, ino)); }

static void Setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                     int flags) {
  // Before JS sees the request: from now on the inode may have xattrs (xattr-memo.cc); fenced
  // until the answer (js.cc FinishReq).
  XattrSetStarted(static_cast<Session*>(fuse_req_userdata(req)), ino);
  Req* r = NewReq(req, OP_SETXATTR, ino);
  r->name = name;
  r->data = static_cast<char*>(malloc(size ? size : 1));
  memcpy(r->data, value, size);
  r->dataLen = size;
  r->num[0] = flags;
  Dispatch(r);
}

static void Getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  if (KnownNoXattrs(static_cast<Session*>(fuse_req_userdata(req)), ino)) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  Req* r = NewReq(req, OP_GETXATTR, ino);
  r->name = name;
  r->num[0] = (double)size;
  Dispatch(r);
}

static void Listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  if (KnownNoXattrs(static_cast<Session*>(fuse_req_userdata(req)), ino)) {
    if (size == 0) fuse_reply_xattr(req, 0);
    else fuse_reply_buf(req, nullptr, 0);
    return;
  }
  Req* r = NewReq(req, OP_LISTXATTR, ino);
  r->num[0] = (double)size;
  Dispatch(r);
}

NAME_OP(Removexattr, OP_REMOVEXATTR)

static void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_CREATE, parent);
  r->name = name;
  r->num[0] = mode;
  r->num[1] = fi->flags;
  Dispatch(r);
}

static void LockArgs(Req* r, struct fuse_file_info* fi, const struct flock* lk) {
  SetFi(r, fi);
  r->owner = fi->lock_owner;
  r->hasOwner = true;
  r->num[0] = lk->l_type;
  r->num[1] = (double)lk->l_start;
  r->num[2] = (double)lk->l_len;
  r->num[3] = lk->l_pid;
}

static void Getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lk) {
  Req* r = NewReq(req, OP_GETLK, ino);
  LockArgs(r, fi, lk);
  Dispatch(r);
}

static void Setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, struct flock* lk, int sleep) {
  Req* r = NewReq(req, OP_SETLK, ino);
  LockArgs(r, fi, lk);
  r->num[4] = sleep;
  if (sleep) fuse_req_interrupt_func(req, OnInterrupt, r);
  Dispatch(r);
}

static void Flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi, int op) {
  Req* r = NewReq(req, OP_FLOCK, ino);
  SetFi(r, fi);
  r->owner = fi->lock_owner;
  r->hasOwner = true;
  r->num[0] = op;
  if (!(op & LOCK_NB)) fuse_req_interrupt_func(req, OnInterrupt, r);
  Dispatch(r);
}

static void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                      struct fuse_file_info* fi) {
  Req* r = NewReq(req, OP_FALLOCATE, ino);
  SetFi(r, fi);
  r->num[0] = mode;
  r->num[1] = (double)offset;
  r->num[2] = (double)length;
  Dispatch(r);
}

static struct fuse_lowlevel_ops MakeOps() {
  struct fuse_lowlevel_ops o;
  memset(&o, 0, sizeof o);
  o.init = Init;
  o.lookup = Lookup;
  o.forget = Forget;
  o.forget_multi = ForgetMulti;
  o.getattr = Getattr;
  o.setattr = Setattr;
  o.readlink = Readlink;
  o.mknod = Mknod;
  o.mkdir = Mkdir;
  o.unlink = Unlink;
  o.rmdir = Rmdir;
  o.symlink = Symlink;
  o.rename = Rename;
  o.link = Link;
  o.open = Open;
  o.read = Read;
  o.write = Write;
  o.flush = Flush;
  o.release = Release;
  o.fsync = Fsync;
  o.opendir = Opendir;
  o.readdirplus = Readdirplus;
  o.releasedir = Releasedir;
  o.fsyncdir = Fsyncdir;
  o.statfs = Statfs;
  o.setxattr = Setxattr;
  o.getxattr = Getxattr;
  o.listxattr = Listxattr;
  o.removexattr = Removexattr;
  o.create = Create;
  o.getlk = Getlk;
  o.setlk = Setlk;
  o.flock = Flock;
  o.fallocate = Fallocate;
  return o;
}
const struct fuse_lowlevel_ops kOps = MakeOps();

// Each reader waits in its own epoll set in which /dev/fuse is EPOLLEXCLUSIVE: a request wakes
// one reader, not all of them. With plain poll() every request woke every reader, three of four
// read EAGAIN, and they fought over the device's queue lock: in `ls -l` of 10,000 entries the
// reader threads spent more CPU spinning on that lock than the JS thread spent answering.
// The stop pipe is in every set without the flag, so a stop (hand-over) wakes them all.
static void ReaderLoop(Session* s) {
  struct fuse_buf buf;
  memset(&buf, 0, sizeof buf);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event dev = {}, stop = {};
  dev.events = EPOLLIN | EPOLLEXCLUSIVE;
  dev.data.fd = s->fd;
  stop.events = EPOLLIN;
  stop.data.fd = s->stopPipe[0];
  bool closed = false;
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &dev) != 0 ||
      (s->stopPipe[0] >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, s->stopPipe[0], &stop) != 0)) {
    closed = true;  // cannot wait for requests at all: report the session closed
  }
  while (!closed && !s->stopping.load()) {
    struct epoll_event ev[2];
    int n = epoll_wait(ep, ev, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    bool ready = false, stopNow = false;
    for (int i = 0; i < n; i++) {
      if (ev[i].data.fd == s->stopPipe[0]) stopNow = true;
      else if (ev[i].events & (EPOLLERR | EPOLLHUP)) closed = true;
      else ready = true;
    }
    if (stopNow || closed || s->stopping.load()) break;
    if (!ready) continue;
    int res = fuse_session_receive_buf(s->se, &buf);
    if (res == -EAGAIN || res == -EINTR) continue;
    if (res <= 0) {
      closed = true;  // -ENODEV or 0: the file system was unmounted
      break;
    }
    if (!(buf.flags & FUSE_BUF_IS_FD) && (size_t)res >= sizeof(uint32_t) * 2) {
      // Keep the raw INIT so a successor process can replay it into its own session.
      uint32_t opcode;
      memcpy(&opcode, static_cast<char*>(buf.mem) + 4, 4);
      if (opcode == 26 /* FUSE_INIT */) {
        s->rawInit.assign(static_cast<char*>(buf.mem), static_cast<char*>(buf.mem) + res);
      }
    }
    fuse_session_process_buf(s->se, &buf);
  }
  if (ep >= 0) close(ep);
  free(buf.mem);
  if (s->running.fetch_sub(1) == 1 && closed && !s->stopping.load()) {
    Req* r = new Req();
    r->session = s;
    r->op = OP_CLOSED;
    Dispatch(r);
  }
}

void StartReaders(Session* s) {
  s->stopping = false;
  if (pipe2(s->stopPipe, O_CLOEXEC) != 0) s->stopPipe[0] = s->stopPipe[1] = -1;
  int flags = fcntl(s->fd, F_GETFL);
  fcntl(s->fd, F_SETFL, flags | O_NONBLOCK);
  s->running = s->threads;
  for (int i = 0; i < s->threads; i++) s->readers.emplace_back(ReaderLoop, s);
}

void StopReaders(Session* s) {
  s->stopping = true;
  if (s->stopPipe[1] >= 0) {
    char c = 1;
    (void)!write(s->stopPipe[1], &c, 1);
  }
  for (auto& t : s->readers)
    if (t.joinable()) t.join();
  s->readers.clear();
  if (s->stopPipe[0] >= 0) close(s->stopPipe[0]);
  if (s->stopPipe[1] >= 0) close(s->stopPipe[1]);
  s->stopPipe[0] = s->stopPipe[1] = -1;
}

}  // namespace fsfuse
