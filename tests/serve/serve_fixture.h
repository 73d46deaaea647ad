// serve_fixture.h: the serve program on a free loopback port, and small HTTP helpers, for the
// end-to-end tests of the service and its page.
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "deploy/deploy_fixtures.h"
#include "test_support.h"

namespace face::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The `serve` program, started with `--listen 127.0.0.1:0` (the kernel picks a free port, so
// parallel test runs never collide) and the given arguments; its output goes to `log`.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& args, const std::filesystem::path& log) : log_(log) {
    std::vector<std::string> argv = {tool("serve").string(), "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    // An earlier run's log (kept in test-output/) would otherwise be read for the port before
    // the child truncates it.
    std::error_code ec;
    std::filesystem::remove(log, ec);
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
      raw.push_back(nullptr);
      ::execv(raw[0], raw.data());
      ::_exit(127);
    }
    // Model load and the landmark model take a few seconds; 120 s covers a loaded CI machine.
    const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+))");
    for (int waited = 0; waited < 1200; ++waited) {
      std::string text = slurp(log_);
      std::smatch m;
      if (std::regex_search(text, m, listening)) {
        port_ = std::stoi(m[1].str());
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "serve exited before listening:\n" << text;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "serve did not listen within 120 s:\n" << slurp(log_);
  }
  ~ServerProcess() { stop(SIGTERM); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // SIGTERM asks for a clean stop (SIGKILL after 30 s); SIGKILL does not ask. The wait status.
  int stop(int signal = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal);
    int status = 0;
    for (int waited = 0; waited < 300; ++waited) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  bool ready() const { return port_ > 0; }
  int port() const { return port_; }
  std::string log() const { return slurp(log_); }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(10, 0);
    c.set_read_timeout(120, 0);  // a detection on a loaded 2-core machine
    return c;
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A response as the tests look at it: the status and the JSON body (null when not JSON).
struct Reply {
  int status = 0;
  nlohmann::json json;
  std::string body;
};

inline Reply reply(const httplib::Result& r) {
  Reply out;
  if (!r) {
    ADD_FAILURE() << "no HTTP response: " << httplib::to_string(r.error());
    return out;
  }
  out.status = r->status;
  out.body = r->body;
  out.json = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (out.json.is_discarded()) out.json = nullptr;
  return out;
}

// The error code of a JSON error body ("" when the body is not one).
inline std::string error_code(const Reply& r) {
  if (!r.json.is_object() || !r.json.contains("error")) return "";
  return r.json["error"].value("code", "");
}

// An image file's bytes as a multipart field.
inline httplib::MultipartFormData part(const std::string& field, const std::string& bytes,
                                       const std::string& filename = "image.png") {
  return {field, bytes, filename, "image/png"};
}

// A 96x96 noise "face" (write_face) as PNG bytes.
inline std::string face_png(int seed) {
  TempDir dir;
  write_face(dir / "f.png", seed);
  return slurp(dir / "f.png");
}

// serve with an exported random model (threshold 0.5), one gallery "test", tight limits.
inline std::vector<std::string> server_args(const std::filesystem::path& gallery, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--model",          exported_model(11, 0.5).string(),
                                   "--gallery",        "test=" + gallery.string(),
                                   "--detectors",      "1",
                                   "--threads",        "1",
                                   "--workers",        "24",
                                   "--max-request-mb", "1",
                                   "--max-pixels",     "1000000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A plain TCP connection to the server, for what an HTTP client library would not send:
// byte-at-a-time headers, lies in Content-Length, idle sockets, raw Host headers.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False once the server has closed the connection (or never accepted it).
  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (fd_ >= 0 && sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return fd_ >= 0;
  }
  // One response (headers, then Content-Length bytes of body), or what arrived before `timeout`
  // or the connection's end; "" when nothing did.
  std::string response(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::smatch m;
        std::string head = buffer_.substr(0, end);
        size_t length = 0;
        if (std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)"))) length = std::stoul(m[1].str());
        if (buffer_.size() >= end + 4 + length) {
          std::string out = buffer_.substr(0, end + 4 + length);
          buffer_.erase(0, out.size());
          return out;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || fd_ < 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    std::string out;
    out.swap(buffer_);
    return out;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

// The status of a raw response ("HTTP/1.1 413 ..." -> 413), 0 when there is none.
inline int raw_status(const std::string& response) {
  std::smatch m;
  return std::regex_search(response, m, std::regex("^HTTP/1\\.[01] ([0-9]{3})")) ? std::stoi(m[1].str()) : 0;
}

}  // namespace face::test
