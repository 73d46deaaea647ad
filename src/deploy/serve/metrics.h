// metrics.h: what GET /metrics reports, in the Prometheus text format (version 0.0.4).
//
//   face_http_requests_total{route,method,status}      counter: every answered request
//   face_http_request_duration_seconds{route}          histogram: from the request line read to
//                                                      the response written (upload included)
//   face_faces_embedded_total                          counter: faces through the model
//   face_embed_batches_total, face_embed_batch_size    counter and histogram: how the batcher
//                                                      grouped them (embed_batcher.h)
//   face_embed_batch_duration_seconds                  histogram: one forward pass
//
// `route` is the route's pattern ("/v1/galleries/{name}/people/{id}/faces"), never the raw path,
// and `method` one of HTTP's nine, so a client cannot grow the number of series: paths that match
// no route and methods HTTP does not define count as "other".
// Thread-safe: request threads and the batcher thread record concurrently.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace face::serve {

// A cumulative histogram with fixed upper bounds (Prometheus "le" buckets, +Inf implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // The _bucket, _sum and _count lines for `name` with `labels` ("" or `key="value",...`).
  std::string lines(const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  // One answered request; `seconds` < 0 when it was not timed (rejected before routing).
  void request(const std::string& route, const std::string& method, int status, double seconds);
  void batch(int64_t faces, double seconds);
  // The whole exposition; `extra` (already formatted lines, e.g. gallery sizes) is appended.
  std::string render(const std::string& extra = "") const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;  // by route
  uint64_t faces_ = 0, batches_ = 0;
  Histogram batch_size_, batch_seconds_;
};

// `method` when it is one of HTTP's nine (GET, HEAD, POST, ...), else "other".
std::string method_label(const std::string& method);

// A label value with \, " and newline escaped, as the format requires.
std::string escape_label(const std::string& value);

// "# HELP" and "# TYPE gauge" lines and one sample per (labels, value) pair.
std::string gauge_lines(const std::string& name, const std::string& help,
                        const std::vector<std::pair<std::string, double>>& samples);

}  // namespace face::serve
