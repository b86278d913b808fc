// ChildProcess, run_command, free_port and find_program: the process plumbing under the
// server launchers. The child side of fork() only makes async-signal-safe calls (the parent may
// be multi-threaded): everything that allocates or reads NSS (argv/envp arrays, the user's
// uid/gid/groups) is prepared before fork().
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "stack/local_servers.hpp"

extern char** environ;

namespace fs::stack {
namespace {

using Clock = std::chrono::steady_clock;

struct UserIds {
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;
  std::string home;
  std::string name;
};

Result<UserIds> lookup_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) return Error{Errc::not_found, "no such OS user: " + name};
  UserIds ids{pw.pw_uid, pw.pw_gid, {}, pw.pw_dir ? pw.pw_dir : "/", name};
  int n = 64;
  ids.groups.resize(static_cast<std::size_t>(n));
  if (getgrouplist(name.c_str(), pw.pw_gid, ids.groups.data(), &n) < 0) {
    ids.groups.resize(static_cast<std::size_t>(n));
    getgrouplist(name.c_str(), pw.pw_gid, ids.groups.data(), &n);
  }
  ids.groups.resize(static_cast<std::size_t>(std::max(n, 0)));
  return ids;
}

// argv/envp as stable C arrays built before fork().
class CStrings {
 public:
  explicit CStrings(std::vector<std::string> items) : items_(std::move(items)) {
    for (auto& s : items_) ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  char* const* get() { return ptrs_.data(); }

 private:
  std::vector<std::string> items_;
  std::vector<char*> ptrs_;
};

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    bool overridden = std::any_of(extra.begin(), extra.end(),
                                  [&](const std::string& x) { return key_of(x) == key_of(kv); });
    if (!overridden) env.push_back(std::move(kv));
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// What the child tells the parent through the CLOEXEC pipe when it fails before exec.
struct ChildFailure {
  int stage;
  int err;
};
constexpr const char* kStageNames[] = {"dup2",   "chdir", "setgroups", "setgid",
                                       "setuid", "prctl", "exec"};

[[noreturn]] void child_fail(int report_fd, int stage) {
  ChildFailure f{stage, errno};
  ssize_t ignored = ::write(report_fd, &f, sizeof f);
  (void)ignored;
  _exit(127);
}

void mark_inherited_fds_cloexec() {
  if (::close_range(3, UINT_MAX, CLOSE_RANGE_CLOEXEC) == 0) return;
  long max_fd = sysconf(_SC_OPEN_MAX);
  if (max_fd < 0 || max_fd > 65536) max_fd = 65536;
  for (int fd = 3; fd < max_fd; ++fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

struct SpawnRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::optional<std::string> run_as_user;
  std::optional<std::filesystem::path> working_dir;
  int death_signal = SIGKILL;
  int stdin_fd = -1;   // -1: /dev/null
  int stdout_fd = -1;  // -1: /dev/null
  int stderr_fd = -1;  // -1: /dev/null
};

// fork+exec with credentials and parent-death signal; returns the child's pid.
Result<pid_t> spawn_process(SpawnRequest req) {
  if (req.argv.empty()) return Error{Errc::invalid_request, "spawn: empty argv"};
  std::filesystem::path program = req.argv[0];
  if (program.native().find('/') == std::string::npos) {
    auto found = find_program(req.argv[0]);
    if (!found) return std::move(found).error();
    program = *found;
  }
  std::optional<UserIds> user;
  if (req.run_as_user && ::geteuid() == 0) {
    auto ids = lookup_user(*req.run_as_user);
    if (!ids) return std::move(ids).error();
    user = std::move(*ids);
    req.env.push_back("HOME=" + user->home);
    req.env.push_back("USER=" + user->name);
    req.env.push_back("LOGNAME=" + user->name);
    if (!req.working_dir) req.working_dir = "/";
  }
  CStrings argv(req.argv);
  CStrings envp(merged_environment(req.env));
  std::string program_str = program.string();
  std::string cwd = req.working_dir ? req.working_dir->string() : std::string{};

  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return Error{Errc::internal, "open /dev/null: " + std::string(strerror(errno))};
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    ::close(devnull);
    return Error{Errc::internal, "pipe2: " + std::string(strerror(errno))};
  }
  int in_fd = req.stdin_fd >= 0 ? req.stdin_fd : devnull;
  int out_fd = req.stdout_fd >= 0 ? req.stdout_fd : devnull;
  int err_fd = req.stderr_fd >= 0 ? req.stderr_fd : devnull;
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(devnull);
    ::close(report[0]);
    ::close(report[1]);
    return Error{Errc::internal, "fork: " + std::string(strerror(e))};
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only from here on.
    ::close(report[0]);
    // dup2 clears FD_CLOEXEC on the target, which is what we want for 0/1/2. Move the sources
    // out of the 0..2 range first so one dup2 cannot clobber another's source.
    int fds[3] = {in_fd, out_fd, err_fd};
    for (int& fd : fds) {
      if (fd <= 2) {
        int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (moved < 0) child_fail(report[1], 0);
        fd = moved;
      }
    }
    for (int target = 0; target < 3; ++target) {
      if (::dup2(fds[target], target) < 0) child_fail(report[1], 0);
    }
    mark_inherited_fds_cloexec();
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) child_fail(report[1], 1);
    if (user) {
      if (::setgroups(user->groups.size(), user->groups.data()) != 0) child_fail(report[1], 2);
      if (::setgid(user->gid) != 0) child_fail(report[1], 3);
      if (::setuid(user->uid) != 0) child_fail(report[1], 4);
    }
    // After setuid: a credential change clears the parent-death signal.
    if (::prctl(PR_SET_PDEATHSIG, req.death_signal) != 0) child_fail(report[1], 5);
    // The parent may have died between fork() and prctl(): then nobody will signal us.
    if (::getppid() != parent) _exit(1);
    // Ignored signals stay ignored across exec (a server parent typically ignores SIGPIPE);
    // the program gets default dispositions and an empty mask, as from a shell.
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program_str.c_str(), argv.get(), envp.get());
    child_fail(report[1], 6);
  }

  ::close(report[1]);
  ::close(devnull);
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    const char* stage = failure.stage >= 0 && failure.stage < 7 ? kStageNames[failure.stage] : "?";
    return Error{failure.err == ENOENT ? Errc::not_found : Errc::internal,
                 "cannot start " + program_str + ": " + stage + ": " + strerror(failure.err)};
  }
  return pid;
}

