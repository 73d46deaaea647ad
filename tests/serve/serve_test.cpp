// The HTTP service end to end, against the serve program on a free loopback port: embed,
// verify (multipart and JSON agree), enrol / identify / list / delete, every bad input as a 4xx
// JSON error that leaves the gallery as it was, the write token, concurrent enrolments, a kill
// during enrolments, metrics, and clustering a batch of photos. Faces are 96x96 noise images sent as aligned faces (no
// detection, so the tests are quick and need no data) except where detection is the point.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <cmath>
#include <mutex>
#include <thread>

#include <opencv2/imgproc.hpp>

#include "deploy/gallery/gallery.h"
#include "deploy/serve/base64.h"
#include "serve/serve_fixture.h"
#include "util/error.h"
#include "vision/image_io.h"

using namespace face;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using test::server_args;

const std::string kAligned = "?aligned=true";

test::Reply enrol(httplib::Client& client, const std::string& person, const std::vector<std::string>& images,
                  const httplib::Headers& headers = {}) {
  httplib::MultipartFormDataItems items;
  for (size_t i = 0; i < images.size(); ++i) items.push_back(test::part("images", images[i], fmt::format("{}.png", i)));
  return test::reply(client.Post("/v1/galleries/test/people/" + person + "/faces" + kAligned, headers, items));
}

// Who is in the gallery file, and how many embeddings: what a bad request must not change.
struct GalleryState {
  std::vector<std::string> people;
  std::vector<int64_t> images;
  torch::Tensor embeddings;
  bool operator==(const GalleryState& o) const {
    return people == o.people && images == o.images && embeddings.sizes() == o.embeddings.sizes() &&
           (embeddings.numel() == 0 || torch::equal(embeddings, o.embeddings));
  }
};

GalleryState state_of(const fs::path& gallery) {
  Gallery g(gallery);
  GalleryContents c = g.load();
  GalleryState s;
  for (const auto& p : g.list()) {
    s.people.push_back(p.name);
    s.images.push_back(p.images);
  }
  s.embeddings = c.embeddings;
  return s;
}

// A small valid PNG whose header claims `side` x `side` pixels (a decompression bomb's header).
std::string png_claiming(int side) {
  std::string png = test::face_png(1);
  for (int i = 0; i < 2; ++i) {
    uint32_t v = static_cast<uint32_t>(side);
    for (int b = 0; b < 4; ++b) png[16 + 4 * i + b] = static_cast<char>((v >> (24 - 8 * b)) & 0xFF);
  }
  return png;
}

}  // namespace

TEST(Serve, HealthEmbedAndVerifyAgreeAcrossEncodings) {
  test::TempDir dir;
  test::ServerProcess server(server_args(dir / "g.db"), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = server.client();

  auto health = test::reply(client.Get("/healthz"));
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.json["status"], "ok");
  EXPECT_DOUBLE_EQ(health.json["threshold"].get<double>(), 0.5);
  EXPECT_EQ(health.json["galleries"], json::array({"test"}));

  const std::string a = test::face_png(1), b = test::face_png(2);
  httplib::MultipartFormDataItems one = {test::part("image", a)};
  auto embedded = test::reply(client.Post("/v1/embed" + kAligned, one));
  ASSERT_EQ(embedded.status, 200) << embedded.body;
  double norm = 0;
  for (const auto& x : embedded.json["embedding"]) norm += x.get<double>() * x.get<double>();
  EXPECT_EQ(embedded.json["embedding"].size(), 128u);
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_EQ(embedded.json["alignment"], "pre-aligned input");

  httplib::MultipartFormDataItems pair = {test::part("a", a), test::part("b", b)};
  auto multipart = test::reply(client.Post("/v1/verify" + kAligned, pair));
  ASSERT_EQ(multipart.status, 200) << multipart.body;
  json body = {{"a", serve::base64_encode(a)}, {"b", serve::base64_encode(b)}, {"aligned", true}, {"crops", true}};
  auto as_json = test::reply(client.Post("/v1/verify", body.dump(), "application/json"));
  ASSERT_EQ(as_json.status, 200) << as_json.body;
  EXPECT_NEAR(multipart.json["distance"].get<double>(), as_json.json["distance"].get<double>(), 1e-6);
  EXPECT_EQ(multipart.json["same"], multipart.json["distance"].get<double>() < 0.5);
  EXPECT_EQ(as_json.json["a"]["crop"].get<std::string>().rfind("data:image/png;base64,", 0), 0u);
  EXPECT_FALSE(multipart.json["a"].contains("crop"));  // only when asked

  // The same image twice: distance 0, same; the request's threshold overrides the model's.
  httplib::MultipartFormDataItems twice = {test::part("a", a), test::part("b", a)};
  auto same = test::reply(client.Post("/v1/verify" + kAligned, twice));
  EXPECT_NEAR(same.json["distance"].get<double>(), 0.0, 1e-6);
  EXPECT_EQ(same.json["same"], true);
  auto loose = test::reply(client.Post("/v1/verify" + kAligned + "&threshold=4", pair));
  EXPECT_EQ(loose.json["same"], true) << loose.body;
  EXPECT_DOUBLE_EQ(loose.json["threshold"].get<double>(), 4.0);
}

