// Shared declarations of the filespace_fuse N-API addon (libfuse3 low-level API).
//
// Design: libfuse reader threads (our own loop, see session.cc) turn every kernel request into
// a heap `Req` and hand it to the JS thread through a napi threadsafe function; they never
// wait for JS. JS answers later by calling a reply function with the request object (an
// external). A request that JS drops without answering is answered EIO by the external's
// finalizer, so no request is left unanswered even when JS has a bug.
#pragma once
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <node_api.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace fsfuse {

// Keep in sync with engine/src/fuse/native-ops.ts.
enum Op {
  OP_LOOKUP = 0, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK,
  OP_RMDIR, OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE,
  OP_FSYNC, OP_OPENDIR, OP_READDIRPLUS, OP_RELEASEDIR, OP_FSYNCDIR, OP_STATFS, OP_SETXATTR,
  OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_CREATE, OP_GETLK, OP_SETLK, OP_FLOCK,
  OP_FALLOCATE, OP_INTERRUPT, OP_CLOSED
};

struct Session;

// xattr-memo.cc: SETXATTRs of an inode not answered yet; replies to requests older than
// `trustedFrom` may predate the last one.
struct XattrFence {
  int setsInFlight = 0;
  uint64_t trustedFrom = 0;
};

struct Req {
  Session* session = nullptr;
  fuse_req_t req = nullptr;
  int op = 0;
  uint64_t id = 0;
  std::atomic<bool> replied{false};
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  uint64_t ino = 0, ino2 = 0, fh = 0, owner = 0;
  bool hasFh = false, hasOwner = false;
  std::string name, name2;
  double num[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  char* data = nullptr;  // write / setxattr payload (ownership moves to a JS buffer)
  size_t dataLen = 0;
};

struct Session {
  struct fuse_session* se = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  std::vector<std::thread> readers;
  int stopPipe[2] = {-1, -1};
  int fd = -1;
  int threads = 4;
  bool writebackCache = false;
  bool splice = true;
  bool locks = true;
  std::atomic<int> running{0};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> nextId{1};
  std::atomic<int64_t> inflight{0};
  // The raw FUSE_INIT request, replayed into a successor's session (handover).
  std::vector<char> rawInit;
  unsigned proto_minor = 0;
  // xattr-memo.cc: inode → until when (CLOCK_MONOTONIC ms) it is known to carry no xattrs, and
  // the fences that keep replies older than a local SETXATTR from teaching otherwise.
  std::mutex xattrMu;
  std::unordered_map<uint64_t, int64_t> noXattrsUntil;
  std::unordered_map<uint64_t, XattrFence> xattrFences;
  uint64_t xattrTrustedFrom = 0;
};

// session.cc
extern const struct fuse_lowlevel_ops kOps;
void StartReaders(Session* s);
void StopReaders(Session* s);
void Dispatch(Req* r);
// js.cc
void CallJs(napi_env env, napi_value js_cb, void* context, void* data);
napi_value ReqExternal(napi_env env, Req* r);
Req* ReqOf(napi_env env, napi_value v);
void FinishReq(Req* r);
// xattr-memo.cc
void NoteXattrs(Session* s, uint64_t ino, bool none, double ttlSeconds, uint64_t reqId);
void ForgetXattrs(Session* s, uint64_t ino);
void ForgetInodeXattrs(Session* s, uint64_t ino);
void XattrSetStarted(Session* s, uint64_t ino);
void XattrSetAnswered(Session* s, uint64_t ino);
bool KnownNoXattrs(Session* s, uint64_t ino);
// reply.cc / handover.cc / module.cc
void RegisterReplies(napi_env env, napi_value exports);
void RegisterHandover(napi_env env, napi_value exports);
void ThrowErr(napi_env env, const std::string& msg);

}  // namespace fsfuse
