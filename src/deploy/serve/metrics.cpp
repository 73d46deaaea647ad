#include "deploy/serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace face::serve {

namespace {

// Latency buckets from a cached 1:1 check (~10 ms) to a queue of full-photo detections (~10 s).
std::vector<double> latency_bounds() { return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}; }

// A number as Prometheus reads it ("+Inf" aside): integers without a fraction, others in full.
std::string number(double v) { return fmt::format("{}", v); }

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();  // first bound >= value
  ++counts_[i];
  sum_ += value;
  ++count_;
}

std::string Histogram::lines(const std::string& name, const std::string& labels) const {
  std::string out, sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, number(bounds_[i]), cumulative);
  }
  cumulative += counts_.back();
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n", name, braces, number(sum_));
  out += fmt::format("{}_count{} {}\n", name, braces, count_);
  return out;
}

Metrics::Metrics() : batch_size_({1, 2, 4, 8, 16, 32, 64, 128}), batch_seconds_(latency_bounds()) {}

std::string method_label(const std::string& method) {
  static const char* const kKnown[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"};
  for (const char* known : kKnown)
    if (method == known) return method;
  return "other";
}

void Metrics::request(const std::string& route, const std::string& method, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Statuses are the server's own few; a method is whatever the client typed, so it is bounded too.
  ++requests_[{route, method_label(method), status}];
  if (seconds >= 0) latency_.try_emplace(route, latency_bounds()).first->second.observe(seconds);
}

void Metrics::batch(int64_t faces, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  faces_ += static_cast<uint64_t>(faces);
  ++batches_;
  batch_size_.observe(static_cast<double>(faces));
  batch_seconds_.observe(seconds);
}

std::string Metrics::render(const std::string& extra) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP face_http_requests_total HTTP requests answered, by route pattern, method and status.\n";
  out += "# TYPE face_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    out += fmt::format("face_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                       escape_label(route), escape_label(method), status, count);
  }
  out += "# HELP face_http_request_duration_seconds Time from the request line to the response written.\n";
  out += "# TYPE face_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : latency_)
    out += histogram.lines("face_http_request_duration_seconds", fmt::format("route=\"{}\"", escape_label(route)));
  out += "# HELP face_faces_embedded_total Faces embedded by the model.\n";
  out += "# TYPE face_faces_embedded_total counter\n";
  out += fmt::format("face_faces_embedded_total {}\n", faces_);
  out += "# HELP face_embed_batches_total Forward passes of the model (each embeds one batch).\n";
  out += "# TYPE face_embed_batches_total counter\n";
  out += fmt::format("face_embed_batches_total {}\n", batches_);
  out += "# HELP face_embed_batch_size Faces per forward pass.\n";
  out += "# TYPE face_embed_batch_size histogram\n";
  out += batch_size_.lines("face_embed_batch_size", "");
  out += "# HELP face_embed_batch_duration_seconds Time of one forward pass.\n";
  out += "# TYPE face_embed_batch_duration_seconds histogram\n";
  out += batch_seconds_.lines("face_embed_batch_duration_seconds", "");
  return out + extra;
}

std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string gauge_lines(const std::string& name, const std::string& help,
                        const std::vector<std::pair<std::string, double>>& samples) {
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  for (const auto& [labels, value] : samples)
    out += fmt::format("{}{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", number(value));
  return out;
}

}  // namespace face::serve