TEST(Serve, EnrolIdentifyListAndDelete) {
  test::TempDir dir;
  auto g = dir / "g.db";
  test::ServerProcess server(server_args(g), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = server.client();

  // An empty gallery answers "unknown", not an error.
  httplib::MultipartFormDataItems probe = {test::part("image", test::face_png(11))};
  auto empty = test::reply(client.Post("/v1/identify" + kAligned, probe));
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.json["identity"], "unknown");

  for (int p = 0; p < 3; ++p) {
    auto r = enrol(client, fmt::format("person{}", p), {test::face_png(10 * p + 1), test::face_png(10 * p + 2)});
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json["images"], 2);
  }
  // The same image again is kept once.
  auto again = enrol(client, "person0", {test::face_png(1)});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json["duplicates"].size(), 1u);

  auto known = test::reply(client.Post("/v1/galleries/test/identify" + kAligned + "&top=2&threshold=1e-6", probe));
  ASSERT_EQ(known.status, 200) << known.body;
  EXPECT_EQ(known.json["identity"], "person1");
  EXPECT_EQ(known.json["candidates"].size(), 2u);
  EXPECT_NEAR(known.json["candidates"][0]["distance"].get<double>(), 0.0, 1e-5);
  httplib::MultipartFormDataItems stranger = {test::part("image", test::face_png(999))};
  auto unknown = test::reply(client.Post("/v1/identify" + kAligned + "&gallery=test&threshold=1e-6", stranger));
  EXPECT_EQ(unknown.json["identity"], "unknown") << unknown.body;
  EXPECT_EQ(unknown.json["known"], false);

  auto listed = test::reply(client.Get("/v1/galleries/test/people"));
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json["people"].size(), 3u);
  EXPECT_EQ(listed.json["people"][1]["id"], "person1");

  EXPECT_EQ(test::reply(client.Delete("/v1/galleries/test/people/person1")).status, 200);
  auto gone = test::reply(client.Delete("/v1/galleries/test/people/person1"));
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(test::error_code(gone), "unknown_person");
  auto after = test::reply(client.Post("/v1/identify" + kAligned + "&threshold=1e-6", probe));
  EXPECT_EQ(after.json["identity"], "unknown") << after.body;  // the snapshot followed the delete
  EXPECT_EQ(Gallery(g).list().size(), 2u);
}

