// Answers GETXATTR and LISTXATTR for inodes known to carry no extended attributes, on the
// reader thread, without a trip through JS.
//
// Why: `ls -l` asks two xattrs per entry (security.selinux, system.posix_acl_access). For a
// 10,000-entry directory that is 20,000 requests, each of which cost a hop to the JS thread, a
// rejected promise and an errno reply: about half of the mount's CPU for the listing.
//
// What is known: every reply that carries attributes (entry, attr, readdirplus) may say
// `noXattrs: true` — the VFS read them together with "this inode has no xattrs". The memo keeps
// that for as long as the kernel may keep the attributes (attrTimeout): the same freshness the
// VFS itself would answer from. A SETXATTR, a reply without the flag, a FORGET or an inode
// invalidation drops the entry first, so a name set here is never answered "absent" after.
#include <time.h>

#include "filespace_fuse.h"

namespace fsfuse {

// A bound on memory: the kernel's inode count bounds the memo through FORGET already; this
// catches a kernel that keeps very many inodes (it is a cache, so clearing it is always safe).
static const size_t kMaxMemo = 1 << 20;

static int64_t NowMs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void NoteXattrs(Session* s, uint64_t ino, bool none, double ttlSeconds) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  if (!none || ttlSeconds <= 0) {
    s->noXattrsUntil.erase(ino);
    return;
  }
  if (s->noXattrsUntil.size() >= kMaxMemo) s->noXattrsUntil.clear();
  s->noXattrsUntil[ino] = NowMs() + (int64_t)(ttlSeconds * 1000);
}

void ForgetXattrs(Session* s, uint64_t ino) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  s->noXattrsUntil.erase(ino);
}

bool KnownNoXattrs(Session* s, uint64_t ino) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  auto it = s->noXattrsUntil.find(ino);
  if (it == s->noXattrsUntil.end()) return false;
  if (it->second > NowMs()) return true;
  s->noXattrsUntil.erase(it);
  return false;
}

size_t XattrMemoSize(Session* s) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  return s->noXattrsUntil.size();
}

}  // namespace fsfuse
