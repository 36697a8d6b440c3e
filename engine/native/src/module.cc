// Module entry: mount/adopt a session, stop/unmount it, kernel cache invalidation.
// Calls that may block in the kernel (invalidation, joining reader threads, umount) run in
// libuv pool threads and return promises, so the JS thread keeps answering requests.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "filespace_fuse.h"

namespace fsfuse {

void ThrowErr(napi_env env, const std::string& msg) { napi_throw_error(env, nullptr, msg.c_str()); }

static std::string Str(napi_env env, napi_value v) {
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  std::string s(len + 1, '\0');
  napi_get_value_string_utf8(env, v, &s[0], len + 1, &len);
  s.resize(len);
  return s;
}

static double Num(napi_env env, napi_value obj, const char* key, double dflt) {
  napi_value v;
  napi_valuetype t;
  double d = dflt;
  if (napi_get_named_property(env, obj, key, &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok) {
    if (t == napi_number) napi_get_value_double(env, v, &d);
    if (t == napi_boolean) {
      bool b;
      napi_get_value_bool(env, v, &b);
      d = b;
    }
  }
  return d;
}

static Session* SessionOf(napi_env env, napi_value v) {
  void* p = nullptr;
  napi_get_value_external(env, v, &p);
  return static_cast<Session*>(p);
}

// Runs `work` in a pool thread; resolves with its int result (negative errno = failure).
struct AsyncCall {
  napi_async_work work;
  napi_deferred deferred;
  std::function<int()> fn;
  int result = 0;
};

static napi_value RunAsync(napi_env env, std::function<int()> fn) {
  auto* c = new AsyncCall();
  c->fn = std::move(fn);
  napi_value promise, name;
  napi_create_promise(env, &c->deferred, &promise);
  napi_create_string_utf8(env, "filespace_fuse", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      env, nullptr, name, [](napi_env, void* d) { auto* c = static_cast<AsyncCall*>(d); c->result = c->fn(); },
      [](napi_env env, napi_status, void* d) {
        auto* c = static_cast<AsyncCall*>(d);
        napi_value v;
        napi_create_int32(env, c->result, &v);
        napi_resolve_deferred(env, c->deferred, v);
        napi_delete_async_work(env, c->work);
        delete c;
      },
      c, &c->work);
  napi_queue_async_work(env, c->work);
  return promise;
}

static bool MakeSession(napi_env env, Session* s, napi_value config, napi_value dispatch,
                        const std::vector<std::string>& args) {
  s->threads = (int)Num(env, config, "threads", 4);
  if (s->threads < 1) s->threads = 1;
  s->writebackCache = Num(env, config, "writebackCache", 0) != 0;
  s->splice = Num(env, config, "splice", 1) != 0;
  s->locks = Num(env, config, "locks", 1) != 0;
  napi_value name;
  napi_create_string_utf8(env, "filespace_fuse dispatch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, dispatch, nullptr, name, 0, 1, nullptr, nullptr, s, CallJs,
                                      &s->tsfn) != napi_ok) {
    ThrowErr(env, "cannot create the dispatch function");
    return false;
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  struct fuse_args fa = FUSE_ARGS_INIT((int)argv.size(), argv.data());
  s->se = fuse_session_new(&fa, &kOps, sizeof kOps, s);
  if (!s->se) {
    ThrowErr(env, "fuse_session_new failed (bad options?)");
    return false;
  }
  return true;
}

// mount(mountpoint, args: string[] (e.g. ["-o", "allow_other,..."]), config, dispatch) → session
static napi_value Mount(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string mp = Str(env, argv[0]);
  std::vector<std::string> args{"filespace"};
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    args.push_back(Str(env, v));
  }
  auto* s = new Session();
  if (!MakeSession(env, s, argv[2], argv[3], args)) return nullptr;
  if (fuse_session_mount(s->se, mp.c_str()) != 0) {
    fuse_session_destroy(s->se);
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    ThrowErr(env, "mount of " + mp + " failed (see stderr)");
    return nullptr;
  }
  s->fd = fuse_session_fd(s->se);
  StartReaders(s);
  napi_value out;
  napi_create_external(env, s, nullptr, nullptr, &out);
  return out;
}

// adopt(fd, rawInit: Buffer, config, dispatch) → session: resume serving a mount whose
// /dev/fuse descriptor came from a predecessor. The kernel will not send INIT again, so the
// predecessor's INIT is replayed into this session (its reply goes to an answered request id
// and the kernel discards it).
static napi_value Adopt(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  void* init = nullptr;
  size_t initLen = 0;
  napi_get_buffer_info(env, argv[1], &init, &initLen);
  if (initLen < 40) {
    ThrowErr(env, "adopt: the predecessor's INIT request is missing");
    return nullptr;
  }
  auto* s = new Session();
  // max_read must match what Init() asks for, as on the original mount.
  if (!MakeSession(env, s, argv[2], argv[3], {"filespace", "-o", "max_read=1048576"})) return nullptr;
  std::string devfd = "/dev/fd/" + std::to_string(fd);
  if (fuse_session_mount(s->se, devfd.c_str()) != 0) {
    ThrowErr(env, "adopt: libfuse rejected " + devfd);
    return nullptr;
  }
  s->fd = fd;
  s->rawInit.assign(static_cast<char*>(init), static_cast<char*>(init) + initLen);
  struct fuse_buf b;
  memset(&b, 0, sizeof b);
  b.size = initLen;
  b.mem = malloc(initLen);
  memcpy(b.mem, init, initLen);
  fuse_session_process_buf(s->se, &b);
  free(b.mem);
  if (fuse_session_exited(s->se)) {
    ThrowErr(env, "adopt: libfuse refused the replayed INIT (see stderr)");
    return nullptr;
  }
  StartReaders(s);
  napi_value out;
  napi_create_external(env, s, nullptr, nullptr, &out);
  return out;
}

// stop(session) → Promise: stop reading new requests (answers for in-flight ones still go out).
static napi_value Stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = SessionOf(env, argv[0]);
  return RunAsync(env, [s]() { StopReaders(s); return 0; });
}