void append_bounded(std::string& out, const char* data, std::size_t n) {
  constexpr std::size_t kMax = 64 * 1024 * 1024;
  if (out.size() < kMax) out.append(data, std::min(n, kMax - out.size()));
}

}  // namespace

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("free_port: bind failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_accepts_connections(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(Options options) {
  int log_fd = -1;
  if (!options.log_file.empty()) {
    log_fd = ::open(options.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return Error{Errc::internal,
                   "cannot open log " + options.log_file.string() + ": " + strerror(errno)};
    }
  }
  SpawnRequest req;
  req.argv = std::move(options.argv);
  req.env = std::move(options.env);
  req.run_as_user = std::move(options.run_as_user);
  req.working_dir = std::move(options.working_dir);
  req.death_signal = options.death_signal;
  req.stdout_fd = log_fd;
  req.stderr_fd = log_fd;
  auto pid = spawn_process(std::move(req));
  if (log_fd >= 0) ::close(log_fd);
  if (!pid) return std::move(pid).error();
  return std::unique_ptr<ChildProcess>(new ChildProcess(*pid, options.stop_signal));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) stop();
}

bool ChildProcess::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    reaped_ = true;
    if (r == pid_) status_ = status;
    return false;
  }
  return true;
}

void ChildProcess::signal(int sig) {
  if (!reaped_) ::kill(pid_, sig);
}

void ChildProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return;
  signal(stop_signal_);
  if (!wait_for_exit(grace)) kill();
}

bool ChildProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

void ChildProcess::kill() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  reaped_ = true;
  if (r == pid_) status_ = status;
}

Result<std::string> run_command(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout,
                                const std::optional<std::string>& run_as_user) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Error{Errc::internal, "pipe2 failed"};
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Error{Errc::internal, "pipe2 failed"};
  }
  SpawnRequest req;
  req.argv = argv;
  req.run_as_user = run_as_user;
  req.stdout_fd = out[1];
  req.stderr_fd = err[1];
  auto pid = spawn_process(std::move(req));
  ::close(out[1]);
  ::close(err[1]);
  if (!pid) {
    ::close(out[0]);
    ::close(err[0]);
    return std::move(pid).error();
  }

  std::string stdout_text;
  std::string stderr_text;
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int r = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        append_bounded(i == 0 ? stdout_text : stderr_text, buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  if (timed_out) ::kill(*pid, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(*pid, &status, 0);
  } while (r < 0 && errno == EINTR);

  std::string what = argv[0];
  if (timed_out) {
    return Error{Errc::timeout, what + " did not finish within " + std::to_string(timeout.count()) +
                                    " ms: " + stderr_text};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return stdout_text;
  std::string how = WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                      : "killed by signal " + std::to_string(WTERMSIG(status));
  return Error{Errc::backend_error, what + " " + how + ": " + stderr_text + stdout_text};
}

Result<std::filesystem::path> find_program(const std::string& name) {
  namespace sfs = std::filesystem;
  auto executable = [](const sfs::path& p) {
    std::error_code ec;
    return sfs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return sfs::path(name);
    return Error{Errc::not_found, "program not found: " + name};
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest = path;
    while (!rest.empty()) {
      auto colon = rest.find(':');
      std::string dir(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      if (!dir.empty() && executable(sfs::path(dir) / name)) return sfs::path(dir) / name;
    }
  }
  std::vector<std::pair<int, sfs::path>> pg_bins;
  std::error_code ec;
  for (const auto& entry : sfs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string version = entry.path().filename().string();
    char* end = nullptr;
    long v = std::strtol(version.c_str(), &end, 10);
    if (end != version.c_str()) pg_bins.emplace_back(static_cast<int>(v), entry.path() / "bin");
  }
  std::sort(pg_bins.begin(), pg_bins.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (const auto& [version, dir] : pg_bins) {
    if (executable(dir / name)) return dir / name;
  }
  for (const char* dir : {"/usr/sbin", "/usr/bin"}) {
    if (executable(sfs::path(dir) / name)) return sfs::path(dir) / name;
  }
  return Error{Errc::not_found, "program not found: " + name};
}

}  // namespace fs::stack
