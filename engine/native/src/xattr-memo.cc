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
// invalidation drops the entry first.
//
// Fences: a GETATTR racing a local SETXATTR may be answered with attributes read before the
// xattr landed. Such a reply must not teach "no xattrs" (the memo would then hide the new xattr
// until attrTimeout). So while a SETXATTR of an inode is unanswered, and for replies to requests
// the kernel sent before that answer (request ids are in arrival order), nothing is memoized.
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

// Whether a reply to request `reqId` about `ino` may be trusted to say "no xattrs".
static bool Trusted(Session* s, uint64_t ino, uint64_t reqId) {
  if (reqId < s->xattrTrustedFrom) return false;
  auto f = s->xattrFences.find(ino);
  return f == s->xattrFences.end() || (f->second.setsInFlight == 0 && reqId >= f->second.trustedFrom);
}

void NoteXattrs(Session* s, uint64_t ino, bool none, double ttlSeconds, uint64_t reqId) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  if (!none || ttlSeconds <= 0 || !Trusted(s, ino, reqId)) {
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

void ForgetInodeXattrs(Session* s, uint64_t ino) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  s->noXattrsUntil.erase(ino);
  auto f = s->xattrFences.find(ino);
  if (f != s->xattrFences.end() && f->second.setsInFlight == 0) s->xattrFences.erase(f);
}

void XattrSetStarted(Session* s, uint64_t ino) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  s->noXattrsUntil.erase(ino);
  if (s->xattrFences.size() >= kMaxMemo) {
    // Too many fences to keep: distrust every reply to a request older than now instead.
    s->xattrTrustedFrom = s->nextId.load();
    for (auto it = s->xattrFences.begin(); it != s->xattrFences.end();) {
      it = it->second.setsInFlight == 0 ? s->xattrFences.erase(it) : std::next(it);
    }
  }
  s->xattrFences[ino].setsInFlight++;
}

void XattrSetAnswered(Session* s, uint64_t ino) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  XattrFence& f = s->xattrFences[ino];
  if (f.setsInFlight > 0) f.setsInFlight--;
  f.trustedFrom = s->nextId.load();  // requests the kernel sends from now on see the new xattr
}

bool KnownNoXattrs(Session* s, uint64_t ino) {
  std::lock_guard<std::mutex> lock(s->xattrMu);
  auto it = s->noXattrsUntil.find(ino);
  if (it == s->noXattrsUntil.end()) return false;
  if (it->second > NowMs()) return true;
  s->noXattrsUntil.erase(it);
  return false;
}

}  // namespace fsfuse
