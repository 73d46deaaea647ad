#include "deploy/serve/connection_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "util/error.h"

namespace face::serve {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

void endpoint_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
  if (rc == 0 && ::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                               NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

// One request already in memory, for cpp-httplib to parse; responses go to the socket, each
// write bounded by the write timeout (the socket is non-blocking).
class BufferedStream : public httplib::Stream {
 public:
  BufferedStream(int fd, const std::string& request, int write_timeout_ms)
      : fd_(fd), request_(request), write_timeout_ms_(write_timeout_ms) {}
  bool is_readable() const override { return at_ < request_.size(); }
  bool is_writable() const override {
    pollfd p{fd_, POLLOUT, 0};
    return ::poll(&p, 1, write_timeout_ms_) > 0 && (p.revents & POLLOUT);
  }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, request_.size() - at_);
    std::memcpy(ptr, request_.data() + at_, n);
    at_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    const auto deadline = Clock::now() + std::chrono::milliseconds(write_timeout_ms_);
    size_t sent = 0;
    while (sent < size) {
      ssize_t n = ::send(fd_, ptr + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd p{fd_, POLLOUT, 0};
        if (left > 0 && ::poll(&p, 1, static_cast<int>(left)) > 0) continue;
      }
      return -1;  // the client is gone or does not read
    }
    return static_cast<ssize_t>(sent);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { endpoint_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { endpoint_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  int fd_;
  const std::string& request_;
  size_t at_ = 0;
  int write_timeout_ms_;
};

// What the gate learns from a request's header block.
struct Head {
  size_t end = 0;              // bytes of the request line and headers, blank line included
  size_t content_length = 0;
  bool expect_continue = false;
  std::string method, target;
  std::optional<GateRefusal> refusal;
};

// `text` holds the whole header block (through "\r\n\r\n" at `end`). Lines are split on "\r\n";
// an Expect: 100-continue line is removed from `text` (the gate answers it), `end` moving with it.
Head parse_head(std::string& text, size_t end, size_t max_body_bytes) {
  Head h;
  h.end = end;
  size_t line_end = text.find("\r\n");
  std::string request_line = text.substr(0, line_end);
  size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
  if (sp1 != std::string::npos) {
    h.method = request_line.substr(0, sp1);
    if (sp2 > sp1) h.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  }
  auto refuse = [&](int status, const std::string& code, const std::string& message) {
    if (!h.refusal) h.refusal = GateRefusal{status, code, message, h.method, h.target};
  };
  std::optional<size_t> length;
  size_t at = line_end + 2;
  while (at < h.end - 2) {
    size_t next = text.find("\r\n", at);
    std::string line = text.substr(at, next - at);
    size_t colon = line.find(':');
    const std::string name = lower(trim(line.substr(0, colon == std::string::npos ? line.size() : colon)));
    const std::string value = colon == std::string::npos ? "" : trim(line.substr(colon + 1));
    if (name == "content-length") {
      bool digits = !value.empty() && value.size() <= 18 &&
                    std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
      if (!digits) {
        refuse(400, "bad_content_length", fmt::format("Content-Length '{}' is not a number of bytes", value));
      } else {
        size_t v = std::stoull(value);
        if (length && *length != v) refuse(400, "bad_content_length", "two different Content-Length headers");
        length = v;
      }
    } else if (name == "transfer-encoding") {
      // The body's size would not be known before reading it (cpp-httplib 0.11 does not bound it either).
      refuse(411, "length_required", "send a Content-Length (chunked request bodies are not accepted)");
    } else if (name == "expect" && lower(value) == "100-continue") {
      h.expect_continue = true;
      text.erase(at, next + 2 - at);  // cpp-httplib would answer it a second time
      h.end -= next + 2 - at;
      continue;
    }
    at = next + 2;
  }
  h.content_length = length.value_or(0);
  if (h.content_length > max_body_bytes)
    refuse(413, "request_too_large",
           fmt::format("the request body of {} bytes is over this server's limit of {} bytes (serve --max-request-mb)",
                       h.content_length, max_body_bytes));
  return h;
}

}  // namespace

struct ConnectionGate::Impl {
  enum class State { idle, head, body, busy, draining };
  struct Conn {
    int fd = -1;
    State state = State::idle;
    std::string buffer;               // bytes received and not yet handed over
    Clock::time_point deadline, since;
    Head head;
    size_t reserved = 0;              // body bytes counted against max_buffered_bytes
    int served = 0;
  };
  struct Done {
    uint64_t id;
    bool keep;
  };

  GateOptions options;
  Runner run;
  Refuser refuse;
  int listener = -1;
  int wake[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  std::unordered_map<uint64_t, Conn> conns;
  uint64_t next_id = 1;
  size_t buffered = 0;
  int busy = 0;
  std::mutex done_mutex;
  std::vector<Done> done;
  std::unique_ptr<httplib::ThreadPool> pool;

  Impl(GateOptions o, Runner r, Refuser f) : options(std::move(o)), run(std::move(r)), refuse(std::move(f)) {
    if (options.workers < 1 || options.max_connections < 1 || options.max_requests_per_connection < 1 ||
        options.header_timeout_ms < 1 || options.body_timeout_ms < 1 || options.idle_timeout_ms < 1 ||
        options.write_timeout_ms < 1 || options.max_header_bytes < 64)
      fail("serve: the connection limits must be positive");
    if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) fail("serve: cannot create a pipe: {}", std::strerror(errno));
  }
  ~Impl() {
    for (auto& [id, c] : conns) ::close(c.fd);
    if (listener >= 0) ::close(listener);
    ::close(wake[0]);
    ::close(wake[1]);
  }

  static std::chrono::milliseconds ms(int v) { return std::chrono::milliseconds(v); }

  void close_conn(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    buffered -= it->second.reserved;
    ::close(it->second.fd);
    conns.erase(it);
  }

  // Answers with `r` and stops reading requests from this connection: what the client still
  // sends is read and dropped for a moment (closing with unread data would reset the connection
  // and could destroy the answer before the client reads it).
  void send_refusal(Conn& c, const GateRefusal& r) {
    const std::string body = refuse(r);
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}"
                                  "Connection: close\r\n\r\n{}",
                                  r.status, reason_phrase(r.status), body.size(),
                                  r.status == 503 ? "Retry-After: 1\r\n" : "", body);
    ssize_t ignored = ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);  // small: fits the socket buffer
    (void)ignored;
    ::shutdown(c.fd, SHUT_WR);
    buffered -= c.reserved;
    c.reserved = 0;
    c.buffer.clear();
    c.state = State::draining;
    c.deadline = Clock::now() + ms(1000);
  }

  void dispatch(uint64_t id, Conn& c) {
    std::string request = c.buffer.substr(0, c.head.end + c.head.content_length);
    c.buffer.erase(0, request.size());
    buffered -= c.reserved;
    c.reserved = 0;
    c.state = State::busy;
    ++busy;
    const bool last = stopping || c.served + 1 >= options.max_requests_per_connection;
    const int fd = c.fd, write_timeout = options.write_timeout_ms;
    pool->enqueue([this, id, fd, last, write_timeout, request = std::move(request)] {
      bool keep = false;
      try {
        BufferedStream stream(fd, request, write_timeout);
        keep = run(stream, last) && !last;
      } catch (...) {
        keep = false;  // the runner answers its own errors; anything else closes the connection
      }
      {
        std::lock_guard<std::mutex> lock(done_mutex);
        done.push_back({id, keep});
      }
      char byte = 1;
      ssize_t ignored = ::write(wake[1], &byte, 1);
      (void)ignored;
    });
  }

  // After new bytes (or a finished request): moves the connection on as far as its buffer allows.
  void advance(uint64_t id, Conn& c) {
    const auto now = Clock::now();
    if (c.state == State::idle && !c.buffer.empty()) {
      c.state = State::head;
      c.since = now;
      c.deadline = now + ms(options.header_timeout_ms);
    }
    if (c.state == State::head) {
      size_t end = c.buffer.find("\r\n\r\n");
      if (end == std::string::npos || end + 4 > options.max_header_bytes) {
        if (c.buffer.size() > options.max_header_bytes || (end != std::string::npos))
          send_refusal(c, {431, "request_headers_too_large",
                           fmt::format("the request line and headers are over this server's limit of {} bytes",
                                       options.max_header_bytes),
                           "", ""});
        return;
      }
      c.head = parse_head(c.buffer, end + 4, options.max_body_bytes);
      if (c.head.refusal) return send_refusal(c, *c.head.refusal);
      if (c.buffer.size() < c.head.end + c.head.content_length) {
        if (buffered + c.head.content_length > options.max_buffered_bytes)
          return send_refusal(c, {503, "busy", "the server is receiving too many request bodies at once: retry",
                                  c.head.method, c.head.target});
        c.reserved = c.head.content_length;
        buffered += c.reserved;
        c.state = State::body;
        c.deadline = now + ms(options.body_timeout_ms);
        if (c.head.expect_continue) {
          static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
          ssize_t ignored = ::send(c.fd, kContinue, sizeof(kContinue) - 1, MSG_NOSIGNAL);
          (void)ignored;
        }
        return;
      }
      return dispatch(id, c);
    }
    if (c.state == State::body && c.buffer.size() >= c.head.end + c.head.content_length) dispatch(id, c);
  }

  // Reads what has arrived, never more than the current stage needs (so a connection's buffer
  // stays within the header or body limit).
  void receive(uint64_t id, Conn& c) {
    char chunk[65536];
    size_t room = sizeof(chunk);
    if (c.state == State::idle || c.state == State::head)
      room = std::min(room, options.max_header_bytes + 1 - std::min(c.buffer.size(), options.max_header_bytes));
    else if (c.state == State::body)
      room = std::min(room, c.head.end + c.head.content_length - c.buffer.size());
    ssize_t n = ::recv(c.fd, chunk, std::max<size_t>(room, 1), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return close_conn(id);
    if (n < 0) return;
    if (c.state == State::draining) return;  // dropped
    c.buffer.append(chunk, static_cast<size_t>(n));
    advance(id, c);
  }

  void expire(uint64_t id, Conn& c) {
    switch (c.state) {
      case State::idle:
      case State::draining: return close_conn(id);
      case State::head:
        return send_refusal(c, {408, "request_timeout",
                                fmt::format("the request's headers did not arrive within {} s",
                                            options.header_timeout_ms / 1000.0),
                                "", ""});
      case State::body:
        return send_refusal(c, {408, "request_timeout",
                                fmt::format("the request body did not arrive within {} s ({} of {} bytes came)",
                                            options.body_timeout_ms / 1000.0, c.buffer.size() - c.head.end,
                                            c.head.content_length),
                                c.head.method, c.head.target});
      case State::busy: return;
    }
  }

  void accept_all() {
    while (true) {
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN: all taken; other errors (EMFILE) are retried next round
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (static_cast<int>(conns.size()) >= options.max_connections) {
        // Room for a new client: the longest-idle connection goes (it can reconnect), else this one.
        auto oldest = conns.end();
        for (auto it = conns.begin(); it != conns.end(); ++it)
          if (it->second.state == State::idle && (oldest == conns.end() || it->second.since < oldest->second.since))
            oldest = it;
        if (oldest != conns.end()) {
          close_conn(oldest->first);
        } else {
          Conn c;
          c.fd = fd;
          send_refusal(c, {503, "busy", fmt::format("the server has {} connections open: retry", conns.size()), "", ""});
          ::close(fd);
          continue;
        }
      }
      Conn c;
      c.fd = fd;
      c.since = Clock::now();
      c.deadline = c.since + ms(options.idle_timeout_ms);
      conns.emplace(next_id++, std::move(c));
    }
  }

  void finish_done() {
    char sink[256];
    while (::read(wake[0], sink, sizeof(sink)) > 0) {
    }
    std::vector<Done> finished;
    {
      std::lock_guard<std::mutex> lock(done_mutex);
      finished.swap(done);
    }
    for (const auto& d : finished) {
      --busy;
      auto it = conns.find(d.id);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      if (!d.keep || stopping) {
        close_conn(d.id);
        continue;
      }
      ++c.served;
      c.state = State::idle;
      c.since = Clock::now();
      c.deadline = c.since + ms(options.idle_timeout_ms);
      advance(d.id, c);  // a pipelined request may be waiting already
    }
  }

  void loop() {
    pool = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(options.workers));
    bool closed_for_stop = false;
    std::vector<pollfd> fds;
    std::vector<uint64_t> ids;
    while (true) {
      if (stopping && !closed_for_stop) {
        // Stop taking requests; the ones with workers are answered (with Connection: close).
        ::close(listener);
        listener = -1;
        std::vector<uint64_t> waiting;
        for (auto& [id, c] : conns)
          if (c.state != State::busy) waiting.push_back(id);
        for (uint64_t id : waiting) close_conn(id);
        closed_for_stop = true;
      }
      if (closed_for_stop && busy == 0) break;
      fds.clear();
      ids.clear();
      fds.push_back({wake[0], POLLIN, 0});
      if (listener >= 0) fds.push_back({listener, POLLIN, 0});
      auto now = Clock::now();
      auto next = now + std::chrono::seconds(3600);
      for (auto& [id, c] : conns) {
        if (c.state == State::busy) continue;
        fds.push_back({c.fd, POLLIN, 0});
        ids.push_back(id);
        next = std::min(next, c.deadline);
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
      int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<int64_t>(wait + 1, 0, 3600000)));
      if (ready < 0 && errno != EINTR) fail("serve: poll failed: {}", std::strerror(errno));
      if (fds[0].revents) finish_done();
      size_t first = 1;
      if (listener >= 0) {
        if (fds[1].revents & POLLIN) accept_all();
        first = 2;
      }
      for (size_t i = first; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto it = conns.find(ids[i - first]);
        if (it != conns.end() && it->second.state != State::busy) receive(it->first, it->second);
      }
      now = Clock::now();
      std::vector<uint64_t> expired;
      for (auto& [id, c] : conns)
        if (c.state != State::busy && c.deadline <= now) expired.push_back(id);
      for (uint64_t id : expired) {
        auto it = conns.find(id);
        if (it != conns.end()) expire(id, it->second);
      }
    }
    pool->shutdown();  // joins the workers (all idle by now)
    pool.reset();
  }
};

ConnectionGate::ConnectionGate(GateOptions options, Runner run, Refuser refuse)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(run), std::move(refuse))) {}

ConnectionGate::~ConnectionGate() = default;

int ConnectionGate::bind() {
  auto& o = impl_->options;
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string port = std::to_string(o.port);
  int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) fail("cannot listen on {}:{}: {}", o.host, o.port, ::gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR lets a restarted server bind while old connections linger in TIME_WAIT; it
    // does not let two servers listen on one port (SO_REUSEPORT would, and split the clients).
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      impl_->listener = fd;
      break;
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (impl_->listener < 0) fail("cannot listen on {}:{}: {}", o.host, o.port, why);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(impl_->listener, reinterpret_cast<sockaddr*>(&addr), &len);
  return addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                    : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void ConnectionGate::serve() {
  if (impl_->listener < 0) fail("serve: the connection gate is not bound");
  impl_->loop();
}

void ConnectionGate::stop() {
  impl_->stopping = true;
  char byte = 0;
  ssize_t ignored = ::write(impl_->wake[1], &byte, 1);
  (void)ignored;
}

}  // namespace face::serve
