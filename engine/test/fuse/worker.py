"""Restart-test worker: reads and writes through the mount in a loop until STOPFILE exists (at
most 60 s) and exits 1 on the first error or mismatch. Keeps one descriptor open across the whole run (it must survive the
hand-over) and also creates, checks and removes files. Prints the number of iterations."""
import os, sys, time

mnt, stopfile = sys.argv[1], sys.argv[2]
long_fd = os.open(os.path.join(mnt, "long-lived"), os.O_RDWR | os.O_CREAT, 0o644)
end = time.time() + 60
i = 0
try:
    while time.time() < end and not os.path.exists(stopfile):
        block = (b"%08d" % i) * 512
        os.pwrite(long_fd, block, (i % 64) * len(block))
        if os.pread(long_fd, len(block), (i % 64) * len(block)) != block:
            print(f"mismatch in long-lived file at iteration {i}", flush=True)
            sys.exit(1)
        p = os.path.join(mnt, f"f{i % 50}")
        with open(p, "wb") as f:
            f.write(block)
        with open(p, "rb") as f:
            if f.read() != block:
                print(f"mismatch in {p} at iteration {i}", flush=True)
                sys.exit(1)
        if i % 2:
            os.unlink(p)
        os.listdir(mnt)
        i += 1
except OSError as e:
    print(f"error at iteration {i}: {e}", flush=True)
    sys.exit(1)
os.close(long_fd)
print(i, flush=True)
