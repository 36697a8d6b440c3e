"""Lock helper for the FUSE lock tests: one process taking fcntl/flock locks on a mounted file.

usage: locker.py MODE PATH [START LEN TYPE] [TIMEOUT]
  MODE: hold-fcntl | try-fcntl | wait-fcntl | getlk | hold-flock | try-flock | wait-flock
  TYPE: r | w
hold-* print "locked" and keep the lock until stdin closes; wait-* give up after TIMEOUT
seconds through SIGALRM (the kernel then interrupts the request) and print "interrupted".
"""
import errno, fcntl, os, signal, struct, sys


class Alarm(Exception):
    pass


def on_alarm(*_):
    raise Alarm()  # raising makes Python give up instead of retrying the interrupted call


signal.signal(signal.SIGALRM, on_alarm)
mode, path = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR)
out = lambda s: (print(s, flush=True))

if mode.endswith("flock"):
    kind = fcntl.LOCK_EX if (sys.argv[3] if len(sys.argv) > 3 else "w") == "w" else fcntl.LOCK_SH
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 0
else:
    start, length, kind = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    ltype = fcntl.F_WRLCK if kind == "w" else fcntl.F_RDLCK
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 0


def attempt(fn):
    try:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, timeout)
        fn()
        signal.setitimer(signal.ITIMER_REAL, 0)
        return "ok"
    except Alarm:
        return "interrupted"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


if mode == "getlk":
    arg = struct.pack("hhqqixxxx", ltype, os.SEEK_SET, start, length, 0)
    res = struct.unpack("hhqqixxxx", fcntl.fcntl(fd, fcntl.F_GETLK, arg))
    names = {fcntl.F_RDLCK: "r", fcntl.F_WRLCK: "w", fcntl.F_UNLCK: "u"}
    out(f"{names[res[0]]} {res[2]} {res[3]} {res[4]}")
elif mode.endswith("fcntl"):
    cmd = fcntl.F_SETLKW if mode == "wait-fcntl" else fcntl.F_SETLK
    out(attempt(lambda: fcntl.lockf(fd, (fcntl.LOCK_EX if kind == "w" else fcntl.LOCK_SH) | (0 if cmd == fcntl.F_SETLKW else fcntl.LOCK_NB), length, start)))
else:
    nb = 0 if mode == "wait-flock" else fcntl.LOCK_NB
    out(attempt(lambda: fcntl.flock(fd, kind | nb)))

if mode.startswith("hold"):
    out("locked")
    sys.stdin.read()
