// serve: an HTTP service and a browser page for enrolment, 1:1 verification and 1:K
// identification (deploy/serve/; every endpoint, with curl examples, in docs/serve.md).
//
//   serve [--model M] [--gallery [NAME=]FILE]... [--listen HOST:PORT] [--token-file FILE]
//         [--threshold T] [--aligned] [--workers N] [--detectors N] [--threads N] [--device D]
//         [--max-request-mb N] [--max-pixels N] [--max-images N] [--max-batch N]
//         [--batch-wait-ms MS] [--upsample N] [--detector hog|mmod] [--read-timeout S] [--header-timeout S]
//         [--max-connections N] [--allow-host NAME]... [--demo-dir DIR]
//
// Defaults: the released model (vision/model_catalog.h), one gallery named "default" in
// experiments/serve/default.db beside the sources (created when absent), 127.0.0.1:8080. A
// gallery named on the command line is created when absent too, bound to the model. Listening
// beyond loopback needs --token-file: enrolling and deleting then need that token.
//
// Prints "serve: listening on http://HOST:PORT" once it answers (port 0 picks a free port, which
// the tests use), then serves until SIGINT or SIGTERM, finishing the requests in progress.
// Exit status: 0 after a signal; 2 on a bad option, or when the model, a gallery, the token
// file or the address cannot be used (a port another program listens on included).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "apps/cli_checks.h"
#include "deploy/serve/face_service.h"
#include "deploy/serve/http_service.h"
#include "deploy/serve/metrics.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/run_info.h"
#include "util/threads.h"

namespace fs = std::filesystem;

