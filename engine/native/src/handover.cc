// Passing the /dev/fuse descriptor to a successor process over a unix socket (SCM_RIGHTS),
// which Node cannot do itself. Wire format: one sendmsg carrying the descriptor and an 8-byte
// little-endian payload length, then the payload (the serialized state the successor needs).
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "filespace_fuse.h"

namespace fsfuse {

static bool SockAddr(const std::string& path, struct sockaddr_un* a) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (path.size() >= sizeof a->sun_path) return false;
  memcpy(a->sun_path, path.data(), path.size());
  return true;
}

static std::string StrArg(napi_env env, napi_value v) {
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  std::string s(len + 1, '\0');
  napi_get_value_string_utf8(env, v, &s[0], len + 1, &len);
  s.resize(len);
  return s;
}

static napi_value Int(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

static bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

static bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= (size_t)r;
  }
  return true;
}

// listenHandover(path) → listening socket fd (the path is unlinked first: stale sockets).
static napi_value ListenHandover(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string path = StrArg(env, argv[0]);
  struct sockaddr_un a;
  if (!SockAddr(path, &a)) return ThrowErr(env, "handover socket path too long: " + path), nullptr;
  unlink(path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&a, sizeof a) != 0 || listen(fd, 4) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    ThrowErr(env, "handover listen on " + path + ": " + strerror(e));
    return nullptr;
  }
  return Int(env, fd);
}

struct AcceptWork {
  napi_async_work work;
  napi_deferred deferred;
  int listenFd;
  int result;
  int err;
};

// acceptHandover(listenFd) → Promise<connected fd> (waits in a libuv pool thread).
static napi_value AcceptHandover(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], promise, name;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  auto* w = new AcceptWork();
  napi_get_value_int32(env, argv[0], &w->listenFd);
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "acceptHandover", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      env, nullptr, name,
      [](napi_env, void* d) {
        auto* w = static_cast<AcceptWork*>(d);
        do w->result = accept4(w->listenFd, nullptr, nullptr, SOCK_CLOEXEC);
        while (w->result < 0 && errno == EINTR);
        w->err = errno;
      },
      [](napi_env env, napi_status, void* d) {
        auto* w = static_cast<AcceptWork*>(d);
        if (w->result >= 0) {
          napi_resolve_deferred(env, w->deferred, Int(env, w->result));
        } else {
          napi_value msg, err;
          napi_create_string_utf8(env, strerror(w->err), NAPI_AUTO_LENGTH, &msg);
          napi_create_error(env, nullptr, msg, &err);
          napi_reject_deferred(env, w->deferred, err);
        }
        napi_delete_async_work(env, w->work);
        delete w;
      },
      w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

// sendFd(socketFd, fdToSend, payload: Buffer) — blocking; returns 0 or throws.
static napi_value SendFd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int sock = 0, fd = 0;
  napi_get_value_int32(env, argv[0], &sock);
  napi_get_value_int32(env, argv[1], &fd);
  void* data = nullptr;
  size_t len = 0;
  napi_get_buffer_info(env, argv[2], &data, &len);
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
  uint64_t header = len;
  struct iovec iov = {&header, sizeof header};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t s;
  do s = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (s < 0 && errno == EINTR);
  if (s != (ssize_t)sizeof header || !WriteAll(sock, static_cast<char*>(data), len)) {
    ThrowErr(env, std::string("handover send: ") + strerror(errno));
    return nullptr;
  }
  return Int(env, 0);
}

// receiveFd(path) → { fd, payload } — connects to the serving process and blocks until the
// descriptor and state arrive.
static napi_value ReceiveFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string path = StrArg(env, argv[0]);
  struct sockaddr_un a;
  if (!SockAddr(path, &a)) return ThrowErr(env, "handover socket path too long"), nullptr;
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, (struct sockaddr*)&a, sizeof a) != 0) {
    int e = errno;
    if (sock >= 0) close(sock);
    ThrowErr(env, "handover connect to " + path + ": " + strerror(e));
    return nullptr;
  }
  // A predecessor that never answers must not hang the successor forever.
  struct timeval tv = {30, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint64_t header = 0;
  struct iovec iov = {&header, sizeof header};
  char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  struct cmsghdr* c = r == (ssize_t)sizeof header ? CMSG_FIRSTHDR(&msg) : nullptr;
  if (!c || c->cmsg_type != SCM_RIGHTS) {
    close(sock);
    ThrowErr(env, "handover: no descriptor received from " + path);
    return nullptr;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  void* data = nullptr;
  napi_value payload, out;
  napi_create_buffer(env, header, &data, &payload);
  bool ok = ReadAll(sock, static_cast<char*>(data), header);
  close(sock);
  if (!ok) {
    close(fd);
    ThrowErr(env, "handover: state truncated");
    return nullptr;
  }
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "fd", Int(env, fd));
  napi_set_named_property(env, out, "payload", payload);
  return out;
}

static napi_value CloseFd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  return Int(env, fd >= 0 ? close(fd) : -1);
}

void RegisterHandover(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"listenHandover", nullptr, ListenHandover, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"acceptHandover", nullptr, AcceptHandover, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sendFd", nullptr, SendFd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"receiveFd", nullptr, ReceiveFd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"closeFd", nullptr, CloseFd, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}

}  // namespace fsfuse
