#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "stack/local_servers.hpp"
#include "support/scratch_dir.hpp"
#include "support/servers.hpp"

namespace fs::stack {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RunCommand, ReturnsStdout) {
  auto out = run_command({"sh", "-c", "echo hello; echo ignored >&2"});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "hello\n");
}

TEST(RunCommand, NonZeroExitIsBackendErrorWithStderr) {
  auto out = run_command({"sh", "-c", "echo broken >&2; exit 3"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), Errc::backend_error);
  EXPECT_NE(out.error().message.find("exited with 3"), std::string::npos) << out.error().message;
  EXPECT_NE(out.error().message.find("broken"), std::string::npos) << out.error().message;
}

TEST(RunCommand, MissingProgramIsNotFound) {
  auto out = run_command({"/nonexistent/flashsale-no-such-program"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), Errc::not_found);
}

TEST(RunCommand, TimeoutKillsTheCommand) {
  const auto start = std::chrono::steady_clock::now();
  auto out = run_command({"sleep", "30"}, 200ms);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.code(), Errc::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(RunCommand, RunsAsAnotherUserWhenRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto out = run_command({"id", "-un"}, 10s, std::string("postgres"));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "postgres\n");
}

TEST(RunCommand, ReadsLargeOutputWithoutDeadlock) {
  // More than a pipe buffer on both streams at once.
  auto out = run_command({"sh", "-c",
                          "head -c 300000 /dev/zero | tr '\\0' a; "
                          "head -c 300000 /dev/zero >&2"});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->size(), 300000u);
}

TEST(ChildProcess, WritesToLogAndStopsOnSigterm) {
  test::ScratchDir dir;
  ChildProcess::Options options;
  options.argv = {"sh", "-c", "echo started; echo \"$FLASHSALE_MARK\" >&2; exec sleep 60"};
  options.log_file = dir.path() / "child.log";
  options.env = {"FLASHSALE_MARK=marked"};
  auto child = ChildProcess::spawn(std::move(options));
  ASSERT_TRUE(child.ok()) << child.error().message;
  ASSERT_TRUE(test::wait_until(
      [&] { return read_file(dir.path() / "child.log").find("marked") != std::string::npos; }));
  EXPECT_NE(read_file(dir.path() / "child.log").find("started"), std::string::npos);
  EXPECT_TRUE((*child)->running());
  (*child)->stop(5s);
  EXPECT_FALSE((*child)->running());
  ASSERT_TRUE((*child)->wait_status().has_value());
  EXPECT_TRUE(WIFSIGNALED(*(*child)->wait_status()));
  EXPECT_EQ(WTERMSIG(*(*child)->wait_status()), SIGTERM);
}

TEST(ChildProcess, StopEscalatesToSigkill) {
  ChildProcess::Options options;
  options.argv = {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"};
  auto child = ChildProcess::spawn(std::move(options));
  ASSERT_TRUE(child.ok()) << child.error().message;
  // Give sh a moment to install the trap: poll its signal mask in /proc.
  ASSERT_TRUE(test::wait_until([&] {
    std::ifstream status("/proc/" + std::to_string((*child)->pid()) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("SigIgn:", 0) == 0) return line.find("4000") != std::string::npos;
    }
    return false;
  }));
  (*child)->stop(300ms);
  ASSERT_TRUE((*child)->wait_status().has_value());
  EXPECT_EQ(WTERMSIG(*(*child)->wait_status()), SIGKILL);
}

TEST(ChildProcess, StartsWithDefaultSignalDispositions) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ::sigaction(SIGPIPE, &ignore, &previous);
  auto out = run_command({"sh", "-c", "grep SigIgn /proc/self/status"});
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_TRUE(out.ok()) << out.error().message;
  // SIGPIPE is bit 13 (mask 0x1000); sh itself ignores nothing at start-up.
  EXPECT_EQ(*out, "SigIgn:\t0000000000000000\n");
}

TEST(ChildProcess, ExecFailureIsReported) {
  ChildProcess::Options options;
  options.argv = {"/nonexistent/flashsale-no-such-program"};
  auto child = ChildProcess::spawn(std::move(options));
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.code(), Errc::not_found);
}

TEST(ChildProcess, DoesNotInheritOpenDescriptors) {
  test::ScratchDir dir;
  int opened = ::open((dir.path() / "leak").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(opened, 0);
  int leaked = ::fcntl(opened, F_DUPFD, 77);  // no FD_CLOEXEC
  ::close(opened);
  ASSERT_GE(leaked, 77);
  const std::string probe = "/proc/$$/fd/" + std::to_string(leaked);
  auto out =
      run_command({"sh", "-c", "if [ -e " + probe + " ]; then echo open; else echo closed; fi"});
  ::close(leaked);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "closed\n");
}

// The spawning process dies (SIGKILL, no destructors run): the child must die too. A middle
// process spawns the child; an observer that is a child subreaper adopts the orphan and can
// therefore see exactly how it ended.
TEST(ChildProcess, DiesWithItsParent) {
  pid_t observer = ::fork();
  ASSERT_GE(observer, 0);
  if (observer == 0) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    int pipefd[2];
    if (::pipe(pipefd) != 0) _exit(10);
    pid_t middle = ::fork();
    if (middle < 0) _exit(11);
    if (middle == 0) {
      ::close(pipefd[0]);
      ChildProcess::Options options;
      options.argv = {"sleep", "60"};
      options.death_signal = SIGKILL;
      auto child = ChildProcess::spawn(std::move(options));
      if (!child) _exit(12);
      pid_t pid = (*child)->pid();
      if (::write(pipefd[1], &pid, sizeof pid) != sizeof pid) _exit(13);
      ::pause();
      _exit(0);
    }
    ::close(pipefd[1]);
    pid_t grandchild = -1;
    if (::read(pipefd[0], &grandchild, sizeof grandchild) != sizeof grandchild) _exit(14);
    ::kill(middle, SIGKILL);
    int status = 0;
    ::waitpid(middle, &status, 0);
    // The orphan is ours now (subreaper): wait for it with a deadline.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(grandchild, &status, WNOHANG);
      if (r == grandchild) _exit(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : 15);
      ::usleep(10000);
    }
    ::kill(grandchild, SIGKILL);
    _exit(16);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(observer, &status, 0), observer);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10-14: set-up failed, 15: child ended otherwise, "
                                       "16: child survived its parent";
}

TEST(FreePort, IsBindableAndNotListening) {
  auto port = free_port();
  EXPECT_GT(port, 0);
  EXPECT_FALSE(port_accepts_connections(port));
}

TEST(FindProgram, FindsServersOutsidePath) {
  for (const char* name : {"redis-server", "redis-sentinel", "postgres", "initdb", "psql"}) {
    auto found = find_program(name);
    ASSERT_TRUE(found.ok()) << name << ": " << found.error().message;
    EXPECT_EQ(found->filename(), name);
  }
  EXPECT_EQ(find_program("flashsale-no-such-program").code(), Errc::not_found);
}

}  // namespace
}  // namespace fs::stack
