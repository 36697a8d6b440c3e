// Reply functions JS calls with a request external. Each answers the kernel at most once
// (the Req's replied flag), so a late or duplicate reply from JS is ignored, never a crash.
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <string>
#include <vector>

#include "filespace_fuse.h"

namespace fsfuse {

static double GetNum(napi_env env, napi_value obj, const char* key, double dflt = 0) {
  napi_value v;
  double d = dflt;
  if (napi_get_named_property(env, obj, key, &v) == napi_ok) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_number) napi_get_value_double(env, v, &d);
  }
  return d;
}

static struct timespec Ts(double ms) {
  struct timespec t;
  double s = floor(ms / 1e3);
  t.tv_sec = (time_t)s;
  t.tv_nsec = (long)((ms - s * 1e3) * 1e6);
  return t;
}

static void ToStat(napi_env env, napi_value a, struct stat* st) {
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)GetNum(env, a, "ino");
  st->st_mode = (mode_t)GetNum(env, a, "mode");
  st->st_nlink = (nlink_t)GetNum(env, a, "nlink", 1);
  st->st_uid = (uid_t)GetNum(env, a, "uid");
  st->st_gid = (gid_t)GetNum(env, a, "gid");
  st->st_size = (off_t)GetNum(env, a, "size");
  st->st_blocks = (blkcnt_t)GetNum(env, a, "blocks");
  st->st_rdev = (dev_t)GetNum(env, a, "rdev");
  st->st_blksize = 4096;
  st->st_atim = Ts(GetNum(env, a, "atimeMs"));
  st->st_mtim = Ts(GetNum(env, a, "mtimeMs"));
  st->st_ctim = Ts(GetNum(env, a, "ctimeMs"));
}

// attr.noXattrs === true: the inode had no xattrs when these attributes were read; the reader
// threads answer its GETXATTR/LISTXATTR for as long as the kernel keeps them (xattr-memo.cc).
static void NoteAttrXattrs(napi_env env, const Req* r, napi_value attr, double attrTimeout) {
  napi_value v;
  bool none = false;
  if (napi_get_named_property(env, attr, "noXattrs", &v) == napi_ok) napi_get_value_bool(env, v, &none);
  NoteXattrs(r->session, (uint64_t)GetNum(env, attr, "ino"), none, attrTimeout, r->id);
}

// entry = { attr, entryTimeout, attrTimeout, generation? }
static void ToEntry(napi_env env, const Req* r, napi_value e, struct fuse_entry_param* p) {
  memset(p, 0, sizeof *p);
  napi_value attr;
  napi_get_named_property(env, e, "attr", &attr);
  ToStat(env, attr, &p->attr);
  p->ino = p->attr.st_ino;
  p->generation = (uint64_t)GetNum(env, e, "generation");
  p->entry_timeout = GetNum(env, e, "entryTimeout");
  p->attr_timeout = GetNum(env, e, "attrTimeout");
  if (p->ino != 0) NoteAttrXattrs(env, r, attr, p->attr_timeout);
}

// open = { fh, keepCache?, directIo?, nonSeekable? }
static void ToFi(napi_env env, napi_value o, struct fuse_file_info* fi) {
  memset(fi, 0, sizeof *fi);
  fi->fh = (uint64_t)GetNum(env, o, "fh");
  fi->keep_cache = GetNum(env, o, "keepCache") != 0;
  fi->direct_io = GetNum(env, o, "directIo") != 0;
  fi->nonseekable = GetNum(env, o, "nonSeekable") != 0;
  napi_value v;
  bool b = false;
  if (napi_get_named_property(env, o, "keepCache", &v) == napi_ok) napi_get_value_bool(env, v, &b);
  fi->keep_cache = fi->keep_cache || b;
  b = false;
  if (napi_get_named_property(env, o, "directIo", &v) == napi_ok) napi_get_value_bool(env, v, &b);
  fi->direct_io = fi->direct_io || b;
}

// Claims the request for answering; null when already answered or invalid.
static Req* Claim(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_get_cb_info(env, info, argc, argv, nullptr, nullptr);
  if (*argc < 1) return nullptr;
  Req* r = ReqOf(env, argv[0]);
  if (!r || !r->req || r->replied.exchange(true)) return nullptr;
  return r;
}

static napi_value Result(napi_env env, int res) {
  napi_value v;
  napi_create_int32(env, res, &v);
  return v;
}

#define REPLY_FN(NAME, NARGS, BODY)                                   \
  static napi_value NAME(napi_env env, napi_callback_info info) {     \
    size_t argc = NARGS;                                              \
    napi_value argv[NARGS];                                           \
    Req* r = Claim(env, info, &argc, argv);                           \
    if (!r) return Result(env, -EALREADY);                            \
    int res;                                                          \
    BODY                                                              \
    FinishReq(r);                                                     \
    return Result(env, res);                                          \
  }

