# gort-gdb.py: gdb commands for gort programs (live or core files).
#
#   (gdb) source tools/gort-gdb.py
#   (gdb) info goroutines          # every goroutine: id, state, wait reason, where it is parked
#   (gdb) goroutine 7 bt           # backtrace of goroutine 7 (walks its saved frame pointers)
#
# A parked goroutine's context is the 64-byte frame gort_swap_context pushed (see
# src/sched/context_x86_64.S): [6] = saved rbp, [7] = resume address. From there the walk
# follows frame pointers (gort builds with -fno-omit-frame-pointer) within the goroutine's
# stack. Running goroutines are on some thread: use `info threads` / `thread N` / `bt`.
import gdb

STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 6: "dead",
          8: "copystack", 100: "zombie"}
WAIT = ["", "chan receive", "chan send", "select", "select (no cases)",
        "chan receive (nil chan)", "chan send (nil chan)", "sleep", "IO wait",
        "sync.Cond.Wait", "semacquire", "preempted"]


def all_gs():
    allgs = gdb.parse_and_eval("'gort::rt::sched'.allgs")
    impl = allgs["_M_impl"]
    start, finish = impl["_M_start"], impl["_M_finish"]
    n = int(finish - start)
    for i in range(n):
        yield (start + i).dereference()


def g_fields(gp):
    g = gp.dereference()
    status = int(g["status"]["_M_i"])
    return {
        "goid": int(g["goid"]),
        "status": status,
        "wait": int(g["waitreason"]),
        "sp": int(g["sp"]),
        "hi": int(g["stk"]["hi"]),
        # An idle goroutine's released stack (sched/stack_release.hpp): its frames are in
        # this copy of [sp, hi), the pages themselves are guard markers gdb cannot read.
        "saved": int(g["stk_saved"]) if int(g["stk_state"]["_M_i"]) != 0 else 0,
    }


def describe_pc(pc):
    block_name = "?"
    try:
        blk = gdb.block_for_pc(pc - 1)
        while blk is not None and blk.function is None:
            blk = blk.superblock
        if blk is not None and blk.function is not None:
            block_name = blk.function.print_name
    except RuntimeError:
        pass
    sal = gdb.find_pc_line(pc - 1)
    where = "%s:%d" % (sal.symtab.filename, sal.line) if sal.symtab else "0x%x" % pc
    return block_name, where


def frames(f):
    if f["sp"] == 0:
        return []
    inferior = gdb.selected_inferior()
    def word(addr):
        if f["saved"]:
            addr = f["saved"] + (addr - f["sp"])
        return int.from_bytes(bytes(inferior.read_memory(addr, 8)), "little")
    pcs = [word(f["sp"] + 56)]
    fp = word(f["sp"] + 48)
    while f["sp"] <= fp < f["hi"] - 16 and len(pcs) < 100:
        ret = word(fp + 8)
        if ret == 0:
            break
        pcs.append(ret)
        nxt = word(fp)
        if nxt <= fp:
            break
        fp = nxt
    return pcs


class InfoGoroutines(gdb.Command):
    """List gort goroutines: id, state and wait reason, and where each parked one waits."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        for gp in all_gs():
            f = g_fields(gp)
            if f["status"] in (6, 100):
                continue
            state = STATUS.get(f["status"], str(f["status"]))
            if f["status"] in (4, 8) and f["wait"] < len(WAIT):
                state = WAIT[f["wait"]]
            where = ""
            if f["status"] in (1, 4, 8):
                for pc in frames(f)[1:]:
                    name, loc = describe_pc(pc)
                    # The first frame of user code: skip gort's and the standard library's.
                    if not name.startswith(("gort::", "std::", "?")):
                        where = "  %s at %s" % (name, loc)
                        break
            print("goroutine %d [%s]%s" % (f["goid"], state, where))


class GoroutineCmd(gdb.Command):
    """goroutine N bt: backtrace of goroutine N from its saved context."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        parts = arg.split()
        if len(parts) != 2 or parts[1] != "bt":
            raise gdb.GdbError("usage: goroutine N bt")
        goid = int(parts[0])
        for gp in all_gs():
            f = g_fields(gp)
            if f["goid"] != goid or f["status"] in (6, 100):
                continue
            if f["status"] in (2, 3):
                print("goroutine %d is running on a thread: use info threads, thread N, bt" % goid)
                return
            for i, pc in enumerate(frames(f)):
                name, loc = describe_pc(pc)
                print("#%-2d 0x%016x in %s at %s" % (i, pc, name, loc))
            return
        raise gdb.GdbError("no goroutine %d" % goid)


InfoGoroutines()
GoroutineCmd()
