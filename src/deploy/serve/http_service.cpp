#include "deploy/serve/http_service.h"

#include <fmt/format.h>
#include <arpa/inet.h>
#include <httplib.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <vector>

#include "deploy/gallery/sqlite_db.h"
#include "deploy/serve/base64.h"
#include "deploy/serve/connection_gate.h"
#include "deploy/serve/face_service.h"
#include "deploy/serve/metrics.h"
#include "deploy/serve/request_error.h"
#include "deploy/serve/web_page.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "vision/image_io.h"
#include "vision/vision_error.h"

namespace face::serve {

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using Request = httplib::Request;
using Response = httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

// ---- routes -----------------------------------------------------------------------------------
// Each route is declared once, in HttpService::Impl::install(): its method, its pattern (matched
// against the whole, percent-decoded path) and its metric label. The same list registers the
// handlers, names the metric series and answers 405 (which methods a known path allows).
struct Route {
  std::string method, pattern, label;
  std::regex regex;
};

// The route's label for metrics ("other" for anything else: raw paths would let clients grow
// the number of series without bound).
std::string route_label(const std::vector<Route>& routes, const std::string& path) {
  for (const auto& r : routes)
    if (std::regex_match(path, r.regex)) return r.label;
  return "other";
}

// "GET, HEAD" etc. for a path that exists under other methods; "" for an unknown path.
std::string allowed_methods(const std::vector<Route>& routes, const std::string& path) {
  std::set<std::string> methods;
  for (const auto& r : routes)
    if (std::regex_match(path, r.regex)) {
      methods.insert(r.method);
      if (r.method == "GET") methods.insert("HEAD");
    }
  std::string out;
  for (const auto& m : methods) out += (out.empty() ? "" : ", ") + m;
  return out;
}

// ---- responses --------------------------------------------------------------------------------
// The one place an image's or a face's failure (vision/vision_error.h) becomes an HTTP answer.
struct StatusAndCode {
  int status;
  const char* code;
};
StatusAndCode http_status_of(VisionFailure failure) {
  switch (failure) {
    case VisionFailure::too_large: return {413, "image_too_large"};
    case VisionFailure::no_face: return {422, "no_face"};
    case VisionFailure::not_aligned: return {422, "not_aligned"};
    case VisionFailure::unreadable:
    case VisionFailure::undecodable: break;
  }
  return {400, "bad_image"};
}

void send_json(Response& res, int status, const Json& body) {
  res.status = status;
  // Names enrolled by other tools may not be UTF-8: replaced, never a failed response.
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

Json error_json(int status, const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}, {"status", status}}}};
}

void send_error(Response& res, int status, const std::string& code, const std::string& message) {
  send_json(res, status, error_json(status, code, message));
}

// Request start, for the latency histogram: set by the pre-routing handler and read by the
// logger, which cpp-httplib runs on the same connection thread, one request at a time.
thread_local Clock::time_point t_request_start{};

// ---- request inputs ---------------------------------------------------------------------------
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// One request's images and options, whichever way they came (docs/serve.md, "Sending images"):
//   multipart/form-data  files in named fields (curl -F a=@x.jpg); other fields are options
//   application/json     an object: image fields hold base64 strings (or arrays of them; data:
//                        URLs too), the other keys are options
//   image/* or application/octet-stream   the body is the one image, in field "image"
// Query-string parameters are options in every case (?threshold=0.8&aligned=true).
struct Inputs {
  std::vector<std::pair<std::string, Upload>> images;  // (field, image), in arrival order
  std::map<std::string, Json> options;

  // Exactly one image in `field`, else 400.
  Upload one(const std::string& field) const {
    const Upload* found = nullptr;
    for (const auto& [name, upload] : images) {
      if (name != field) continue;
      if (found) reject(400, "bad_request", "field '{}' holds more than one image", field);
      found = &upload;
    }
    if (!found) reject(400, "missing_image", "no image in field '{}'", field);
    return *found;
  }
};

std::string describe(const std::string& field, const std::string& filename) {
  return filename.empty() ? field : fmt::format("{} ({})", field, filename);
}