static double Arg(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

REPLY_FN(ReplyErr, 2, { res = fuse_reply_err(r->req, (int)Arg(env, argv[1])); })
REPLY_FN(ReplyNone, 1, { fuse_reply_none(r->req); res = 0; })
REPLY_FN(ReplyEntry, 2, {
  struct fuse_entry_param p;
  ToEntry(env, r, argv[1], &p);
  res = fuse_reply_entry(r->req, &p);
})
REPLY_FN(ReplyCreate, 3, {
  struct fuse_entry_param p;
  struct fuse_file_info fi;
  ToEntry(env, r, argv[1], &p);
  ToFi(env, argv[2], &fi);
  res = fuse_reply_create(r->req, &p, &fi);
})
REPLY_FN(ReplyAttr, 3, {
  struct stat st;
  ToStat(env, argv[1], &st);
  NoteAttrXattrs(env, r, argv[1], Arg(env, argv[2]));
  res = fuse_reply_attr(r->req, &st, Arg(env, argv[2]));
})
REPLY_FN(ReplyOpen, 2, {
  struct fuse_file_info fi;
  ToFi(env, argv[1], &fi);
  res = fuse_reply_open(r->req, &fi);
})
// Large replies are written to /dev/fuse from a libuv pool thread: the kernel copies the data
// into the page cache during that write, and doing it off the JS thread lets several replies
// (readahead keeps two in flight) copy in parallel while JS serves the next request.
static const size_t kAsyncReplyBytes = 64 * 1024;

struct BufReply {
  napi_async_work work;
  napi_ref keepData;  // the JS buffer (or array of buffers) stays alive until the kernel copied it
  napi_ref keepReq;   // and so does the request external (its finalizer frees the Req)
  napi_ref done;      // optional JS callback: the memory may be reused once it is called
  Req* r;
  std::vector<struct iovec> iov;
};

// Most iovecs one reply takes (a 1 MiB read of 64 KiB blocks is 17); JS joins longer lists.
static const uint32_t kMaxReplyIov = 256;

// Calls the optional `done` argument (a function): the reply no longer reads the buffers.
static void CallDone(napi_env env, napi_value fn) {
  napi_valuetype t;
  if (fn == nullptr || napi_typeof(env, fn, &t) != napi_ok || t != napi_function) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, fn, 0, nullptr, nullptr);
}

// data: one Buffer, or an array of Buffers sent back to back (a read answered from cached
// blocks without joining them first). Zero-copy: the kernel reads straight out of the JS memory.
// done (optional): called once the kernel has the bytes — synchronously for small replies, after
// the pool thread's write for large ones — and on every error path, so the caller may reuse
// the buffers' memory (data/block-cache/plain-slab.ts) only then.
static napi_value ReplyBuf(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3] = {nullptr, nullptr, nullptr};
  Req* r = Claim(env, info, &argc, argv);
  napi_value done = nullptr;
  napi_valuetype doneType;
  if (argc >= 3 && napi_typeof(env, argv[2], &doneType) == napi_ok && doneType == napi_function) done = argv[2];
  if (!r) {
    CallDone(env, done);
    return Result(env, -EALREADY);
  }
  std::vector<struct iovec> iov;
  size_t total = 0;
  bool isArray = false;
  napi_is_array(env, argv[1], &isArray);
  uint32_t count = 1;
  if (isArray) napi_get_array_length(env, argv[1], &count);
  bool bad = count > kMaxReplyIov;
  if (!bad) iov.reserve(count);
  for (uint32_t i = 0; i < count && !bad; i++) {
    napi_value item = argv[1];
    if (isArray) napi_get_element(env, argv[1], i, &item);
    void* data = nullptr;
    size_t len = 0;
    if (napi_get_buffer_info(env, item, &data, &len) != napi_ok) bad = true;
    if (len > 0) iov.push_back({data, len});
    total += len;
  }
  if (bad) {
    fuse_reply_err(r->req, EINVAL);
    FinishReq(r);
    CallDone(env, done);
    return Result(env, -EINVAL);
  }
  if (total < kAsyncReplyBytes) {
    int res = fuse_reply_iov(r->req, iov.data(), (int)iov.size());
    FinishReq(r);
    CallDone(env, done);
    return Result(env, res);
  }
  auto* b = new BufReply{nullptr, nullptr, nullptr, nullptr, r, std::move(iov)};
  napi_create_reference(env, argv[1], 1, &b->keepData);
  napi_create_reference(env, argv[0], 1, &b->keepReq);
  if (done != nullptr) napi_create_reference(env, done, 1, &b->done);
  napi_value name;
  napi_create_string_utf8(env, "filespace_fuse reply", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      env, nullptr, name,
      [](napi_env, void* d) {
        auto* b = static_cast<BufReply*>(d);
        fuse_reply_iov(b->r->req, b->iov.data(), (int)b->iov.size());
        FinishReq(b->r);
      },
      [](napi_env env, napi_status, void* d) {
        auto* b = static_cast<BufReply*>(d);
        if (b->done != nullptr) {
          napi_value fn;
          if (napi_get_reference_value(env, b->done, &fn) == napi_ok) CallDone(env, fn);
          napi_delete_reference(env, b->done);
        }
        napi_delete_reference(env, b->keepData);
        napi_delete_reference(env, b->keepReq);
        napi_delete_async_work(env, b->work);
        delete b;
      },
      b, &b->work);
  napi_queue_async_work(env, b->work);
  return Result(env, 0);
}
REPLY_FN(ReplyWrite, 2, { res = fuse_reply_write(r->req, (size_t)Arg(env, argv[1])); })
REPLY_FN(ReplyXattrSize, 2, { res = fuse_reply_xattr(r->req, (size_t)Arg(env, argv[1])); })
REPLY_FN(ReplyReadlink, 2, {
  size_t len = 0;
  napi_get_value_string_utf8(env, argv[1], nullptr, 0, &len);
  std::string s(len + 1, '\0');
  napi_get_value_string_utf8(env, argv[1], &s[0], len + 1, &len);
  res = fuse_reply_readlink(r->req, s.c_str());
})
REPLY_FN(ReplyStatfs, 2, {
  struct statvfs sv;
  memset(&sv, 0, sizeof sv);
  sv.f_bsize = (unsigned long)GetNum(env, argv[1], "bsize");
  sv.f_frsize = (unsigned long)GetNum(env, argv[1], "frsize");
  sv.f_blocks = (fsblkcnt_t)GetNum(env, argv[1], "blocks");
  sv.f_bfree = (fsblkcnt_t)GetNum(env, argv[1], "bfree");
  sv.f_bavail = (fsblkcnt_t)GetNum(env, argv[1], "bavail");
  sv.f_files = (fsfilcnt_t)GetNum(env, argv[1], "files");
  sv.f_ffree = (fsfilcnt_t)GetNum(env, argv[1], "ffree");
  sv.f_favail = sv.f_ffree;
  sv.f_namemax = (unsigned long)GetNum(env, argv[1], "namemax");
  res = fuse_reply_statfs(r->req, &sv);
})
// replyLock(req, type(F_*), start, len(0 = to EOF), pid)
REPLY_FN(ReplyLock, 5, {
  struct flock lk;
  memset(&lk, 0, sizeof lk);
  lk.l_type = (short)Arg(env, argv[1]);
  lk.l_whence = SEEK_SET;
  lk.l_start = (off_t)Arg(env, argv[2]);
  lk.l_len = (off_t)Arg(env, argv[3]);
  lk.l_pid = (pid_t)Arg(env, argv[4]);
  res = fuse_reply_lock(r->req, &lk);
})

