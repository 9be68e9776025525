import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one child a staged run waits for, and the signal that asked this process to stop (SIGTERM from `scancel` or
/// a batch system's time limit, SIGINT from a terminal). Only the signal handler and ``ChildProcess`` touch them.
nonisolated(unsafe) private var runningChild: pid_t = 0
nonisolated(unsafe) private var stopSignal: Int32 = 0

/// Runs a program with its standard output and error going to a file, passing on SIGTERM and SIGINT to it, so that
/// a cancelled batch job still ends with a record of what happened. (posix_spawn: no shell, no extra thread.)
enum ChildProcess {
    /// The signal that asked this process to stop while the child ran, or 0.
    static var receivedSignal: Int32 { stopSignal }

    /// Runs `executable` with `arguments` (argv[0] is `executable`), stdin from /dev/null, stdout and stderr
    /// appended to `logPath`, and waits.
    /// - Returns: the exit code, or 128 + the signal number when the child was killed by a signal; 127 when it could
    ///   not be started (with the reason in the log).
    static func run(_ executable: String, _ arguments: [String], logPath: String) -> Int32 {
        installHandlers()
        let logFd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        defer { if logFd >= 0 { close(logFd) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if logFd >= 0 {
            posix_spawn_file_actions_adddup2(&actions, logFd, 1)
            posix_spawn_file_actions_adddup2(&actions, logFd, 2)
        }
        // The child starts with default signal handling and nothing blocked.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else {
            if logFd >= 0 {
                let message = "cannot run \(executable): \(String(cString: strerror(status)))\n"
                _ = message.withCString { write(logFd, $0, strlen($0)) }
            }
            return 127
        }
        runningChild = pid
        // A signal that came before the child existed is passed on now.
        if stopSignal != 0 { kill(pid, stopSignal) }
        var wstatus: Int32 = 0
        while waitpid(pid, &wstatus, 0) < 0 {
            if errno != EINTR { runningChild = 0; return 127 }
        }
        runningChild = 0
        let signalled = wstatus & 0x7f
        if signalled == 0 { return (wstatus >> 8) & 0xff }
        return 128 + signalled
    }

    private static let installed: Void = {
        // A parent may hand down these signals blocked or ignored (a test runner, some launchers): take them back.
        var wanted = sigset_t()
        sigemptyset(&wanted)
        sigaddset(&wanted, SIGTERM)
        sigaddset(&wanted, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
        for sig in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                stopSignal = sig
                let child = runningChild
                if child > 0 { kill(child, sig) }
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, nil)
        }
    }()

    /// Takes over SIGTERM and SIGINT for this process (once; later calls do nothing). A staged run calls this before
    /// it makes anything in the staging area, so that a cancellation arriving at any moment after that is recorded
    /// as a failure, not a silent death.
    static func installHandlers() { _ = installed }
}
