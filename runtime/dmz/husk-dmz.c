/* husk-dmz: the last step before the container's program.
 *
 * The container's init (and every `exec` process) is the husk binary until it
 * calls execve.  If it exec'd the container's program directly and that
 * program were /proc/self/exe (a symlink to it, or "#!/proc/self/exe"), the
 * host's husk binary would run inside the container, where code from the image
 * (a planted libc, through the image's own dynamic loader) could open it and
 * later overwrite it: the runc CVE-2019-5736 class.  So husk execs this tiny
 * static program instead, from a sealed memfd (runtime/dmz.h), and it execs the
 * container's program: /proc/self/exe of anything in between is the sealed
 * copy of this file, which nobody can write and which does nothing useful.
 *
 * No libc: raw system calls, so it is a few kilobytes and starts in
 * microseconds.  argv: "husk-dmz" PATH ARGV0 ARGV1 ...  Anything else (e.g.
 * being run as an interpreter) is refused with exit status 127. */

typedef unsigned long ulong;

#if defined(__x86_64__)
#define NR_write  1
#define NR_execve 59
#define NR_exit   60
#define NR_prctl  157
static long sys3(long n, long a, long b, long c)
{
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}
__asm__(".text\n.global _start\n_start:\n"
        "  xor %rbp, %rbp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call dmz_main\n"
        "  hlt\n");
#elif defined(__aarch64__)
#define NR_write  64
#define NR_execve 221
#define NR_exit   93
#define NR_prctl  167
static long sys3(long n, long a, long b, long c)
{
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
}
__asm__(".text\n.global _start\n_start:\n"
        "  mov x0, sp\n"
        "  and sp, x0, #-16\n"
        "  bl dmz_main\n"
        "  brk #0\n");
#else
#error "husk-dmz: unsupported architecture"
#endif

void dmz_main(long *sp) __attribute__((noreturn, used));

static ulong len(const char *s)
{
  ulong n = 0;
  while (s[n])
    n++;
  return n;
}

static void put(const char *s)
{
  sys3(NR_write, 2, (long)s, (long)len(s));
}

static const char *errno_name(long e)
{
  switch (e) {
  case 1:
    return "Operation not permitted";
  case 2:
    return "No such file or directory";
  case 7:
    return "Argument list too long";
  case 8:
    return "Exec format error";
  case 12:
    return "Cannot allocate memory";
  case 13:
    return "Permission denied";
  case 20:
    return "Not a directory";
  case 26:
    return "Text file busy";
  case 36:
    return "File name too long";
  case 40:
    return "Too many levels of symbolic links";
  case 80:
    return "Accessing a corrupted shared library";
  default:
    return "exec failed";
  }
}

static int same(const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return *a == *b;
}

void dmz_main(long *sp)
{
  /* PR_SET_DUMPABLE 0, like the husk process before us: nothing in the
   * container may ptrace or open us (execve of the program resets it) */
  sys3(NR_prctl, 4, 0, 0);
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  if (argc < 3 || !same(argv[0], "husk-dmz")) {
    put("husk: refusing to run the runtime's exec stub as a program\n");
    sys3(NR_exit, 127, 0, 0);
  }
  long r = sys3(NR_execve, (long)argv[1], (long)(argv + 2), (long)envp);
  put("husk: exec ");
  put(argv[1]);
  put(": ");
  put(errno_name(-r));
  put("\n");
  sys3(NR_exit, 127, 0, 0);
  for (;;)
    ;
}