// replyDirplus(req, size, entries: Array<{name, cookie, entry}>) → number of entries sent
// (negative errno on failure). JS forgets the lookups of entries that did not fit.
static napi_value ReplyDirplus(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Req* r = Claim(env, info, &argc, argv);
  if (!r) return Result(env, -EALREADY);
  size_t size = (size_t)Arg(env, argv[1]);
  std::string buf(size, '\0');
  size_t used = 0;
  uint32_t count = 0, sent = 0;
  napi_get_array_length(env, argv[2], &count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item, nameV, entryV;
    napi_get_element(env, argv[2], i, &item);
    napi_get_named_property(env, item, "name", &nameV);
    napi_get_named_property(env, item, "entry", &entryV);
    size_t nlen = 0;
    napi_get_value_string_utf8(env, nameV, nullptr, 0, &nlen);
    std::string name(nlen + 1, '\0');
    napi_get_value_string_utf8(env, nameV, &name[0], nlen + 1, &nlen);
    name.resize(nlen);
    struct fuse_entry_param p;
    ToEntry(env, r, entryV, &p);
    off_t cookie = (off_t)GetNum(env, item, "cookie");
    size_t need = fuse_add_direntry_plus(r->req, nullptr, 0, name.c_str(), &p, cookie);
    if (used + need > size) break;
    fuse_add_direntry_plus(r->req, &buf[used], size - used, name.c_str(), &p, cookie);
    used += need;
    sent++;
  }
  int res = fuse_reply_buf(r->req, buf.data(), used);
  FinishReq(r);
  return Result(env, res < 0 ? res : (int)sent);
}

// listxattr reply: names joined with NULs, or only the size when the kernel asked for it.
void RegisterReplies(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"replyErr", nullptr, ReplyErr, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyNone", nullptr, ReplyNone, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyEntry", nullptr, ReplyEntry, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyCreate", nullptr, ReplyCreate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyAttr", nullptr, ReplyAttr, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyOpen", nullptr, ReplyOpen, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyBuf", nullptr, ReplyBuf, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyWrite", nullptr, ReplyWrite, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyXattrSize", nullptr, ReplyXattrSize, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyReadlink", nullptr, ReplyReadlink, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyStatfs", nullptr, ReplyStatfs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyLock", nullptr, ReplyLock, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"replyDirplus", nullptr, ReplyDirplus, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}

}  // namespace fsfuse