// How deep JSON bodies may nest: the parser recurses once per level, and 300,000 levels (600 KB)
// overflowed the stack. Requests here nest two levels; 64 leaves room for anything reasonable.
constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, stopping once past `limit` (strings
// skipped, escapes included); the check runs before the recursive parser sees the text.
int json_depth(const std::string& text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// The body as a JSON object, else 400 saying why (the parser's own words: "number overflow
// parsing '1e999'" tells more than "not an object").
Json parse_json_body(const std::string& text) {
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    reject(400, "bad_json", "the JSON body nests deeper than {} levels", kMaxJsonDepth);
  Json body;
  try {
    body = Json::parse(text);
  } catch (const Json::exception& e) {
    reject(400, "bad_json", "the body is not valid JSON: {}", e.what());
  }
  if (!body.is_object()) reject(400, "bad_json", "the JSON body is a {}, not an object", body.type_name());
  return body;
}

// `image_fields` names the fields that hold images; "*" takes every uploaded file (enrolment).
Inputs parse_inputs(const Request& req, const std::set<std::string>& image_fields) {
  Inputs in;
  for (const auto& [key, value] : req.params) in.options[key] = value;
  const bool any = image_fields.count("*") > 0;
  const std::string type = lower(req.get_header_value("Content-Type"));
  if (req.is_multipart_form_data()) {
    for (const auto& [name, part] : req.files) {
      const bool image = image_fields.count(name) || (any && (!part.filename.empty() || name == "image" || name == "images"));
      if (image)
        in.images.push_back({any ? "*" : name, Upload{describe(name, part.filename), part.content}});
      else
        in.options[name] = part.content;
    }
  } else if (starts_with(type, "application/json")) {
    Json body = parse_json_body(req.body);
    for (auto it = body.begin(); it != body.end(); ++it) {
      const std::string& key = it.key();
      const bool image = image_fields.count(key) || (any && (key == "image" || key == "images"));
      if (!image) {
        in.options[key] = it.value();
        continue;
      }
      auto add = [&](const Json& item, const std::string& label) {
        if (!item.is_string()) reject(400, "bad_json", "'{}' must be a base64 string", label);
        std::optional<std::string> bytes = base64_decode(item.get_ref<const std::string&>());
        if (!bytes) reject(400, "bad_base64", "'{}' is not valid base64", label);
        in.images.push_back({any ? "*" : key, Upload{label, std::move(*bytes)}});
      };
      if (it.value().is_array()) {
        for (size_t i = 0; i < it.value().size(); ++i) add(it.value()[i], fmt::format("{}[{}]", key, i));
      } else {
        add(it.value(), key);
      }
    }
  } else if (starts_with(type, "image/") || starts_with(type, "application/octet-stream")) {
    in.images.push_back({any ? "*" : "image", Upload{"body", req.body}});
  } else if (!req.body.empty()) {
    reject(415, "unsupported_media_type",
           "send images as multipart/form-data, as JSON with base64 strings, or as one image/* body (Content-Type "
           "was '{}')",
           req.get_header_value("Content-Type"));
  }
  return in;
}

// Options: JSON values, or text from the query string and form fields.
std::optional<std::string> text_option(const Inputs& in, const std::string& key) {
  auto it = in.options.find(key);
  if (it == in.options.end() || it->second.is_null()) return std::nullopt;
  if (it->second.is_string()) return it->second.get<std::string>();
  return it->second.dump();
}

bool flag_option(const Inputs& in, const std::string& key, bool fallback) {
  auto it = in.options.find(key);
  if (it == in.options.end() || it->second.is_null()) return fallback;
  if (it->second.is_boolean()) return it->second.get<bool>();
  std::string v = lower(text_option(in, key).value_or(""));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  reject(400, "bad_parameter", "'{}' must be true or false, got '{}'", key, v);
}

std::optional<double> number_option(const Inputs& in, const std::string& key) {
  auto it = in.options.find(key);
  if (it == in.options.end() || it->second.is_null()) return std::nullopt;
  if (it->second.is_number()) return it->second.get<double>();
  std::string text = text_option(in, key).value_or("");
  double v = 0;
  size_t used = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || !std::isfinite(v))
    reject(400, "bad_parameter", "'{}' must be a finite number, got '{}'", key, text);
  return v;
}

int64_t int_option(const Inputs& in, const std::string& key, int64_t fallback) {
  std::optional<double> v = number_option(in, key);
  if (!v) return fallback;
  if (*v != std::floor(*v) || std::abs(*v) > 1e9) reject(400, "bad_parameter", "'{}' must be a whole number", key);
  return static_cast<int64_t>(*v);
}

// ---- response bodies --------------------------------------------------------------------------
std::string png_data_url(const cv::Mat& rgb) {
  if (rgb.empty()) return "";
  return "data:image/png;base64," + base64_encode(encode_png(rgb));
}

// Where the face was found and, with `crop`, the aligned face as the model saw it (before the
// resize to its input size), as a data: URL the page shows directly.
Json face_json(const ReadFace& face, bool crop) {
  Json j = {{"faces_found", face.faces_found}};
  if (face.box.area() > 0)
    j["box"] = {{"x", face.box.x}, {"y", face.box.y}, {"width", face.box.width}, {"height", face.box.height}};
  else
    j["box"] = nullptr;  // aligned input: nothing was detected
  Json landmarks = Json::array();
  for (const auto& p : face.landmarks) landmarks.push_back({p.x, p.y});
  j["landmarks"] = landmarks;
  if (crop) j["crop"] = png_data_url(face.face);
  return j;
}

Json embedding_json(const torch::Tensor& embedding) {
  torch::Tensor e = embedding.to(torch::kCPU, torch::kFloat32).contiguous();
  const float* data = e.data_ptr<float>();
  return std::vector<float>(data, data + e.numel());
}

// Constant-time comparison: the time taken does not tell how much of a guess was right.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % std::max<size_t>(1, expected.size())]);
  return diff == 0;
}

