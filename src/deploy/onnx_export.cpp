#include "deploy/onnx_export.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/run_info.h"

namespace face {
namespace fs = std::filesystem;

namespace {

// Runs `argv` (no shell) and returns its exit status, its stdout and stderr joined in `output`.
int run_program(const std::vector<std::string>& argv, std::string& output) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) fail("cannot create a pipe to run '{}'", argv[0]);
  pid_t pid = ::fork();
  if (pid < 0) fail("cannot start '{}'", argv[0]);
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s\n", args[0]);
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::array<char, 4096> buffer;
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer.data(), buffer.size())) > 0) output.append(buffer.data(), n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

fs::path project_python() {
  if (const char* env = std::getenv("FACE_PYTHON"); env && *env) return env;
  return source_dir() / ".venv/bin/python";
}

void export_onnx(const fs::path& torchscript, const fs::path& onnx, int opset) {
  const fs::path python = project_python(), script = source_dir() / "tools/export_onnx.py";
  std::error_code ec;
  if (!fs::exists(python, ec))
    fail("ONNX export needs the project's Python with torch and onnx, '{}' does not exist (run tools/setup.sh, or set "
         "FACE_PYTHON)",
         python.string());
  if (!fs::exists(script, ec)) fail("ONNX export: '{}' is missing from the source tree", script.string());
  std::string output;
  int status = run_program({python.string(), script.string(), torchscript.string(), onnx.string(), "--opset",
                            std::to_string(opset)},
                           output);
  if (status != 0) {
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    fail("ONNX export of '{}' to '{}' failed (status {}): {}", torchscript.string(), onnx.string(), status,
         output.size() > 2000 ? "..." + output.substr(output.size() - 2000) : output);
  }
}

}  // namespace face
