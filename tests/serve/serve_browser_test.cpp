// The page in a real headless browser (Debian's chromium): the page, in its test mode, clicks
// through itself on LFW photos that the server serves under /demo/: it verifies two photos of one
// person, enrols a third person's photo, identifies another photo of theirs, and groups six
// photos of two people. What it shows at each step must be the API's own answer for the same
// images: the verdict, distance and aligned crops; the enrolment and the people list; the
// identity; the groups, face by face. The page's DOM, a screenshot and both programs' logs are
// kept in <build>/test-output/serve_browser/ for a person to look at.
#include <gtest/gtest.h>


#include "serve/serve_fixture.h"

using namespace face;
namespace fs = std::filesystem;

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The browser's path, or "" when none is installed.
std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    auto r = test::run_command(std::string("command -v ") + name);
    if (r.status != 0) continue;
    std::string path = r.output;
    while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
    if (!path.empty()) return path;
  }
  return "";
}

// The element with id `id` in `html`: its opening tag and the text right after it (to the next '<').
struct Element {
  std::string open, text;
};
Element element(const std::string& html, const std::string& id) {
  auto at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return {};
  auto start = html.rfind('<', at), end = html.find('>', at);
  if (start == std::string::npos || end == std::string::npos) return {};
  auto text_end = html.find('<', end);
  return {html.substr(start, end - start + 1), html.substr(end + 1, text_end - end - 1)};
}

}  // namespace