// The host part of a Host header ("127.0.0.1:8080" -> "127.0.0.1", "[::1]:8080" -> "::1"),
// lower case; nullopt when the header is malformed (a port that is not a number, an unclosed
// bracket, an IPv6 literal without brackets).
std::optional<std::string> host_name(const std::string& header) {
  std::string host = header, port;
  if (starts_with(header, "[")) {
    auto close = header.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = header.substr(1, close - 1);
    std::string rest = header.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
    if (host.find(':') == std::string::npos) return std::nullopt;  // brackets hold IPv6 literals only
  } else {
    auto colon = header.find(':');
    if (colon != std::string::npos) {
      if (header.find(':', colon + 1) != std::string::npos) return std::nullopt;
      host = header.substr(0, colon);
      port = header.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (!std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) || port.size() > 5)
    return std::nullopt;
  if (host.empty()) return std::nullopt;
  return lower(host);
}

std::string content_type_of(const std::string& file) {
  std::string ext = lower(std::filesystem::path(file).extension().string());
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".png") return "image/png";
  if (ext == ".webp") return "image/webp";
  if (ext == ".bmp") return "image/bmp";
  return "application/octet-stream";
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  std::string h = lower(host);
  if (starts_with(h, "[") && h.size() > 2 && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h == "localhost.") return true;
  // IP literals only, parsed whole: "127.0.0.1.evil.example" is a name, which DNS may point anywhere.
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// ---- the server -------------------------------------------------------------------------------
// cpp-httplib's request parsing and routing, run on requests the gate has read whole.
struct Router : httplib::Server {
  using httplib::Server::process_request;
};

struct HttpService::Impl {
  FaceService& service;
  Metrics& metrics;
  HttpOptions options;
  Router server;
  std::vector<Route> routes;  // filled by install(), read-only afterwards
  ConnectionGate gate;

  Impl(FaceService& s, Metrics& m, HttpOptions o)
      : service(s), metrics(m), options(std::move(o)), gate(gate_options(options), runner(), refuser()) {
    if (options.workers < 1) fail("serve: at least one worker thread is needed");
    install();
  }

  static GateOptions gate_options(const HttpOptions& o) {
    GateOptions g;
    g.host = o.host;
    g.port = o.port;
    g.workers = o.workers;
    g.max_header_bytes = o.max_header_bytes;
    g.max_body_bytes = o.max_request_bytes;
    g.max_buffered_bytes = std::max<size_t>(o.max_request_bytes, 256u << 20);
    g.header_timeout_ms = o.header_timeout_s * 1000;
    g.body_timeout_ms = o.read_timeout_s * 1000;
    g.max_connections = o.max_connections;
    return g;
  }

  ConnectionGate::Runner runner() {
    return [this](httplib::Stream& stream, bool last) {
      bool closed = false;
      const bool answered = server.process_request(stream, last, closed, nullptr);
      return answered && !closed;
    };
  }

  // The gate's own refusals: the same JSON errors, counted like every other answer.
  ConnectionGate::Refuser refuser() {
    return [this](const GateRefusal& r) {
      metrics.request(route_label(routes, r.target.substr(0, r.target.find('?'))), r.method, r.status, -1);
      return error_json(r.status, r.code, r.message).dump(-1, ' ', false, Json::error_handler_t::replace);
    };
  }

  // Every handler runs inside this: the host and origin checks first, then the handler; a
  // RequestError becomes its 4xx, anything else a 500. (The checks are here rather than in the
  // pre-routing handler because that one runs before the body is read, and answering a request
  // whose body is left unread would leave those bytes to be parsed as the connection's next request.)
  httplib::Server::Handler guarded(std::function<void(const Request&, Response&)> body) {
    return [this, body = std::move(body)](const Request& req, Response& res) {
      try {
        if (!host_allowed(req))
          reject(403, "bad_host", "this server answers requests for 127.0.0.1, [::1], localhost{}, not '{}'",
                 options.allowed_hosts.empty() ? "" : " or a name given by --allow-host", req.get_header_value("Host"));
        if (!origin_allowed(req))
          reject(403, "cross_origin", "writes from another origin ('{}') are refused", req.get_header_value("Origin"));
        body(req, res);
      } catch (const RequestError& e) {
        send_error(res, e.status, e.code, e.what());
        if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
      } catch (const VisionError& e) {
        const StatusAndCode answer = http_status_of(e.failure);
        send_error(res, answer.status, answer.code,
                   e.failure == VisionFailure::too_large ? std::string(e.what()) + " (serve --max-pixels)" : e.what());
      } catch (const DatabaseBusy& e) {
        // Another process holds the gallery's write lock (identify enroll, a backup): the
        // client's request was fine, and a retry shortly will likely succeed.
        fmt::print(stderr, "serve: busy: {} {}: {}\n", req.method, req.path, e.what());
        send_error(res, 503, "gallery_busy", "the gallery is locked by another process: retry in a few seconds");
        res.set_header("Retry-After", "2");
      } catch (const std::exception& e) {
        fmt::print(stderr, "serve: error: {} {}: {}\n", req.method, req.path, e.what());
        send_error(res, 500, "internal", e.what());
      }
    };
  }

  FaceOptions face_options(const Inputs& in) const {
    FaceOptions o;
    o.aligned = flag_option(in, "aligned", options.aligned);
    return o;
  }

  void require_token(const Request& req) const {
    if (options.token.empty()) return;
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (!starts_with(header, prefix) || !same_secret(header.substr(prefix.size()), options.token))
      reject(401, "unauthorized",
             "enrolling and deleting need this server's token: send 'Authorization: Bearer <token>' (serve --token-file)");
  }

  // Requests on a loopback server must name a loopback host: a page on another site whose name
  // was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name. The name is compared whole
  // (an IP literal in 127/8 or ::1, localhost, or one the operator allowed), never by prefix.
  bool host_allowed(const Request& req) const {
    if (!is_loopback_host(options.host) || !req.has_header("Host")) return true;
    std::optional<std::string> host = host_name(req.get_header_value("Host"));
    if (!host) return false;
    if (is_loopback_host(*host)) return true;
    return std::any_of(options.allowed_hosts.begin(), options.allowed_hosts.end(),
                       [&](const std::string& allowed) { return lower(allowed) == *host; });
  }

  // A browser says where a request comes from; writes from other origins are refused.
  bool origin_allowed(const Request& req) const {
    if (req.method == "GET" || req.method == "HEAD" || !req.has_header("Origin")) return true;
    return req.get_header_value("Origin") == "http://" + req.get_header_value("Host");
  }

  void install();
  // Declares a route (see Route) and registers its handler, run inside guarded().
  void route(const std::string& method, const std::string& pattern, const std::string& label,
             std::function<void(const Request&, Response&)> body);
};

void HttpService::Impl::route(const std::string& method, const std::string& pattern, const std::string& label,
                              std::function<void(const Request&, Response&)> body) {
  routes.push_back({method, pattern, label, std::regex(pattern)});
  auto handler = guarded(std::move(body));
  if (method == "GET") {
    server.Get(pattern, handler);
  } else if (method == "POST") {
    server.Post(pattern, handler);
  } else if (method == "DELETE") {
    server.Delete(pattern, handler);
  } else {
    fail("serve: route {} {}: no such method here", method, pattern);
  }
}

void HttpService::Impl::install() {
  auto& svr = server;
  // Connections, deadlines and size limits are the gate's (connection_gate.h); these only shape
  // what cpp-httplib says in its Keep-Alive header, and back the gate's body limit up.
  svr.set_payload_max_length(options.max_request_bytes);
  svr.set_keep_alive_max_count(static_cast<size_t>(GateOptions{}.max_requests_per_connection));
  svr.set_keep_alive_timeout(GateOptions{}.idle_timeout_ms / 1000);

  svr.set_pre_routing_handler([](const Request&, Response&) {
    t_request_start = Clock::now();
    return HandlerResponse::Unhandled;
  });

  // cpp-httplib's own refusals (no route, body too large, malformed request) come here with an
  // empty body; ours already carry one and pass through.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;
    if (res.status == 404) {
      std::string allowed = allowed_methods(routes, req.path);
      if (!allowed.empty()) {
        send_error(res, 405, "method_not_allowed", fmt::format("{} is not allowed on {} (allowed: {})", req.method,
                                                               req.path, allowed));
        res.set_header("Allow", allowed);
      } else {
        send_error(res, 404, "not_found", fmt::format("no such endpoint: {} {} (see docs/serve.md)", req.method, req.path));
      }
    } else if (res.status == 413 && starts_with(lower(req.get_header_value("Content-Type")),
                                                "application/x-www-form-urlencoded")) {
      // cpp-httplib caps urlencoded bodies at 8 KB before any handler runs; none of ours takes them.
      send_error(res, 415, "unsupported_media_type",
                 "send images as multipart/form-data, as JSON with base64 strings, or as one image/* body "
                 "(Content-Type was 'application/x-www-form-urlencoded')");
    } else if (res.status == 413) {
      send_error(res, 413, "request_too_large",
                 fmt::format("the request body is over this server's limit of {} bytes (serve --max-request-mb)",
                             options.max_request_bytes));
    } else {
      send_error(res, res.status, "bad_request", fmt::format("the request was refused (HTTP {})", res.status));
    }
    return HandlerResponse::Handled;
  }));

  svr.set_logger([this](const Request& req, const Response& res) {
    double seconds = -1;
    if (t_request_start != Clock::time_point{}) {
      seconds = std::chrono::duration<double>(Clock::now() - t_request_start).count();
      t_request_start = Clock::time_point{};
    }
    metrics.request(route_label(routes, req.path), req.method, res.status, seconds);
  });

  // ---- the page and the service's state -------------------------------------------------------
  route("GET", "/", "/", [](const Request&, Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; "
                   "script-src 'unsafe-inline'");
    res.set_content(index_html(), "text/html; charset=utf-8");
  });

  route("GET", "/healthz", "/healthz", [this](const Request&, Response& res) {
    const Embedder& m = service.model();
    send_json(res, 200,
              {{"status", "ok"},
               {"model",
                {{"description", service.model_name()},
                 {"fingerprint", m.fingerprint()},
                 {"embedding_dim", m.embedding_dim()},
                 {"input_size", m.input_size()}}},
               {"threshold", service.threshold()},
               {"distance", "squared_l2"},
               {"alignment", service.alignment(false)},
               {"galleries", service.gallery_names()},
               {"writes_need_token", !options.token.empty()}});
  });

  route("GET", "/metrics", "/metrics", [this](const Request&, Response& res) {
    std::vector<std::pair<std::string, double>> people;
    for (const auto& name : service.gallery_names())
      people.push_back({fmt::format("gallery=\"{}\"", escape_label(name)),
                        static_cast<double>(service.people(name).size())});
    std::string extra = gauge_lines("face_gallery_people", "People enrolled, per gallery.", people);
    res.set_content(metrics.render(extra), "text/plain; version=0.0.4; charset=utf-8");
  });

  route("GET", "/v1/galleries", "/v1/galleries", [this](const Request&, Response& res) {
    Json list = Json::array();
    for (const auto& name : service.gallery_names())
      list.push_back({{"name", name}, {"people", service.people(name).size()}});
    send_json(res, 200, {{"galleries", list}});
  });

  route("GET", R"(/v1/galleries/([^/]+)/people)", "/v1/galleries/{name}/people",
        [this](const Request& req, Response& res) {
    const std::string gallery = req.matches[1].str();
    Json people = Json::array();
    for (const auto& p : service.people(gallery))
      people.push_back({{"id", p.name}, {"images", p.images}, {"enrolled_at", p.enrolled_at}});
    send_json(res, 200, {{"gallery", gallery}, {"people", people}});
  });

  // ---- recognition --------------------------------------------------------------------------
  route("POST", "/v1/embed", "/v1/embed", [this](const Request& req, Response& res) {
    Inputs in = parse_inputs(req, {"image"});
    const FaceOptions fo = face_options(in);
    const bool crop = flag_option(in, "crop", false);
    EmbeddedFace f = service.embed(in.one("image"), fo);
    send_json(res, 200,
              {{"embedding", embedding_json(f.embedding)},
               {"dim", f.embedding.numel()},
               {"face", face_json(f.face, crop)},
               {"alignment", service.alignment(fo.aligned)},
               {"model_fingerprint", service.model().fingerprint()},
               {"warnings", f.face.notes}});
  });

  route("POST", "/v1/verify", "/v1/verify", [this](const Request& req, Response& res) {
    Inputs in = parse_inputs(req, {"a", "b"});
    const FaceOptions fo = face_options(in);
    const bool crops = flag_option(in, "crops", false);
    const std::optional<double> threshold = number_option(in, "threshold");
    Verification v = service.verify(in.one("a"), in.one("b"), fo, threshold);
    send_json(res, 200,
              {{"distance", v.distance},
               {"distance_kind", "squared_l2"},
               {"threshold", v.threshold},
               {"same", v.same},
               {"a", face_json(v.a.face, crops)},
               {"b", face_json(v.b.face, crops)},
               {"alignment", service.alignment(fo.aligned)},
               {"model_fingerprint", service.model().fingerprint()},
               {"warnings", v.warnings}});
  });

  auto identify = [this](const Request& req, Response& res, std::string gallery) {
    Inputs in = parse_inputs(req, {"image"});
    if (gallery.empty()) gallery = text_option(in, "gallery").value_or("");
    const FaceOptions fo = face_options(in);
    const bool crop = flag_option(in, "crop", false);
    const int64_t top = int_option(in, "top", 5);
    const std::optional<double> threshold = number_option(in, "threshold");
    IdentifyResult r = service.identify(gallery, in.one("image"), fo, top, threshold);
    Json candidates = Json::array();
    for (const auto& c : r.identification.candidates) candidates.push_back({{"id", c.name}, {"distance", c.distance}});
    const bool known = r.identification.known;
    send_json(res, 200,
              {{"gallery", r.gallery},
               {"identity", known ? r.identification.candidates[0].name : "unknown"},
               {"known", known},
               {"threshold", r.threshold},
               {"candidates", candidates},
               {"people", r.people},
               {"face", face_json(r.face.face, crop)},
               {"alignment", service.alignment(fo.aligned)},
               {"warnings", r.warnings}});
  };
  route("POST", "/v1/identify", "/v1/identify",
        [identify](const Request& req, Response& res) { identify(req, res, ""); });
  route("POST", R"(/v1/galleries/([^/]+)/identify)", "/v1/galleries/{name}/identify",
        [identify](const Request& req, Response& res) {
    identify(req, res, req.matches[1].str());
  });

  // ---- clustering: a batch of photos grouped by person (no gallery involved) -----------------
  route("POST", "/v1/cluster", "/v1/cluster", [this](const Request& req, Response& res) {
    Inputs in = parse_inputs(req, {"*"});
    const FaceOptions fo = face_options(in);
    const bool crops = flag_option(in, "crops", false);
    const std::optional<double> threshold = number_option(in, "threshold");
    const std::string method = text_option(in, "method").value_or("chinese-whispers");
    std::vector<Upload> images;
    for (auto& [field, upload] : in.images) images.push_back(std::move(upload));
    ClusterResult r = service.cluster(images, fo, method, threshold);
    Json clusters = Json::array();
    int64_t singletons = 0;
    for (size_t id = 0; id < r.clusters.size(); ++id) {
      Json faces = Json::array();
      for (int64_t i : r.clusters[id]) {
        Json face = face_json(r.faces[i].face, crops);
        face["face"] = i;
        face["image"] = r.faces[i].image;
        faces.push_back(face);
      }
      singletons += r.clusters[id].size() == 1;
      clusters.push_back({{"id", id}, {"size", r.clusters[id].size()}, {"faces", faces}});
    }
    Json unreadable = Json::array();
    for (const auto& [image, reason] : r.unreadable) unreadable.push_back({{"image", image}, {"reason", reason}});
    send_json(res, 200,
              {{"method", r.method},
               {"threshold", r.threshold},
               {"counts",
                {{"images", images.size()},
                 {"unreadable", r.unreadable.size()},
                 {"no_face", r.no_face.size()},
                 {"faces", r.faces.size()},
                 {"clusters", r.clusters.size()},
                 {"singletons", singletons}}},
               {"clusters", clusters},
               {"unreadable", unreadable},
               {"no_face", r.no_face},
               {"alignment", service.alignment(fo.aligned)},
               {"model_fingerprint", service.model().fingerprint()},
               {"warnings", r.warnings}});
  });

  // ---- gallery writes (the token, when the server has one) --------------------------------
  route("POST", R"(/v1/galleries/([^/]+)/people/([^/]+)/faces)", "/v1/galleries/{name}/people/{id}/faces",
        [this](const Request& req, Response& res) {
    require_token(req);
    const std::string gallery = req.matches[1].str(), person = req.matches[2].str();
    service.gallery(gallery);  // an unknown gallery is a 404 before the images are read
    Inputs in = parse_inputs(req, {"*"});
    std::vector<Upload> images;
    for (auto& [field, upload] : in.images) images.push_back(std::move(upload));
    EnrolResult r = service.enroll(gallery, person, images, face_options(in));
    send_json(res, r.added > 0 ? 201 : 200,
              {{"gallery", r.gallery},
               {"id", r.person},
               {"added", r.added},
               {"images", r.images},
               {"duplicates", r.duplicates},
               {"warnings", r.warnings}});
  });

  route("DELETE", R"(/v1/galleries/([^/]+)/people/([^/]+))", "/v1/galleries/{name}/people/{id}",
        [this](const Request& req, Response& res) {
    require_token(req);
    const std::string gallery = req.matches[1].str(), person = req.matches[2].str();
    check_person_id(person);
    service.remove(gallery, person);
    send_json(res, 200, {{"gallery", gallery}, {"removed", person}});
  });

  // ---- test mode: the page's ?a=/demo/X&b=/demo/Y loads server-side images ------------------
  if (!options.demo_dir.empty()) {
    route("GET", R"(/demo/([^/]+))", "/demo/{file}", [this](const Request& req, Response& res) {
      const std::string file = req.matches[1].str();
      const bool plain = !file.empty() && file[0] != '.' &&
                         std::all_of(file.begin(), file.end(), [](unsigned char c) {
                           return std::isalnum(c) || c == '.' || c == '_' || c == '-';
                         });
      const std::filesystem::path path = options.demo_dir / file;
      std::error_code ec;
      if (!plain || !std::filesystem::is_regular_file(path, ec)) reject(404, "not_found", "no demo image '{}'", file);
      res.set_content(read_file(path), content_type_of(file));
    });
  }
}

HttpService::HttpService(FaceService& service, Metrics& metrics, HttpOptions options)
    : impl_(std::make_unique<Impl>(service, metrics, std::move(options))) {}

HttpService::~HttpService() = default;

int HttpService::bind() { return impl_->gate.bind(); }

void HttpService::serve() { impl_->gate.serve(); }

void HttpService::stop() { impl_->gate.stop(); }

}  // namespace face::serve
