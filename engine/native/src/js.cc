// The JS side of dispatch: turn a queued Req into a call of the JS dispatcher
// dispatch(op, req, uid, gid, pid, ...op-specific arguments).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "filespace_fuse.h"

namespace fsfuse {

void FinishReq(Req* r) {
  // Called exactly once per answered request (replied flag guards it).
  if (r->op == OP_SETXATTR) XattrSetAnswered(r->session, r->ino);
  r->session->inflight.fetch_sub(1);
}

static void FinalizeReq(napi_env, void* data, void*) {
  Req* r = static_cast<Req*>(data);
  if (r->req && !r->replied.exchange(true)) {
    // JS dropped the request without answering: answer it now rather than hang the caller.
    fuse_reply_err(r->req, EIO);
    FinishReq(r);
  }
  free(r->data);
  delete r;
}

napi_value ReqExternal(napi_env env, Req* r) {
  napi_value v;
  napi_create_external(env, r, FinalizeReq, nullptr, &v);
  return v;
}

Req* ReqOf(napi_env env, napi_value v) {
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok) return nullptr;
  return static_cast<Req*>(p);
}

static void FreeData(napi_env, void* data, void*) { free(data); }

void CallJs(napi_env env, napi_value js_cb, void*, void* data) {
  Req* r = static_cast<Req*>(data);
  if (env == nullptr || js_cb == nullptr) {  // tearing down
    if (r->req && !r->replied.exchange(true)) {
      fuse_reply_err(r->req, EIO);
      FinishReq(r);
    }
    free(r->data);
    delete r;
    return;
  }
  napi_value args[16];
  size_t n = 0;
  auto num = [&](double d) { napi_create_double(env, d, &args[n++]); };
  auto str = [&](const std::string& s) { napi_create_string_utf8(env, s.data(), s.size(), &args[n++]); };
  auto undef = [&]() { napi_get_undefined(env, &args[n++]); };
  auto owner = [&]() {
    if (r->hasOwner) napi_create_bigint_uint64(env, r->owner, &args[n++]);
    else undef();
  };
  auto fh = [&]() {
    if (r->hasFh) num((double)r->fh);
    else undef();
  };
  auto payload = [&]() {
    // Hand the malloc'd copy to JS without copying again; JS frees it via the finalizer.
    napi_create_external_buffer(env, r->dataLen, r->data, FreeData, nullptr, &args[n++]);
    r->data = nullptr;
  };

  num(r->op);
  bool answerable = r->req != nullptr;
  Req* owned = nullptr;
  if (answerable) {
    args[n++] = ReqExternal(env, r);
  } else {
    undef();
    owned = r;  // forget / interrupt / closed: nothing to answer, free after the call
  }
  num(r->uid);
  num(r->gid);
  num(r->pid);
  switch (r->op) {
    case OP_LOOKUP: case OP_UNLINK: case OP_RMDIR: case OP_REMOVEXATTR:
      num((double)r->ino); str(r->name); break;
    case OP_FORGET: num((double)r->ino); num(r->num[0]); break;
    case OP_GETATTR: case OP_RELEASEDIR: num((double)r->ino); fh(); break;
    case OP_SETATTR:
      num((double)r->ino); fh();
      for (int i = 0; i < 7; i++) num(r->num[i]);
      break;
    case OP_READLINK: case OP_STATFS: num((double)r->ino); break;
    case OP_MKNOD: num((double)r->ino); str(r->name); num(r->num[0]); num(r->num[1]); break;
    case OP_MKDIR: num((double)r->ino); str(r->name); num(r->num[0]); break;
    case OP_SYMLINK: num((double)r->ino); str(r->name); str(r->name2); break;
    case OP_RENAME:
      num((double)r->ino); str(r->name); num((double)r->ino2); str(r->name2); num(r->num[0]);
      break;
    case OP_LINK: num((double)r->ino); num((double)r->ino2); str(r->name); break;
    case OP_OPEN: case OP_OPENDIR: num((double)r->ino); num(r->num[0]); break;
    case OP_READ: case OP_READDIRPLUS: num((double)r->ino); fh(); num(r->num[0]); num(r->num[1]); break;
    case OP_WRITE: num((double)r->ino); fh(); payload(); num(r->num[1]); break;
    case OP_FLUSH: case OP_RELEASE: num((double)r->ino); fh(); owner(); break;
    case OP_FSYNC: case OP_FSYNCDIR: num((double)r->ino); fh(); num(r->num[0]); break;
    case OP_SETXATTR: num((double)r->ino); str(r->name); payload(); num(r->num[0]); break;
    case OP_GETXATTR: num((double)r->ino); str(r->name); num(r->num[0]); break;
    case OP_LISTXATTR: num((double)r->ino); num(r->num[0]); break;
    case OP_CREATE: num((double)r->ino); str(r->name); num(r->num[0]); num(r->num[1]); break;
    case OP_GETLK: case OP_SETLK:
      num((double)r->ino); fh(); owner();
      for (int i = 0; i < 5; i++) num(r->num[i]);
      num((double)r->id);
      break;
    case OP_FLOCK: num((double)r->ino); fh(); owner(); num(r->num[0]); num((double)r->id); break;
    case OP_FALLOCATE: num((double)r->ino); fh(); num(r->num[0]); num(r->num[1]); num(r->num[2]); break;
    case OP_INTERRUPT: num((double)r->id); break;
    default: break;
  }
  napi_value global, result;
  napi_get_global(env, &global);
  napi_status st = napi_call_function(env, global, js_cb, n, args, &result);
  if (st == napi_pending_exception) {
    // The dispatcher must not throw; if it does, log and answer EIO now.
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    fprintf(stderr, "filespace_fuse: dispatcher threw for op %d; answering EIO\n", r->op);
    if (answerable && !r->replied.exchange(true)) {
      fuse_reply_err(r->req, EIO);
      FinishReq(r);
    }
  }
  if (owned) {
    free(owned->data);
    delete owned;
  }
}

}  // namespace fsfuse