namespace {

// "HOST:PORT", "[::1]:PORT" or ":PORT" (loopback); the port 0..65535, 0 for any free one.
std::pair<std::string, int> parse_listen(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos) face::fail("--listen '{}': expected [IPv6]:PORT", text);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) face::fail("--listen '{}': expected HOST:PORT, e.g. 127.0.0.1:8080", text);
    host = colon == 0 ? "127.0.0.1" : text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  size_t used = 0;
  int value = -1;
  try {
    value = std::stoi(port, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (port.empty() || used != port.size() || value < 0 || value > 65535)
    face::fail("--listen '{}': the port must be a number in 0..65535", text);
  return {host, value};
}

// "NAME=FILE" or "FILE" (named after the file: galleries/staff.db -> "staff").
face::serve::GallerySpec parse_gallery(const std::string& text) {
  auto eq = text.find('=');
  face::serve::GallerySpec spec;
  if (eq != std::string::npos) {
    spec.name = text.substr(0, eq);
    spec.path = text.substr(eq + 1);
  } else {
    spec.path = text;
    spec.name = fs::path(text).stem().string();
  }
  face::serve::check_gallery_name(spec.name);
  if (spec.path.empty()) face::fail("--gallery '{}': no file given", text);
  return spec;
}

// The first line of the file, which must be a long enough secret; a file others can read is
// named in a warning (the token is all that guards the gallery's writes).
std::string read_token(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) face::fail("--token-file '{}': no such file", file.string());
  if (fs::is_directory(file, ec)) face::fail("--token-file '{}': is a directory, not a file", file.string());
  std::string text;
  try {
    text = face::read_file(file);
  } catch (const face::Error&) {
    face::fail("--token-file '{}': cannot be read (permissions?)", file.string());
  }
  std::string token = text.substr(0, text.find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  if (token.size() < 16)
    face::fail("--token-file '{}': the token must be at least 16 characters (e.g. `head -c 24 /dev/urandom | base64`)",
               file.string());
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    fmt::print(stderr, "serve: warning: '{}' can be read by other users (chmod 600 it)\n", file.string());
  return token;
}

std::atomic<face::serve::HttpService*> g_server{nullptr};  // set while it serves; read by the handler

// Runs in whichever thread the kernel picks: HttpService::stop only stores a flag and writes
// to a pipe, both async-signal-safe.
void on_stop_signal(int) {
  if (face::serve::HttpService* server = g_server) server->stop();
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT and SIGTERM stop the server cleanly: requests in progress are answered, then exit 0.
  // They are blocked here, so every thread this program starts inherits the mask, and taken by
  // one thread (below). Threads started before main() (OpenBLAS starts its pool when it is
  // loaded) do not block them: the kernel may deliver there, where the default action would end
  // the process (status 143) mid-request, so a handler that stops the server is installed too.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  struct sigaction stop_action {};
  stop_action.sa_handler = on_stop_signal;
  stop_action.sa_flags = SA_RESTART;
  sigemptyset(&stop_action.sa_mask);
  sigaction(SIGINT, &stop_action, nullptr);
  sigaction(SIGTERM, &stop_action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-response is not a reason to die

  CLI::App app{"HTTP service and browser page for face verification, enrolment and identification"};
  face::serve::ServiceOptions service;
  face::serve::HttpOptions http;
  std::vector<std::string> galleries;
  std::string listen = "127.0.0.1:8080", token_file, demo_dir;
  double threshold = 0, batch_wait_ms = 0;
  int threads = 0, max_request_mb = 16;
  int64_t max_batch = service.batching.max_batch;
  app.add_option("--model", service.model, "exported model, checkpoint or 'dlib-resnet' (default: the released model)");
  app.add_option("--gallery", galleries,
                 "[NAME=]FILE: a gallery to serve, created when absent; repeatable, the first is the default "
                 "(default: default=experiments/serve/default.db)");
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free one)")->capture_default_str();
  app.add_option("--token-file", token_file, "file whose first line is the token enrolling and deleting need "
                                             "(required when listening beyond loopback)");
  auto* t = app.add_option("--threshold", threshold, "squared L2 distance below which faces match (default: the model's)")
                ->check(face::cli::finite(0, 4));
  app.add_flag("--aligned", http.aligned, "requests send aligned faces unless they say aligned=false");
  app.add_option("--workers", http.workers, "connection threads (each open keep-alive connection holds one)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--detectors", service.detectors, "face detectors working at once (0: one per core, at most 4)")
      ->capture_default_str()->check(CLI::Range(0, 64));
  app.add_option("--threads", threads, "LibTorch intra-op threads (0 = all cores)")
      ->capture_default_str()->check(face::cli::threads());
  app.add_option("--device", service.device, "cpu or cuda[:N]")->capture_default_str();
  face::cli::add_precision(app, service.precision);
  face::cli::add_detector(app, service.detector);
  app.add_option("--max-request-mb", max_request_mb, "largest request body, in MiB")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--max-pixels", service.read.max_pixels, "largest image, width x height")
      ->capture_default_str()->check(CLI::Range(int64_t{10000}, int64_t{400000000}));
  app.add_option("--max-images", service.max_images, "images in one enrolment or clustering request")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1000}));
  app.add_option("--max-batch", max_batch, "faces per forward pass of batched requests (1: no batching)")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{face::cli::kMaxBatch}));
  app.add_option("--batch-wait-ms", batch_wait_ms, "extra time a batch waits for more requests")
      ->capture_default_str()->check(face::cli::finite(0, 1000));
  face::cli::add_upsample(app, service.upsample);
  app.add_option("--read-timeout", http.read_timeout_s, "seconds a request's body may take to arrive, in all")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--header-timeout", http.header_timeout_s, "seconds a request's line and headers may take to arrive")
      ->capture_default_str()->check(CLI::Range(1, 600));
  app.add_option("--max-connections", http.max_connections, "connections open at once (idle ones make way)")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--allow-host", http.allowed_hosts,
                 "a Host name accepted besides 127.x.x.x, [::1] and localhost (a name of this machine); repeatable");
  app.add_option("--demo-dir", demo_dir, "tests only: serve the images in DIR under /demo/ for the page's test mode")
      ->group("");  // hidden from --help: not for deployments
  FACE_PARSE_OPTIONS(app, argc, argv);

  try {
    auto [host, port] = parse_listen(listen);
    http.host = host;
    http.port = port;
    if (!token_file.empty()) http.token = read_token(token_file);
    if (!face::serve::is_loopback_host(host) && http.token.empty())
      face::fail("listening on '{}', beyond loopback, needs --token-file: without it anyone who can reach the port "
                 "could enrol and delete people",
                 host);
    http.max_request_bytes = static_cast<size_t>(max_request_mb) << 20;
    http.demo_dir = demo_dir;
    if (t->count()) service.threshold = threshold;
    service.batching.max_batch = max_batch;
    service.batching.max_wait = std::chrono::microseconds(static_cast<int64_t>(batch_wait_ms * 1000));
    if (galleries.empty()) {
      fs::path fallback = face::source_dir() / "experiments/serve/default.db";
      fs::create_directories(fallback.parent_path());
      service.galleries.push_back({"default", fallback});
    }
    for (const auto& g : galleries) service.galleries.push_back(parse_gallery(g));

    int used_threads = face::configure_threads(threads);
    face::serve::Metrics metrics;
    face::serve::FaceService faces(service, &metrics);
    for (const auto& w : faces.startup_warnings()) fmt::print(stderr, "serve: warning: {}\n", w);
    face::serve::HttpService server(faces, metrics, http);
    int bound = server.bind();
    g_server = &server;

    std::thread([&server, stop_signals]() mutable {
      int received = 0;
      sigwait(&stop_signals, &received);
      server.stop();
    }).detach();

    const bool ipv6 = host.find(':') != std::string::npos;
    fmt::print("serve: model {} (threshold {:.4f}), galleries: {}; {} workers, {} intra-op threads{}\n",
               faces.model().description(), faces.threshold(), fmt::join(faces.gallery_names(), ", "), http.workers,
               used_threads, http.token.empty() ? "" : "; writes need the token");
    fmt::print("serve: listening on http://{}{}{}:{}\n", ipv6 ? "[" : "", host, ipv6 ? "]" : "", bound);
    std::fflush(stdout);
    server.serve();
    g_server = nullptr;
    fmt::print("serve: stopped\n");
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "serve: error: {}\n", e.what());
    return 2;
  }
}
