// http_service.h: the HTTP face of FaceService, on cpp-httplib (Debian libcpp-httplib-dev 0.11):
// routes, request limits, the write token, JSON errors and metrics. docs/serve.md lists every
// endpoint; apps/serve/serve.cpp parses the options and runs this. httplib.h stays out of this
// header (Impl), so including it needs no HTTP library.
//
// Safety, in one place:
//   - Bound to 127.0.0.1 unless told otherwise; on loopback, requests whose Host header names
//     another machine are refused (403), which defeats DNS rebinding.
//   - With a token (serve --token-file; required beyond loopback), enrolling and deleting need
//     "Authorization: Bearer <token>" (401 otherwise, compared in constant time).
//   - A write whose Origin header is another site is refused (403): any web page the user visits
//     could otherwise POST a form to 127.0.0.1 (a cross-site request needs no CORS preflight).
//   - Bodies over max_request_bytes are refused unread (413); chunked bodies, whose size is not
//     known in advance and which cpp-httplib 0.11 does not bound, are refused (411).
//   - Every failure is a JSON error {"error": {"code", "message", "status"}} with a 4xx for the
//     client's mistakes (request_error.h), 404/405 for unknown routes and methods included.
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

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
  int read_timeout_s = 30;                      // a client that stalls mid-request is dropped
};

// 127.0.0.0/8, ::1 or localhost.
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
  // Serves until stop(); false when the listening socket failed.
  bool serve();
  // From any thread (a signal-handling one): stops accepting, finishes the requests in progress.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace face::serve
