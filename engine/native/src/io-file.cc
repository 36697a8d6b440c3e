// writeFileAtomic(tmp, final, data, length, direct): a disk-cache run written in ONE hop into the
// thread pool: open(tmp) [O_DIRECT], pwrite the whole buffer, ftruncate back to `length` (O_DIRECT
// writes whole 4 KiB blocks), close, rename(tmp, final). Through fs/promises the same work is five
// hops, each a pool thread woken and the event loop woken again; on our VMs every wake-up is a
// trap into the hypervisor, and a cold stream writes a run per GET. Resolves to 0, or to a
// negative errno (-EINVAL from open: this filesystem refuses O_DIRECT; the caller falls back).
// The caller keeps `data` unchanged until the promise settles (a reference holds it alive).
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace {

struct FileWrite {
  std::string tmp;
  std::string final_path;
  const char* data = nullptr;
  size_t padded = 0;
  size_t length = 0;
  bool direct = false;
  int result = 0;
  napi_ref keep = nullptr;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
};

int WriteAll(int fd, const char* data, size_t n) {
  for (size_t done = 0; done < n;) {
    ssize_t w = pwrite(fd, data + done, n - done, static_cast<off_t>(done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? -errno : -EIO;
    done += static_cast<size_t>(w);
  }
  return 0;
}

void Execute(napi_env, void* p) {
  auto* f = static_cast<FileWrite*>(p);
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
#ifdef O_DIRECT
  if (f->direct) flags |= O_DIRECT;
#endif
  int fd = open(f->tmp.c_str(), flags, 0644);
  if (fd < 0) {
    f->result = -errno;
    return;
  }
  int r = WriteAll(fd, f->data, f->padded);
  if (r == 0 && f->padded != f->length && ftruncate(fd, static_cast<off_t>(f->length)) != 0) r = -errno;
  if (close(fd) != 0 && r == 0) r = -errno;
  if (r == 0 && rename(f->tmp.c_str(), f->final_path.c_str()) != 0) r = -errno;
  if (r != 0) unlink(f->tmp.c_str());
  f->result = r;
}

void Complete(napi_env env, napi_status, void* p) {
  auto* f = static_cast<FileWrite*>(p);
  napi_value result;
  napi_create_int32(env, f->result, &result);
  napi_resolve_deferred(env, f->deferred, result);
  napi_delete_reference(env, f->keep);
  napi_delete_async_work(env, f->work);
  delete f;
}

bool StringOf(napi_env env, napi_value v, std::string* out) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return false;
  out->resize(n + 1);
  if (napi_get_value_string_utf8(env, v, &(*out)[0], n + 1, &n) != napi_ok) return false;
  out->resize(n);
  return true;
}

napi_value WriteFileAtomic(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  auto* f = new FileWrite();
  bool typed = false;
  napi_typedarray_type type;
  size_t byteLength = 0;
  void* data = nullptr;
  napi_value backing;
  size_t offset = 0;
  uint32_t length = 0;
  bool ok = argc >= 5 && StringOf(env, argv[0], &f->tmp) && StringOf(env, argv[1], &f->final_path) &&
            napi_is_typedarray(env, argv[2], &typed) == napi_ok && typed &&
            napi_get_typedarray_info(env, argv[2], &type, &byteLength, &data, &backing, &offset) == napi_ok &&
            type == napi_uint8_array && napi_get_value_uint32(env, argv[3], &length) == napi_ok &&
            length <= byteLength && napi_get_value_bool(env, argv[4], &f->direct) == napi_ok;
  if (!ok) {
    delete f;
    napi_throw_type_error(env, nullptr,
                          "writeFileAtomic: expected (tmp path, final path, Uint8Array, length ≤ its size, direct)");
    return nullptr;
  }
  f->data = static_cast<const char*>(data);
  f->padded = byteLength;
  f->length = length;
  napi_value promise, name;
  napi_create_promise(env, &f->deferred, &promise);
  napi_create_reference(env, argv[2], 1, &f->keep);
  napi_create_string_utf8(env, "filespace_io writeFileAtomic", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, Execute, Complete, f, &f->work);
  napi_queue_async_work(env, f->work);
  return promise;
}

}  // namespace

void RegisterFileWrites(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "writeFileAtomic", NAPI_AUTO_LENGTH, WriteFileAtomic, nullptr, &fn);
  napi_set_named_property(env, exports, "writeFileAtomic", fn);
}
