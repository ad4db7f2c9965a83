// berth's RuntimeDefault seccomp profile, as data: deny (EPERM) by default, allow the
// system calls an ordinary unprivileged process needs, and open the ones tied to a
// capability only when the container holds it. Written from the syscalls' semantics:
// what is listed here cannot change anything outside the container's own namespaces and
// cgroup without a capability the kernel checks anyway; what is left out either reaches
// kernel-global state (time, modules, swap, keyrings, kexec), creates namespaces, or is
// a large attack surface with little use in containers (io_uring, userfaultfd, bpf).
// Names unknown on an architecture are skipped by the runtime (libseccomp resolves them).

/** Allowed for every container. */
export const BASE_ALLOW: readonly string[] = [
  // file descriptors and I/O
  'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
  'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'lseek', '_llseek', 'dup', 'dup2', 'dup3',
  'fcntl', 'fcntl64', 'ioctl', 'flock', 'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range',
  'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'sync_file_range2', 'arm_sync_file_range',
  'truncate', 'truncate64', 'ftruncate', 'ftruncate64', 'fallocate', 'fadvise64', 'fadvise64_64', 'arm_fadvise64_64',
  'readahead', 'memfd_create', 'cachestat',
  // names, metadata, directories
  'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'newfstatat', 'fstatat64', 'statx', 'statfs', 'statfs64',
  'fstatfs', 'fstatfs64', 'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getdents', 'getdents64',
  'getcwd', 'chdir', 'fchdir', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'chown32', 'fchown', 'fchown32',
  'fchownat', 'lchown', 'lchown32', 'utime', 'utimes', 'futimesat', 'utimensat', 'utimensat_time64', 'link', 'linkat',
  'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'symlink', 'symlinkat', 'mkdir', 'mkdirat', 'rmdir',
  'mknod', 'mknodat', 'umask', 'name_to_handle_at',
  'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr', 'listxattr', 'llistxattr', 'flistxattr',
  'removexattr', 'lremovexattr', 'fremovexattr', 'getxattrat', 'setxattrat', 'listxattrat', 'removexattrat',
  'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch',
  // memory
  'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mlock', 'mlock2', 'munlock', 'mlockall',
  'munlockall', 'mincore', 'msync', 'remap_file_pages', 'membarrier', 'pkey_alloc', 'pkey_free', 'pkey_mprotect',
  'map_shadow_stack', 'mseal',
  // processes, threads, credentials (the kernel checks CAP_SETUID etc. itself)
  'exit', 'exit_group', 'fork', 'vfork', 'execve', 'execveat', 'wait4', 'waitid', 'waitpid', 'kill', 'tkill', 'tgkill',
  'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid',
  'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'getresuid', 'getresuid32',
  'getresgid', 'getresgid32', 'getgroups', 'getgroups32', 'setuid', 'setuid32', 'setgid', 'setgid32', 'setreuid',
  'setreuid32', 'setregid', 'setregid32', 'setresuid', 'setresuid32', 'setresgid', 'setresgid32', 'setgroups',
  'setgroups32', 'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32', 'capget', 'capset', 'prctl', 'arch_prctl',
  'set_tid_address', 'set_robust_list', 'get_robust_list', 'set_thread_area', 'get_thread_area', 'set_tls', 'rseq',
  'futex', 'futex_time64', 'futex_waitv', 'futex_wait', 'futex_wake', 'futex_requeue', 'restart_syscall',
  'pidfd_open', 'pidfd_send_signal', 'seccomp', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self',
  // scheduling and limits of the calling process (raising them needs CAP_SYS_NICE / CAP_SYS_RESOURCE, checked by the kernel)
  'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getparam', 'sched_setparam', 'sched_getscheduler',
  'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_rr_get_interval',
  'sched_rr_get_interval_time64', 'sched_getattr', 'sched_setattr', 'getpriority', 'setpriority', 'ioprio_get',
  'ioprio_set', 'getrlimit', 'ugetrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'times', 'uname', 'sysinfo',
  'getcpu', 'getrandom',
  // signals
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_sigtimedwait_time64', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'signalfd', 'signalfd4',
  'sigaction', 'sigprocmask', 'sigpending', 'sigsuspend', 'sigreturn', 'signal', 'pause',
  // clocks and timers (reading; setting the clock needs CAP_SYS_TIME below)
  'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64', 'clock_nanosleep', 'clock_nanosleep_time64',
  'gettimeofday', 'time', 'nanosleep', 'alarm', 'getitimer', 'setitimer', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
  'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64',
  // waiting for events, AIO (not io_uring)
  'select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64', 'epoll_create',
  'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2',
  'eventfd', 'eventfd2', 'io_setup', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64',
  'io_submit', 'io_cancel',
  // sockets (in the pod's network namespace)
  'socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername', 'getsockopt',
  'setsockopt', 'sendto', 'recvfrom', 'send', 'recv', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'recvmmsg_time64',
  'shutdown', 'socketcall',
  // IPC (in the pod's IPC namespace)
  'pipe', 'pipe2', 'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'semctl',
  'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedsend_time64',
  'mq_timedreceive', 'mq_timedreceive_time64', 'mq_notify', 'mq_getsetattr', 'ipc',
  // architecture helpers
  'cacheflush', 'breakpoint', 'riscv_flush_icache', 'riscv_hwprobe',
];

/** Opened only when the container holds the capability (the kernel checks it as well). */
export const CAP_ALLOW: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    'mount', 'umount', 'umount2', 'pivot_root', 'unshare', 'setns', 'sethostname', 'setdomainname', 'clone3',
    'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr', 'quotactl', 'quotactl_fd',
    'swapon', 'swapoff', 'fanotify_init', 'fanotify_mark', 'lookup_dcookie', 'bpf', 'perf_event_open',
    'statmount', 'listmount',
  ],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_PTRACE: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'process_madvise'],
  CAP_SYS_NICE: ['mbind', 'set_mempolicy', 'get_mempolicy', 'set_mempolicy_home_node', 'move_pages', 'migrate_pages'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'adjtimex', 'clock_adjtime', 'clock_adjtime64'],
  CAP_SYS_BOOT: ['reboot', 'kexec_load', 'kexec_file_load'],
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYSLOG: ['syslog'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** The namespace flags of clone(2): new namespaces need CAP_SYS_ADMIN (NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET). */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** personality(2) values a process may set: Linux, its 32-bit and UNAME26 variants, and the query (0xffffffff). */
export const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** libseccomp architectures of each Node arch: the native one plus its compat ABIs. */
export const ARCHES: Readonly<Record<string, readonly string[]>> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
  ia32: ['SCMP_ARCH_X86'],
  arm: ['SCMP_ARCH_ARM'],
  ppc64: ['SCMP_ARCH_PPC64LE'],
  s390x: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
  riscv64: ['SCMP_ARCH_RISCV64'],
};
