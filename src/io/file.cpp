#include "xai/io/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "xai/error.h"

namespace xai {
namespace {

// strerror() text in lower case, with ENOENT shortened to "no such file".
std::string describe_errno(int err) {
  if (err == ENOENT) return "no such file";
  std::string text = std::strerror(err);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(text[0]));
  return text;
}

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Opens a new file next to `path` with a random suffix; returns its fd and
// stores its name in `temp`. The mode 0666 is reduced by the umask, as for
// any new file.
int open_temp(const std::string& path, std::string& temp, int& err) {
  std::random_device rd;
  std::string dir = directory_of(path);
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof(suffix), "%08x", rd());
    temp = dir + "/." + base_name(path) + ".tmp-" + suffix;
    int fd =
        ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    err = errno;
    if (err != EEXIST) return -1;
  }
  return -1;
}

bool write_all(int fd, const std::string& bytes, int& err) {
  const char* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      return false;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

// Makes the rename itself durable. Best effort: some file systems refuse
// fsync on directories, and the data is already safe by then.
void sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw IoError("cannot read " + path + ": " + describe_errno(errno));
  }
  struct stat st;
  bool known_size = ::fstat(fd, &st) == 0;
  if (known_size && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw IoError("cannot read " + path + ": it is a directory");
  }

  std::string bytes;
  if (known_size && S_ISREG(st.st_mode)) {
    bytes.reserve(static_cast<size_t>(st.st_size));
  }
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw IoError("cannot read " + path + ": " + describe_errno(err));
    }
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string temp;
  int err = 0;
  int fd = open_temp(path, temp, err);
  if (fd < 0) {
    throw IoError("cannot write " + path + ": " + describe_errno(err) +
                  " (creating a temporary file in " + directory_of(path) + ")");
  }

  bool ok = write_all(fd, bytes, err);
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(temp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(temp.c_str());
    throw IoError("cannot write " + path + ": " + describe_errno(err));
  }
  sync_directory(directory_of(path));
}

void check_replaceable(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      throw IoError("cannot write " + path + ": it is a directory");
    }
  }
}

}  // namespace xai
