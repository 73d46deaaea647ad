// test_support.h: small helpers shared by the test suites.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace face::test {

// This checkout's paths, compiled into test_main.cpp alone: every other test file then compiles
// the same in any clone, so ccache reuses it (CI builds a fresh clone each time).
std::filesystem::path default_shared_data();
std::filesystem::path default_build_dir();
std::filesystem::path default_source_dir();

// ../shared/data (set by CTest), or empty when absent.
inline std::filesystem::path shared_data() {
  const char* env = std::getenv("FACE_SHARED_DATA");
  std::filesystem::path p = env ? std::filesystem::path(env) : default_shared_data();
  return std::filesystem::exists(p / "lfw") ? p : std::filesystem::path();
}

// Tests that read the shared data say so and skip only when it is absent.
#define FACE_REQUIRE_SHARED_DATA()                                                       \
  if (face::test::shared_data().empty()) GTEST_SKIP() << "needs ../shared/data (absent)"

// A built program, e.g. tool("embed").
inline std::filesystem::path tool(const std::string& name) {
  const char* env = std::getenv("FACE_BUILD_DIR");
  return (env ? std::filesystem::path(env) : default_build_dir()) / name;
}

// The source tree (configs, fixtures).
inline std::filesystem::path source_dir() {
  const char* env = std::getenv("FACE_SOURCE_DIR");
  return env ? std::filesystem::path(env) : default_source_dir();
}

// A fresh directory, removed when the object goes out of scope.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("facetest-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Runs a shell command, returning its exit status and (stdout + stderr) output.
struct CommandResult {
  int status;
  std::string output;
};
inline CommandResult run_command(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  while (pipe && std::fgets(buf, sizeof(buf), pipe)) out += buf;
  int rc = pipe ? ::pclose(pipe) : -1;
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

}  // namespace face::test