TEST(ServePage, VerifiesEnrolsIdentifiesAndGroupsInHeadlessChromium) {
  FACE_REQUIRE_SHARED_DATA();
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "needs a headless browser (apt install chromium)";
  const fs::path model = test::source_dir() / "models/nn4.small2-celeba-distilled.pt";
  ASSERT_TRUE(fs::exists(model)) << model;
  const fs::path out = test::tool("test-output") / "serve_browser";
  fs::create_directories(out);
  test::TempDir dir;
  const fs::path lfw = test::shared_data() / "lfw/deepfunneled";
  const std::string a = "Abel_Pacheco_0001.jpg", b = "Abel_Pacheco_0002.jpg";
  const std::string enrolled = "Serena_Williams_0001.jpg", query = "Serena_Williams_0002.jpg";
  const std::vector<std::string> group = {"Abel_Pacheco_0001.jpg",    "Serena_Williams_0003.jpg",
                                          "Abel_Pacheco_0003.jpg",    "Serena_Williams_0004.jpg",
                                          "Abel_Pacheco_0004.jpg",    "Serena_Williams_0002.jpg"};
  const fs::path person = dir / "demo";  // the photos the server serves under /demo/
  fs::create_directories(person);
  for (const auto& name : {a, b, enrolled, query, group[1], group[2], group[3], group[4]})
    fs::copy_file(lfw / name.substr(0, name.size() - 9) / name, person / name, fs::copy_options::overwrite_existing);

  // The released model (its threshold is the model card's) and real alignment, as a person uses it.
  test::ServerProcess server({"--model", model.string(), "--gallery", "page=" + (dir / "g.db").string(), "--demo-dir",
                              person.string(), "--detectors", "2"},
                             out / "serve.log");
  ASSERT_TRUE(server.ready()) << server.log();

  // The API's answer for the pair (this also warms the model up before the browser asks).
  auto client = server.client();
  httplib::MultipartFormDataItems pair = {test::part("a", test::slurp(person / a), a),
                                          test::part("b", test::slurp(person / b), b)};
  auto api = test::reply(client.Post("/v1/verify", pair));
  ASSERT_EQ(api.status, 200) << api.body;
  const bool same = api.json["same"].get<bool>();
  const std::string distance = fmt::format("{:.4f}", api.json["distance"].get<double>());

  // Headless Chromium: --virtual-time-budget lets the page's scripts and fetches finish (virtual
  // time stands still while a fetch is pending) before the DOM is dumped or the picture taken;
  // `timeout` bounds the whole run whatever happens.
  // The API's grouping of the same six photos, sent as the page sends them (field "images").
  httplib::MultipartFormDataItems photos;
  std::string cluster_list;
  for (const auto& name : group) {
    photos.push_back(test::part("images", test::slurp(person / name), name));
    cluster_list += (cluster_list.empty() ? "" : ",") + std::string("/demo/") + name;
  }
  auto grouped = test::reply(client.Post("/v1/cluster", photos));
  ASSERT_EQ(grouped.status, 200) << grouped.body;
  ASSERT_EQ(grouped.json["counts"]["faces"].get<int64_t>(), 6) << grouped.body;

  const std::string page = server.url("/?a=/demo/" + a + "&b=/demo/" + b + "&enrol=/demo/" + enrolled +
                                      "&person=Serena_Williams&q=/demo/" + query + "&cluster=" + cluster_list);
  const std::string browser = fmt::format(
      "timeout 180 {} --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
      "--user-data-dir={} --virtual-time-budget=60000",
      q(chromium), q(dir / "profile"));
  auto dom = test::run_command("(" + browser + " --dump-dom '" + page + "' 2>>" + q(out / "chromium.log") + ")");
  test::write_text(out / "page.html", dom.output);
  ASSERT_EQ(dom.status, 0) << "chromium failed; see " << (out / "chromium.log") << "\n" << dom.output;
  EXPECT_NE(dom.output.find(R"(data-state="done")"), std::string::npos) << "the page never showed an answer";

  // Plain string search: libstdc++'s std::regex recurses per character and overflows the stack
  // on a DOM that holds two base64 images (~100 KB).
  auto tag = element(dom.output, "verdict");
  ASSERT_FALSE(tag.open.empty()) << dom.output;
  EXPECT_NE(tag.open.find(std::string("data-verdict=\"") + (same ? "same" : "different") + "\""), std::string::npos)
      << tag.open;
  EXPECT_EQ(tag.text, same ? "Same person" : "Different people");
  EXPECT_EQ(element(dom.output, "distance").text, distance) << "expected distance " << distance;
  for (const char* crop : {"crop-a", "crop-b"})
    EXPECT_NE(element(dom.output, crop).open.find("src=\"data:image/png;base64,"), std::string::npos)
        << crop << " was not shown";

  // Enrolment, the people list and identification, against the API's answer for the same photo
  // with the gallery as the page left it.
  EXPECT_EQ(element(dom.output, "enrol-error").text, "");
  EXPECT_EQ(element(dom.output, "enrol-result").text, "Enrolled 1 photo(s) of Serena_Williams (1 in all)");
  EXPECT_NE(dom.output.find("Serena_Williams · 1 photo(s)"), std::string::npos) << "the people list lacks the enrolment";
  auto who = test::reply(client.Post("/v1/galleries/page/identify",
                                     httplib::MultipartFormDataItems{test::part("image", test::slurp(person / query), query)}));
  ASSERT_EQ(who.status, 200) << who.body;
  ASSERT_EQ(who.json["people"].get<int64_t>(), 1) << who.body;
  const std::string identity = who.json["known"].get<bool>() ? who.json["identity"].get<std::string>() : "";
  if (!identity.empty()) EXPECT_EQ(element(dom.output, "identity").text, identity);
  else EXPECT_EQ(element(dom.output, "identity").text.rfind("Unknown", 0), 0u) << element(dom.output, "identity").text;

  // The groups: as many as the API found, each with the same photos in the same order.
  EXPECT_EQ(element(dom.output, "cluster-error").text, "");
  const auto& clusters = grouped.json["clusters"];
  EXPECT_NE(element(dom.output, "clusters").open.find(fmt::format("data-groups=\"{}\"", clusters.size())), std::string::npos)
      << element(dom.output, "clusters").open;
  for (const auto& c : clusters) {
    std::string images;
    for (const auto& f : c["faces"]) images += (images.empty() ? "" : "|") + f["image"].get<std::string>();
    auto row = element(dom.output, fmt::format("cluster-{}", c["id"].get<int64_t>()));
    EXPECT_NE(row.open.find("data-images=\"" + images + "\""), std::string::npos) << row.open << "\nexpected " << images;
  }

  auto shot = test::run_command("(" + browser + " --window-size=1280,1100 --screenshot=" + q(out / "verify.png") + " '" +
                                page + "' >>" + q(out / "chromium.log") + " 2>&1)");
  EXPECT_EQ(shot.status, 0) << shot.output;
  ASSERT_TRUE(fs::exists(out / "verify.png")) << "no screenshot; see " << (out / "chromium.log");
  EXPECT_GT(fs::file_size(out / "verify.png"), 10000u);  // a page, not a blank image
}