// unmount(session, mountpoint) → Promise<0 | -errno>: detach the mount and stop the readers.
static napi_value Unmount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = SessionOf(env, argv[0]);
  std::string mp = Str(env, argv[1]);
  return RunAsync(env, [s, mp]() {
    int res = umount2(mp.c_str(), 0) == 0 ? 0 : -errno;
    if (res == -EBUSY) res = umount2(mp.c_str(), MNT_DETACH) == 0 ? 0 : -errno;
    StopReaders(s);
    return res;
  });
}

// release(session): drop the JS dispatcher so the process may exit.
static napi_value Release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = SessionOf(env, argv[0]);
  if (s->tsfn) napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  s->tsfn = nullptr;
  return nullptr;
}

static napi_value InvalInode(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = SessionOf(env, argv[0]);
  double ino = 0, off = 0, len = 0;
  napi_get_value_double(env, argv[1], &ino);
  napi_get_value_double(env, argv[2], &off);
  napi_get_value_double(env, argv[3], &len);
  ForgetXattrs(s, (uint64_t)ino);
  return RunAsync(env, [s, ino, off, len]() {
    return fuse_lowlevel_notify_inval_inode(s->se, (fuse_ino_t)ino, (off_t)off, (off_t)len);
  });
}

static napi_value InvalEntry(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = SessionOf(env, argv[0]);
  double parent = 0;
  napi_get_value_double(env, argv[1], &parent);
  std::string name = Str(env, argv[2]);
  return RunAsync(env, [s, parent, name]() {
    return fuse_lowlevel_notify_inval_entry(s->se, (fuse_ino_t)parent, name.c_str(), name.size());
  });
}

// info(session) → { fd, inflight, init: Buffer }
static napi_value Info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Session* s = SessionOf(env, argv[0]);
  napi_create_object(env, &out);
  napi_create_int32(env, s->fd, &v);
  napi_set_named_property(env, out, "fd", v);
  napi_create_int64(env, s->inflight.load(), &v);
  napi_set_named_property(env, out, "inflight", v);
  napi_create_buffer_copy(env, s->rawInit.size(), s->rawInit.data(), nullptr, &v);
  napi_set_named_property(env, out, "init", v);
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"mount", nullptr, Mount, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adopt", nullptr, Adopt, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stop", nullptr, Stop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unmount", nullptr, Unmount, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"release", nullptr, Release, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"invalInode", nullptr, InvalInode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"invalEntry", nullptr, InvalEntry, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  RegisterReplies(env, exports);
  RegisterHandover(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

}  // namespace fsfuse
