// Whole-file reads and crash-safe writes.
#pragma once

#include <string>
#include <vector>

namespace xai {

// Returns the bytes of the file at `path`. Throws IoError naming the path
// when it is missing ("no such file"), a directory, or unreadable.
std::string read_file(const std::string& path);

// Replaces the file at `path` with `bytes` so that readers see either the
// old content or the new, never a mix: the bytes go to a temporary file in
// the same directory, which is flushed to disk (fsync) and then renamed over
// `path`. The directory must exist. On failure the temporary file is
// removed, `path` is left as it was, and IoError names `path`.
//
// Thread safety: concurrent calls for different paths are safe; for the same
// path, the last rename wins.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Throws IoError "cannot write <path>: it is a directory" for the first of
// `paths` that is a directory, so that a run writing several files can
// refuse before it writes any of them.
void check_replaceable(const std::vector<std::string>& paths);

}  // namespace xai
