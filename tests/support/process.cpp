#include "process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <random>
#include <sstream>
#include <utility>

extern char** environ;

namespace shmring::test {

UniqueName::UniqueName(const char* tag) {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  name_ = "shmring-test-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter.fetch_add(1)) + "-" + std::to_string(rd() % 1000000);
}

UniqueName::~UniqueName() { ::unlink(path().c_str()); }

Child::Child(Child&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), out_fd_(std::exchange(o.out_fd_, -1)), buffered_(std::move(o.buffered_)) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    this->~Child();
    pid_ = std::exchange(o.pid_, -1);
    out_fd_ = std::exchange(o.out_fd_, -1);
    buffered_ = std::move(o.buffered_);
  }
  return *this;
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

void Child::kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int Child::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(st)) return WEXITSTATUS(st);
      if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
      return -1;
    }
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      pid_ = -1;
      return -1;
    }
    ::usleep(1000);
  }
}

std::string Child::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    if (out_fd_ < 0) return {};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    pollfd p{out_fd_, POLLIN, 0};
    const int pr = ::poll(&p, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return {};
    char buf[4096];
    const ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
      std::string rest = std::exchange(buffered_, {});
      return rest;
    }
    buffered_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string Child::read_all(std::chrono::milliseconds timeout) {
  std::string all;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_fd_ >= 0 || !buffered_.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    std::string line = read_line(left);
    if (line.empty() && out_fd_ < 0 && buffered_.empty()) break;
    all += line;
    all += '\n';
  }
  return all;
}

Child fork_child(const std::function<int(int out_fd)>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    ::close(fds[0]);
    int rc = 99;
    try {
      rc = body(fds[1]);
    } catch (...) {
      rc = 99;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  ::close(fds[1]);
  return Child(pid, fds[0]);
}

std::vector<std::string> emulator_command() {
  std::vector<std::string> words;
  const char* env = std::getenv("SHMRING_TEST_EMULATOR");
  if (env == nullptr) return words;
  std::istringstream in(env);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

Child spawn(const std::string& path, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) std::abort();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  // Under an emulator the peer is a foreign executable that the kernel cannot
  // run by itself: start it as `<emulator words> path args`. qemu-user runs
  // the guest in its own process, so the pid is the peer's.
  std::vector<std::string> words = emulator_command();
  words.push_back(path);
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    std::fprintf(stderr, "posix_spawn %s failed: %d\n", path.c_str(), rc);
    return Child();
  }
  return Child(pid, fds[0]);
}

void write_line(int fd, const std::string& line) {
  std::string l = line + "\n";
  const char* p = l.data();
  std::size_t left = l.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::int64_t runqueue_wait_ns(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/schedstat", static_cast<int>(tid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return 0;
  unsigned long long on_cpu = 0, waiting = 0;
  const int n = std::fscanf(f, "%llu %llu", &on_cpu, &waiting);
  std::fclose(f);
  return n == 2 ? static_cast<std::int64_t>(waiting) : 0;
}

std::string queue_peer_path() {
#ifdef SHMRING_QUEUE_PEER
  return SHMRING_QUEUE_PEER;
#else
  return "shmring_queue_peer";
#endif
}

std::string sync_peer_path() {
#ifdef SHMRING_SYNC_PEER
  return SHMRING_SYNC_PEER;
#else
  return "shmring_sync_peer";
#endif
}

bool private_tmpfs(const std::string& parent, std::uint64_t size, std::string* where) {
  if (::unshare(CLONE_NEWNS) != 0) {
    // Not privileged: a user namespace makes us root inside it.
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      *where = std::string("unshare: ") + std::strerror(errno);
      return false;
    }
    const auto write_file = [](const char* file, const std::string& text) {
      const int fd = ::open(file, O_WRONLY | O_CLOEXEC);
      if (fd < 0) return false;
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      ::close(fd);
      return ok;
    };
    (void)write_file("/proc/self/setgroups", "deny");
    if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
      *where = "cannot map the user namespace";
      return false;
    }
  }
  // Our mounts stay ours: nothing propagates back to the parent namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *where = std::string("mount --make-rprivate: ") + std::strerror(errno);
    return false;
  }
  std::string dir = parent + "/shmring-tmpfs-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    *where = std::string("mkdtemp: ") + std::strerror(errno);
    return false;
  }
  const std::string options = "size=" + std::to_string(size);
  if (::mount("shmring-test", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    *where = std::string("mount tmpfs: ") + std::strerror(errno);
    ::rmdir(dir.c_str());
    return false;
  }
  *where = dir;
  return true;
}

std::string pipe_peer_path() {
#ifdef SHMRING_PIPE_PEER
  return SHMRING_PIPE_PEER;
#else
  return "shmring_pipe_peer";
#endif
}

}  // namespace shmring::test