TEST(Serve, EveryBadInputIsA4xxJsonErrorAndLeavesTheGalleryUnchanged) {
  test::TempDir dir;
  auto g = dir / "g.db";
  test::ServerProcess server(server_args(g), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = server.client();
  ASSERT_EQ(enrol(client, "alice", {test::face_png(1)}).status, 201);
  const GalleryState before = state_of(g);

  const std::string good = test::face_png(2), png = test::face_png(3);
  const std::string truncated = png.substr(0, png.size() / 2);
  cv::Mat photo(250, 250, CV_8UC3);
  cv::randu(photo, 0, 255);  // no face in noise
  std::vector<uchar> encoded;
  cv::imencode(".png", photo, encoded);
  const std::string no_face(encoded.begin(), encoded.end());

  struct Case {
    std::string what;
    std::function<httplib::Result()> send;
    int status;
    std::string code;
  };
  // A case's request: these files posted to `path`.
  auto post_files = [&](const std::string& path, const httplib::MultipartFormDataItems& items) {
    return [&client, path, items] { return client.Post(path, items); };
  };
  auto enrol_one = [&](const std::string& person, const std::string& bytes, const std::string& query) {
    return post_files("/v1/galleries/test/people/" + person + "/faces" + query, {test::part("images", bytes)});
  };
  std::vector<Case> cases = {
      {"not an image", enrol_one("bob", "this is not an image", kAligned), 400, "bad_image"},
      {"truncated PNG", enrol_one("bob", truncated, kAligned), 400, "bad_image"},
      {"empty file", enrol_one("bob", "", kAligned), 400, "bad_image"},
      {"no face", enrol_one("bob", no_face, ""), 422, "no_face"},
      {"photo sent as aligned", enrol_one("bob", no_face, kAligned), 422, "not_aligned"},
      {"pixel bomb header", enrol_one("bob", png_claiming(20000), kAligned), 413, "image_too_large"},
      {"unknown gallery",
       post_files("/v1/galleries/nope/people/bob/faces" + kAligned, {test::part("images", good)}),
       404, "unknown_gallery"},
      {"one bad image among good ones (all or nothing)",
       post_files("/v1/galleries/test/people/alice/faces" + kAligned,
                  {test::part("images", good), test::part("images", "junk")}),
       400, "bad_image"},
      {"no image at all",
       [&] { return client.Post("/v1/galleries/test/people/bob/faces", "{}", "application/json"); }, 400, "no_image"},
      {"control character in the id", enrol_one("bob%0Aeve", good, kAligned), 400, "bad_person_id"},
      {"request body over the limit",
       post_files("/v1/galleries/test/people/bob/faces" + kAligned,
                  {test::part("images", std::string(2 << 20, 'x'))}),
       413, "request_too_large"},
      {"wrong method on enrolment",
       [&] { return client.Put("/v1/galleries/test/people/bob/faces", good, "image/png"); }, 405,
       "method_not_allowed"},
      {"wrong method on verify", [&] { return client.Get("/v1/verify"); }, 405, "method_not_allowed"},
      {"unknown route", [&] { return client.Get("/v2/nothing"); }, 404, "not_found"},
      {"verify with one image",
       post_files("/v1/verify" + kAligned, {test::part("a", good)}),
       400, "missing_image"},
      {"verify, malformed JSON", [&] { return client.Post("/v1/verify", "{\"a\": ", "application/json"); }, 400,
       "bad_json"},
      {"verify, bad base64",
       [&] { return client.Post("/v1/verify", R"({"a": "!!!", "b": "!!!"})", "application/json"); }, 400,
       "bad_base64"},
      {"verify, threshold out of range",
       post_files("/v1/verify" + kAligned + "&threshold=7", {test::part("a", good), test::part("b", good)}),
       400, "bad_parameter"},
      {"verify, threshold not a number",
       post_files("/v1/verify" + kAligned + "&threshold=nan", {test::part("a", good), test::part("b", good)}),
       400, "bad_parameter"},
      {"identify, top out of range",
       post_files("/v1/identify" + kAligned + "&top=0", {test::part("image", good)}),
       400, "bad_parameter"},
      {"identify, unknown gallery",
       post_files("/v1/galleries/nope/identify" + kAligned, {test::part("image", good)}),
       404, "unknown_gallery"},
      {"unsupported media type", [&] { return client.Post("/v1/embed", "hello", "text/plain"); }, 415,
       "unsupported_media_type"},
      {"delete an unknown person", [&] { return client.Delete("/v1/galleries/test/people/nobody"); }, 404,
       "unknown_person"},
      {"cross-origin write",
       [&] {
         httplib::Headers headers = {{"Origin", "http://evil.example"}};
         httplib::MultipartFormDataItems items = {test::part("images", good)};
         return client.Post("/v1/galleries/test/people/mallory/faces" + kAligned, headers, items);
       },
       403, "cross_origin"},
      {"another host name (DNS rebinding)",
       [&] {
         httplib::Headers headers = {{"Host", "evil.example"}};
         return client.Get("/v1/galleries", headers);
       },
       403, "bad_host"},
  };
  for (const auto& c : cases) {
    auto r = test::reply(c.send());
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
    EXPECT_EQ(test::error_code(r), c.code) << c.what << ": " << r.body;
    EXPECT_FALSE(r.json.is_object() && r.json["error"].value("message", "").empty()) << c.what;
    EXPECT_TRUE(state_of(g) == before) << c.what << " changed the gallery";
  }
  // Several faces where one is needed: two LFW people side by side (needs the shared data).
  if (!test::shared_data().empty()) {
    auto lfw = test::shared_data() / "lfw/deepfunneled";
    cv::Mat left = cv::imread((lfw / "Aaron_Peirsol/Aaron_Peirsol_0001.jpg").string());
    cv::Mat right = cv::imread((lfw / "Abel_Pacheco/Abel_Pacheco_0001.jpg").string());
    cv::Mat canvas(250, 500, CV_8UC3, cv::Scalar(0, 0, 0));
    left.copyTo(canvas(cv::Rect(0, 0, 250, 250)));
    right.copyTo(canvas(cv::Rect(250, 0, 250, 250)));
    std::vector<uchar> two;
    cv::imencode(".jpg", canvas, two);
    httplib::MultipartFormDataItems items = {test::part("images", std::string(two.begin(), two.end()), "two.jpg")};
    auto r = test::reply(client.Post("/v1/galleries/test/people/bob/faces", items));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(test::error_code(r), "several_faces") << r.body;
    EXPECT_TRUE(state_of(g) == before);
  }
  // The server is still healthy after all of that.
  EXPECT_EQ(test::reply(client.Get("/healthz")).status, 200);
}

TEST(Serve, WritesNeedTheTokenWhenOneIsSet) {
  test::TempDir dir;
  const std::string token = "0123456789abcdef-test-token";
  test::write_text(dir / "token", token + "\n");
  fs::permissions(dir / "token", fs::perms::owner_read | fs::perms::owner_write);
  auto g = dir / "g.db";
  test::ServerProcess server(server_args(g, {"--token-file", (dir / "token").string()}), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = server.client();
  const std::string face = test::face_png(1);

  auto none = enrol(client, "alice", {face});
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(test::error_code(none), "unauthorized");
  EXPECT_EQ(enrol(client, "alice", {face}, {{"Authorization", "Bearer wrong-token-wrong-token"}}).status, 401);
  EXPECT_TRUE(Gallery(g).list().empty());
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  EXPECT_EQ(enrol(client, "alice", {face}, auth).status, 201);
  EXPECT_EQ(test::reply(client.Delete("/v1/galleries/test/people/alice")).status, 401);
  // Reads need no token.
  EXPECT_EQ(test::reply(client.Get("/v1/galleries/test/people")).status, 200);
  EXPECT_EQ(test::reply(client.Delete("/v1/galleries/test/people/alice", auth)).status, 200);
}

TEST(Serve, RefusesToListenBeyondLoopbackWithoutAToken) {
  test::TempDir dir;
  auto r = test::run_command(fmt::format("{} --listen 0.0.0.0:0 --model '{}' --gallery 'test={}'",
                                         test::tool("serve").string(), test::exported_model(11, 0.5).string(),
                                         (dir / "g.db").string()));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--token-file"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "g.db"));  // refused before anything was opened
  // Options are range-checked like every other program's.
  auto bad = test::run_command(test::tool("serve").string() + " --workers 0");
  EXPECT_EQ(bad.status, 2) << bad.output;
  auto port = test::run_command(test::tool("serve").string() + " --listen 127.0.0.1:70000");
  EXPECT_EQ(port.status, 2) << port.output;
}

TEST(Serve, ConcurrentEnrolmentsAllLand) {
  test::TempDir dir;
  auto g = dir / "g.db";
  test::ServerProcess server(server_args(g), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  const int people = 8, shared_writers = 4;
  std::atomic<int> failures{0};
  std::mutex log_mutex;
  std::string failure_log;
  std::vector<std::thread> threads;
  for (int p = 0; p < people; ++p)
    threads.emplace_back([&, p] {
      auto client = server.client();
      auto r = enrol(client, fmt::format("p{}", p), {test::face_png(100 + 2 * p), test::face_png(101 + 2 * p)});
      if (r.status != 201) {
        ++failures;
        std::lock_guard<std::mutex> lock(log_mutex);
        failure_log += r.body + "\n";
      }
    });
  // Several requests adding to one person at once: each adds its own image.
  for (int w = 0; w < shared_writers; ++w)
    threads.emplace_back([&, w] {
      auto client = server.client();
      auto r = enrol(client, "shared", {test::face_png(500 + w)});
      if (r.status != 201) {
        ++failures;
        std::lock_guard<std::mutex> lock(log_mutex);
        failure_log += r.body + "\n";
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << failure_log;
  Gallery gallery(g);
  EXPECT_EQ(gallery.integrity_check(), "ok");
  auto listed = gallery.list();
  ASSERT_EQ(static_cast<int>(listed.size()), people + 1);
  for (const auto& p : listed) EXPECT_EQ(p.images, p.name == "shared" ? shared_writers : 2) << p.name;
}

TEST(Serve, AKillDuringEnrolmentsLosesAtMostTheOneInProgress) {
  test::TempDir dir;
  auto g = dir / "g.db";
  auto server = std::make_unique<test::ServerProcess>(server_args(g), dir / "serve.log");
  ASSERT_TRUE(server->ready()) << server->log();
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto client = server->client();
    for (int p = 0; p < 500 && !stop; ++p) {
      auto r = client.Post("/v1/galleries/test/people/" + fmt::format("p{:03d}", p) + "/faces" + kAligned,
                           httplib::MultipartFormDataItems{test::part("images", test::face_png(2 * p)),
                                                           test::part("images", test::face_png(2 * p + 1))});
      if (!r || r->status != 201) break;  // the server is gone
      ++acknowledged;
    }
  });
  for (int waited = 0; acknowledged < 5 && waited < 3000; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int status = server->stop(SIGKILL);
  stop = true;
  writer.join();
  EXPECT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(acknowledged.load(), 5) << "enrolments too slow to test a kill among them";

  {
    Gallery gallery(g);
    EXPECT_EQ(gallery.integrity_check(), "ok");
    auto listed = gallery.list();
    // Every acknowledged enrolment survived (synchronous=FULL); at most the one in flight is extra.
    EXPECT_GE(static_cast<int>(listed.size()), acknowledged.load());
    EXPECT_LE(static_cast<int>(listed.size()), acknowledged.load() + 1);
    for (const auto& p : listed) EXPECT_EQ(p.images, 2) << p.name << " was enrolled partially";
  }
  // A new server on the same file serves it.
  server = std::make_unique<test::ServerProcess>(server_args(g), dir / "serve2.log");
  ASSERT_TRUE(server->ready()) << server->log();
  auto client = server->client();
  EXPECT_EQ(test::reply(client.Get("/v1/galleries/test/people")).json["people"].size(), Gallery(g).list().size());
}

TEST(Serve, MetricsCountRequestsLatencyAndFaces) {
  test::TempDir dir;
  test::ServerProcess server(server_args(dir / "g.db"), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = server.client();
  httplib::MultipartFormDataItems pair = {test::part("a", test::face_png(1)), test::part("b", test::face_png(2))};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(test::reply(client.Post("/v1/verify" + kAligned, pair)).status, 200);
  EXPECT_EQ(test::reply(client.Get("/v1/verify")).status, 405);
  // A request is counted just after its response is written, by whichever server thread wrote
  // it, so the last ones (not only the very last: under load the third POST's thread may count
  // after the GET's) may be missing from the next scrape: scrape until all four are in (2 s at most).
  const std::string last = R"(face_http_requests_total{route="/v1/verify",method="GET",status="405"} 1)";
  const std::string all_four = R"(face_http_request_duration_seconds_count{route="/v1/verify"} 4)";
  std::string text;
  for (int tries = 0; tries < 20 && (text.find(last) == std::string::npos || text.find(all_four) == std::string::npos);
       ++tries) {
    if (tries) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto metrics = client.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->status, 200);
    EXPECT_NE(metrics->get_header_value("Content-Type").find("text/plain"), std::string::npos);
    text = metrics->body;
  }
  EXPECT_NE(text.find(last), std::string::npos) << text;
  EXPECT_NE(text.find(R"(face_http_requests_total{route="/v1/verify",method="POST",status="200"} 3)"), std::string::npos)
      << text;
  // The histogram is per route: the three verifications and the 405.
  EXPECT_NE(text.find(R"(face_http_request_duration_seconds_bucket{route="/v1/verify",le="+Inf"} 4)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(all_four), std::string::npos) << text;
  EXPECT_NE(text.find("face_faces_embedded_total 6"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE face_embed_batch_size histogram"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(face_gallery_people{gallery="test"} 0)"), std::string::npos) << text;
}

TEST(Serve, RealPhotosAreDetectedAlignedAndBoxed) {
  FACE_REQUIRE_SHARED_DATA();
  test::TempDir dir;
  test::ServerProcess server(server_args(dir / "g.db"), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = server.client();
  auto lfw = test::shared_data() / "lfw/deepfunneled/Abel_Pacheco";
  httplib::MultipartFormDataItems pair = {
      test::part("a", test::slurp(lfw / "Abel_Pacheco_0001.jpg"), "Abel_Pacheco_0001.jpg"),
      test::part("b", test::slurp(lfw / "Abel_Pacheco_0002.jpg"), "Abel_Pacheco_0002.jpg")};
  auto r = test::reply(client.Post("/v1/verify?crops=true", pair));
  ASSERT_EQ(r.status, 200) << r.body;
  for (const char* side : {"a", "b"}) {
    const auto& face = r.json[side];
    EXPECT_GE(face["faces_found"].get<int>(), 1) << r.body;  // LFW photos may show bystanders
    ASSERT_TRUE(face["box"].is_object()) << r.body;
    EXPECT_GT(face["box"]["width"].get<int>(), 40);
    EXPECT_EQ(face["landmarks"].size(), 3u);
    EXPECT_EQ(face["crop"].get<std::string>().rfind("data:image/png;base64,", 0), 0u);
  }
  EXPECT_NE(r.json["alignment"].get<std::string>().find("dlib-hog"), std::string::npos) << r.body;
}

// POST /v1/cluster: the same face sent twice lands in one group and the others stay apart at a
// small threshold; the threshold's extremes give one group per face and one for all; a photo that
// cannot be read or shows no face is named and skipped, not the request; bad options are 400s.
TEST(Serve, ClustersABatchOfPhotosAndNamesWhatItSkips) {
  test::TempDir dir;
  test::ServerProcess server(server_args(dir / "g.db", {"--max-images", "8"}), dir / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();
  auto client = server.client();
  httplib::MultipartFormDataItems faces;
  for (int seed : {1, 2, 1, 3, 4}) faces.push_back(test::part("images", test::face_png(seed), fmt::format("s{}.png", seed)));
  faces[2].filename = "again.png";

  // A threshold below every distance between different faces, and above the repeat's 0.
  std::vector<torch::Tensor> embedded;
  for (int seed : {1, 2, 3, 4}) {
    auto e = test::reply(client.Post("/v1/embed" + kAligned, httplib::MultipartFormDataItems{test::part(
                                                                "image", test::face_png(seed), "f.png")}));
    ASSERT_EQ(e.status, 200) << e.body;
    embedded.push_back(torch::tensor(e.json["embedding"].get<std::vector<float>>()));
  }
  double nearest = 4;
  for (size_t i = 0; i < embedded.size(); ++i)
    for (size_t j = i + 1; j < embedded.size(); ++j)
      nearest = std::min(nearest, (embedded[i] - embedded[j]).pow(2).sum().item<double>());
  ASSERT_GT(nearest, 1e-9) << "the test model gives two different faces one embedding";
  auto r = test::reply(client.Post(fmt::format("/v1/cluster{}&threshold={}&crops=true", kAligned, nearest / 2), faces));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["method"], "chinese-whispers");
  EXPECT_EQ(r.json["counts"]["faces"], 5);
  ASSERT_EQ(r.json["clusters"].size(), 4u) << r.body;
  const auto& first = r.json["clusters"][0];  // the largest: the face sent twice
  ASSERT_EQ(first["size"], 2) << r.body;
  EXPECT_EQ(first["faces"][0]["image"], "images (s1.png)");
  EXPECT_EQ(first["faces"][1]["image"], "images (again.png)");
  EXPECT_EQ(first["faces"][0]["crop"].get<std::string>().rfind("data:image/png;base64,", 0), 0u);
  {
    // Without a threshold, a model with strict thresholds is cut as the cluster tool cuts it: at
    // FAR 0.1 / 5 faces, looser than its table, so at its loosest row (here nearest / 2, where
    // the verification threshold 0.5 would give other groups); the same weights, re-exported.
    const fs::path strict = test::exported_model(11, 0.5, {{1e-3, nearest / 2}, {1e-4, nearest / 4}});
    std::vector<std::string> args = server_args(dir / "g2.db", {"--max-images", "8"});
    args[1] = strict.string();
    test::ServerProcess second(args, dir / "serve2.log");
    ASSERT_TRUE(second.ready()) << second.log();
    auto c2 = second.client();
    auto by_default = test::reply(c2.Post("/v1/cluster" + kAligned, faces));
    ASSERT_EQ(by_default.status, 200) << by_default.body;
    EXPECT_NEAR(by_default.json["threshold"].get<double>(), nearest / 2, 1e-6) << by_default.body;
    EXPECT_EQ(by_default.json["clusters"].size(), 4u) << by_default.body;
  }
  for (const char* method : {"chinese-whispers", "agglomerative"}) {
    auto apart = test::reply(client.Post(fmt::format("/v1/cluster{}&threshold=0&method={}", kAligned, method), faces));
    ASSERT_EQ(apart.status, 200) << apart.body;
    EXPECT_EQ(apart.json["counts"]["clusters"], 5) << method;
    EXPECT_EQ(apart.json["counts"]["singletons"], 5) << method;
    auto together = test::reply(client.Post(fmt::format("/v1/cluster{}&threshold=4&method={}", kAligned, method), faces));
    ASSERT_EQ(together.status, 200) << together.body;
    EXPECT_EQ(together.json["counts"]["clusters"], 1) << method << " " << together.body;
  }

  // Bad images are skipped and named: garbage bytes, and a blank photo with no face (detected).
  cv::Mat grey(160, 160, CV_8UC3, cv::Scalar(128, 128, 128));
  httplib::MultipartFormDataItems mixed = {test::part("images", "not an image", "junk.png"),
                                           test::part("images", face::encode_png(grey), "blank.png")};
  auto skipped = test::reply(client.Post("/v1/cluster", mixed));
  ASSERT_EQ(skipped.status, 200) << skipped.body;
  EXPECT_EQ(skipped.json["counts"]["faces"], 0);
  ASSERT_EQ(skipped.json["unreadable"].size(), 1u) << skipped.body;
  EXPECT_EQ(skipped.json["unreadable"][0]["image"], "images (junk.png)");
  EXPECT_EQ(skipped.json["no_face"], json::array({"images (blank.png)"})) << skipped.body;

  auto code = [&](const std::string& query, const httplib::MultipartFormDataItems& items) {
    auto e = test::reply(client.Post("/v1/cluster" + query, items));
    return std::to_string(e.status) + " " + test::error_code(e);
  };
  EXPECT_EQ(code(kAligned + "&method=kmeans", faces), "400 bad_parameter");
  EXPECT_EQ(code(kAligned + "&threshold=5", faces), "400 bad_parameter");
  auto none = test::reply(client.Post("/v1/cluster" + kAligned, "{\"method\": \"agglomerative\"}", "application/json"));
  EXPECT_EQ(std::to_string(none.status) + " " + test::error_code(none), "400 no_image") << none.body;
  httplib::MultipartFormDataItems nine;
  for (int i = 0; i < 9; ++i) nine.push_back(test::part("images", test::face_png(1), fmt::format("{}.png", i)));
  EXPECT_EQ(code(kAligned, nine), "413 too_many_images");
}
