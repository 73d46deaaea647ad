// connection_gate.h: the service's front door: accepts connections and reads each request whole,
// under deadlines, on one thread, before a worker thread ever sees it.
//
// Why not cpp-httplib's own listener: in 0.11 a connection holds a worker thread from accept to
// close, its read timeout applies to each read (a client sending one byte a second never times
// out), request headers are unbounded in number, and a declared body over the limit is read and
// discarded before the 413. So 40 slow clients, or 200 idle sockets, took every worker and
// /healthz went unanswered (issue 26). Here one poll() thread holds every connection while it is
// idle or sending, and hands a request to a worker only once all of it has arrived; cpp-httplib
// then parses and routes it from memory (HttpService), unchanged.
//
// What a client meets (docs/serve.md, "Limits"):
//   - a request's headers must arrive within header_timeout of its first byte, its body within
//     body_timeout of its headers, else 408 and the connection is closed
//   - headers over max_header_bytes: 431; a Content-Length over max_body_bytes: 413 at once,
//     before any of the body is read; a Transfer-Encoding (chunked): 411; a malformed
//     Content-Length: 400
//   - a kept-alive connection idle for idle_timeout is closed (it costs no worker meanwhile)
//   - over max_connections open connections, the longest-idle one is closed for a new one, or
//     the new one gets 503 when none is idle; bodies being received hold at most
//     max_buffered_bytes together (503 with Retry-After beyond)
//   - TCP_NODELAY on every connection: a kept-alive client's small requests are not held back
//     by delayed ACKs (~40 ms each otherwise)
//   - the listening socket is bound without SO_REUSEPORT: a port in use is an error, never a
//     second server sharing it
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace httplib {
class Stream;
}

namespace face::serve {

struct GateOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                           // 0: any free port
  int workers = 32;                          // threads that run requests
  size_t max_header_bytes = 64u << 10;       // request line and headers together
  size_t max_body_bytes = 16u << 20;
  size_t max_buffered_bytes = 256u << 20;    // bodies being received, all connections together
  int header_timeout_ms = 10000;
  int body_timeout_ms = 30000;
  int idle_timeout_ms = 5000;
  int write_timeout_ms = 30000;              // a response the client does not read
  int max_connections = 1024;
  int max_requests_per_connection = 1000;
};

// A request the gate answers itself (408, 411, 413, 431, 503, 400 for a bad Content-Length).
struct GateRefusal {
  int status = 0;
  std::string code, message;
  std::string method, target;  // from the request line, when it arrived ("" otherwise)
};

class ConnectionGate {
 public:
  // Runs one complete request on a worker: `stream` reads exactly its bytes and writes to the
  // client. `last`: the connection closes after it (the server is stopping, or its quota of
  // requests is used). Returns true when the connection may carry another request.
  using Runner = std::function<bool(httplib::Stream& stream, bool last)>;
  // The JSON body of a refusal (and a chance to count it).
  using Refuser = std::function<std::string(const GateRefusal&)>;

  // Requires: at least one worker; positive limits and timeouts (face::Error otherwise).
  ConnectionGate(GateOptions options, Runner run, Refuser refuse);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // Binds and listens; returns the port. face::Error naming host:port when it cannot (in use, or
  // not this machine's address).
  int bind();
  // Serves until stop(), then answers the requests already handed to workers, closes every
  // connection and returns. Requires bind().
  void serve();
  // From any thread, or a signal handler (it only stores a flag and writes to a pipe).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace face::serve
