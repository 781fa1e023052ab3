# Runs inside gdb (scripts/profile.sh): single-steps calls of one function in the QEMU guest
# and writes each call's executed instruction addresses, one call per line.
# Environment: PROF_PORT, PROF_START (hex address), PROF_FILTER ("" or "rsi=0x10"),
# PROF_SKIP (calls passed over first), PROF_N (calls traced), PROF_OUT.
import os

import gdb

M = 2**64 - 1
start = int(os.environ["PROF_START"], 16)
want = None
if os.environ.get("PROF_FILTER"):
    reg, val = os.environ["PROF_FILTER"].split("=")
    want = (reg, int(val, 0))
skip, n = int(os.environ.get("PROF_SKIP", "4")), int(os.environ.get("PROF_N", "8"))


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & M


gdb.execute("set pagination off")
gdb.execute("set architecture i386:x86-64")
gdb.execute("target remote :" + os.environ["PROF_PORT"])
gdb.execute("hbreak *0x%x" % start)
inf = gdb.selected_inferior()
with open(os.environ["PROF_OUT"], "w") as out:
    seen = 0
    while seen < skip + n:
        gdb.execute("continue", to_string=True)
        if want and reg(want[0]) != want[1]:
            continue
        seen += 1
        if seen <= skip:
            continue
        key = reg("rsi")
        # For do_syscall_64(regs, nr), the syscall's second argument (regs->si: the ioctl cmd).
        try:
            arg = int.from_bytes(bytes(inf.read_memory(reg("rdi") + 104, 8)), "little")
        except gdb.MemoryError:
            arg = 0
        sp = reg("sp")
        ret = int.from_bytes(bytes(inf.read_memory(sp, 8)), "little")
        pcs = []
        # Up to the return to the caller (a deeper frame may pass through `ret` first).
        while len(pcs) < 500000:
            pc = reg("pc")
            if pc == ret and reg("sp") > sp:
                break
            pcs.append(pc)
            gdb.execute("stepi", to_string=True)
        out.write("%x %x %s\n" % (key, arg, " ".join("%x" % p for p in pcs)))
        out.flush()
gdb.execute("delete")
gdb.execute("detach")
