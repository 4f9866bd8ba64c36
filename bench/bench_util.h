// Helpers shared by the benchmark programs: wall time and running a case
// in a child process so that its peak resident memory is its own.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <type_traits>

namespace xai::bench {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs `fn` (returning a trivially copyable Result with a `long peak_kb`
// field) in a forked child and returns its result with the child's peak
// RSS; a default Result when the child fails.
template <typename Result, typename Fn>
Result isolated(Fn&& fn) {
  static_assert(std::is_trivially_copyable_v<Result>);
  int fd[2];
  if (pipe(fd) != 0) return {};
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    Result r = fn();
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    r.peak_kb = usage.ru_maxrss;
    if (write(fd[1], &r, sizeof r) != sizeof r) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  Result r;
  if (read(fd[0], &r, sizeof r) != sizeof r) r = {};
  close(fd[0]);
  waitpid(pid, nullptr, 0);
  return r;
}

}  // namespace xai::bench
