#include "util/run_info.h"

#include <fmt/format.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>

#ifndef FACE_SOURCE_DIR
#define FACE_SOURCE_DIR "."
#endif

namespace face {

namespace {
std::string run_command(const std::string& command) {
  std::array<char, 256> buffer{};
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  while (std::fgets(buffer.data(), buffer.size(), pipe)) out += buffer.data();
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}
}  // namespace

std::string git_commit() {
  // Asked at run time, not baked in at configure time, so a rebuilt binary never reports a stale
  // commit.
  static const std::string commit = [] {
    std::string git = fmt::format("git -C '{}'", FACE_SOURCE_DIR);
    std::string head = run_command(git + " rev-parse --short=12 HEAD 2>/dev/null");
    if (head.empty()) return std::string("unknown");
    bool dirty = !run_command(git + " status --porcelain --untracked-files=no 2>/dev/null").empty();
    return dirty ? head + "-dirty" : head;
  }();
  return commit;
}

std::string hostname() {
  char name[256] = {0};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string torch_version() { return TORCH_VERSION; }

std::filesystem::path source_dir() { return FACE_SOURCE_DIR; }

nlohmann::json run_info() {
  return {{"commit", git_commit()}, {"host", hostname()}, {"time", utc_timestamp()}, {"torch", torch_version()}};
}

std::string run_info_json() { return run_info().dump(); }

}  // namespace face
