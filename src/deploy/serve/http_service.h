// http_service.h: the HTTP face of FaceService, on cpp-httplib (Debian libcpp-httplib-dev 0.11):
// routes, request limits, the write token, JSON errors and metrics. Connections are taken by a
// ConnectionGate (connection_gate.h), which reads each request whole under deadlines before
// cpp-httplib parses and routes it on a worker thread. docs/serve.md lists every
// endpoint; apps/serve/serve.cpp parses the options and runs this. httplib.h stays out of this
// header (Impl), so including it needs no HTTP library.
//
// Safety, in one place:
//   - Bound to 127.0.0.1 unless told otherwise; on loopback, requests whose Host header is not
//     exactly a loopback IP literal, localhost, or a name in allowed_hosts are refused (403),
//     which defeats DNS rebinding.
//   - With a token (serve --token-file; required beyond loopback), enrolling and deleting need
//     "Authorization: Bearer <token>" (401 otherwise, compared in constant time).
//   - A write whose Origin header is another site is refused (403): any web page the user visits
//     could otherwise POST a form to 127.0.0.1 (a cross-site request needs no CORS preflight).
//   - Bodies over max_request_bytes are refused unread (413); chunked bodies, whose size is not
//     known in advance and which cpp-httplib 0.11 does not bound, are refused (411); headers
//     over max_header_bytes get 431, requests slower than the deadlines 408 (the gate).
//   - JSON bodies nesting deeper than 64 levels are refused (400) before they are parsed.
//   - A gallery locked by another process beyond a short wait is 503 with Retry-After.
//   - Every failure is a JSON error {"error": {"code", "message", "status"}} with a 4xx for the
//     client's mistakes (request_error.h), 404/405 for unknown routes and methods included.
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace face::serve {

class FaceService;
class Metrics;

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                              // 0: any free port (bind() says which)
  int workers = 32;                             // connection threads; a keep-alive connection holds one
  size_t max_request_bytes = 16u << 20;         // larger bodies: 413 before they are read
  std::string token;                            // non-empty: enrolling and deleting need it
  bool aligned = false;                         // default of the "aligned" request option
  std::filesystem::path demo_dir;               // tests only: GET /demo/<file> serves the images in it
  int read_timeout_s = 30;                      // a request's body must arrive within this, in all
  int header_timeout_s = 10;                    // its request line and headers within this
  size_t max_header_bytes = 64u << 10;          // request line and headers together: 431 beyond
  int max_connections = 1024;                   // open at once (idle ones are closed for new ones)
  std::vector<std::string> allowed_hosts;       // Host names accepted besides loopback literals and localhost
};

// True for an IP literal in 127.0.0.0/8, ::1 (any spelling, brackets allowed) and localhost;
// false for every other name, "127.0.0.1.example" included.
bool is_loopback_host(const std::string& host);

class HttpService {
 public:
  // `service` and `metrics` must outlive this.
  HttpService(FaceService& service, Metrics& metrics, HttpOptions options);
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // Binds the listening socket; returns the port (the free one chosen when options.port is 0).
  // face::Error naming the address when it cannot be bound.
  int bind();
  // Serves until stop(), then returns once the requests in progress are answered.
  void serve();
  // From any thread or a signal handler: stops accepting, finishes the requests in progress.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace face::serve
