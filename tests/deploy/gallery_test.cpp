// The gallery database and its search: persistence, refusal to mix models, schema checks,
// exact ranking, and FAISS agreeing with exact search.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "deploy/gallery/gallery.h"
#include "deploy/gallery/person_name.h"
#include "deploy/gallery/searcher.h"
#include "test_support.h"
#include "util/error.h"

using namespace face;

namespace {
GalleryModel model_a() { return {"aaaa", 4, "model A"}; }
torch::Tensor unit_rows(int64_t n, int64_t d, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto x = torch::randn({n, d}, gen);
  return x / x.norm(2, 1, true);
}
}  // namespace

TEST(Gallery, EnrolListRemoveSurviveReopening) {
  test::TempDir dir;
  auto e = unit_rows(4, 4, 1);
  {
    Gallery g(dir / "g.db", model_a());
    EXPECT_EQ(g.enroll("alice", {"a1.jpg", "a2.jpg"}, e.slice(0, 0, 2)), 2);
    EXPECT_EQ(g.enroll("bob", {"b1.jpg"}, e.slice(0, 2, 3)), 1);
    EXPECT_EQ(g.enroll("bob", {"b2.jpg"}, e.slice(0, 3, 4)), 2);  // adds to bob
  }
  Gallery g(dir / "g.db");
  EXPECT_EQ(g.model().fingerprint, "aaaa");
  auto people = g.list();
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(people[0].name, "alice");
  EXPECT_EQ(people[0].images, 2);
  EXPECT_EQ(people[1].images, 2);
  auto contents = g.load();
  EXPECT_EQ(contents.embeddings.size(0), 4);
  EXPECT_TRUE(torch::equal(contents.embeddings.slice(0, 0, 2), e.slice(0, 0, 2)));  // stored bit-exact
  EXPECT_TRUE(g.remove("alice"));
  EXPECT_FALSE(g.remove("alice"));
  EXPECT_EQ(g.load().embeddings.size(0), 2);  // her embeddings went with her
  EXPECT_EQ(g.integrity_check(), "ok");
}

TEST(Gallery, RefusesAnotherModelAndWrongShapes) {
  test::TempDir dir;
  { Gallery g(dir / "g.db", model_a()); }
  try {
    Gallery g(dir / "g.db", GalleryModel{"bbbb", 4, "model B"});
    FAIL() << "mixing models was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("refusing to mix"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bbbb"), std::string::npos) << e.what();
  }
  Gallery g(dir / "g.db", model_a());
  EXPECT_THROW(g.enroll("x", {"a"}, torch::zeros({1, 5})), Error);       // wrong size
  EXPECT_THROW(g.enroll("x", {"a", "b"}, torch::zeros({1, 4})), Error);  // count mismatch
  EXPECT_THROW(g.enroll("", {"a"}, torch::zeros({1, 4})), Error);
  EXPECT_TRUE(g.list().empty());
}

TEST(Gallery, MissingDamagedForeignAndNewerFilesAreNamed) {
  test::TempDir dir;
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { Gallery g(dir / "absent.db"); }).find("absent.db"), std::string::npos);
  test::write_text(dir / "junk.db", std::string(4096, 'x'));
  std::string junk = message([&] { Gallery g(dir / "junk.db", model_a()); });
  EXPECT_NE(junk.find("junk.db"), std::string::npos) << junk;
  EXPECT_NE(junk.find("not a database"), std::string::npos) << junk;
  {
    Gallery g(dir / "new.db", model_a());
    SqliteDb db(dir / "new.db", false);
    db.exec("PRAGMA user_version=99");
  }
  std::string newer = message([&] { Gallery g(dir / "new.db"); });
  EXPECT_NE(newer.find("schema version 99"), std::string::npos) << newer;
}

TEST(Searcher, RanksPeopleByNearestImageAndRejectsFarQueries) {
  test::TempDir dir;
  Gallery g(dir / "g.db", GalleryModel{"f", 2, "2-d"});
  g.enroll("east", {"e1", "e2"}, torch::tensor({{1.f, 0.f}, {0.8f, 0.6f}}));
  g.enroll("north", {"n1"}, torch::tensor({{0.f, 1.f}}));
  g.enroll("west", {"w1"}, torch::tensor({{-1.f, 0.f}}));
  Searcher s(g, make_exact_index());
  auto ids = s.identify(torch::tensor({{0.6f, 0.8f}, {0.f, -1.f}}), 3, /*threshold=*/0.5);
  ASSERT_EQ(ids[0].candidates.size(), 3u);
  EXPECT_EQ(ids[0].candidates[0].name, "east");  // via e2: |(0.6,0.8)-(0.8,0.6)|^2 = 0.08
  EXPECT_NEAR(ids[0].candidates[0].distance, 0.08, 1e-5);
  EXPECT_EQ(ids[0].candidates[1].name, "north");  // 0.4
  EXPECT_EQ(ids[0].candidates[2].name, "west");
  EXPECT_TRUE(ids[0].known);
  EXPECT_FALSE(ids[1].known);  // (0,-1) is 2.0 from east and west
}

TEST(Searcher, FaissFindsWhatExactSearchFinds) {
  if (!faiss_available()) GTEST_SKIP() << "built without FAISS";
  auto rows = unit_rows(2000, 32, 5);
  auto queries = (rows.slice(0, 0, 100) + 0.05 * unit_rows(100, 32, 6));
  auto exact = make_exact_index();
  exact->build(rows);
  auto faiss = make_faiss_index({/*nlist=*/16, /*nprobe=*/16});  // probing every cell: exact
  faiss->build(rows);
  auto a = exact->search(queries, 5), b = faiss->search(queries, 5);
  EXPECT_TRUE(torch::equal(a.rows, b.rows));
  EXPECT_TRUE(torch::allclose(a.distances, b.distances, 1e-4, 1e-4));
  EXPECT_TRUE(torch::equal(a.rows.select(1, 0), torch::arange(100)));  // each query's own row
}

// Issue 26, item 8: a name that is not UTF-8 was stored, then shown as U+FFFD and could not be
// typed back to delete it; C1 controls and direction overrides passed the ASCII-only check.
TEST(Gallery, RefusesNamesThatAreNotUtf8OrHoldAnyControlCharacter) {
  struct Name {
    std::string text, problem;  // problem "": a valid name
  };
  const std::vector<Name> names = {
      {"Zoë Müller 李", ""},
      {"emoji \xF0\x9F\x98\x80", ""},
      {"a\xC0\xAF" "b", "not valid UTF-8 (byte 2)"},       // overlong '/'
      {"a\xED\xA0\x80" "b", "not valid UTF-8"},           // a UTF-16 surrogate
      {"a\xF4\x90\x80\x80", "not valid UTF-8"},         // beyond U+10FFFF
      {"cut \xE2\x82", "not valid UTF-8"},                // truncated sequence
      {"stray \x80", "not valid UTF-8"},
      {"a\xC2\x85" "b", "U+0085"},                         // NEL, a C1 control
      {"a\xE2\x80\xAE" "b", "U+202E"},                     // right-to-left override
      {"a\xE2\x80\xA8" "b", "U+2028"},                     // line separator
      {"del\x7F", "U+007F"},
      {"", "is empty"},
  };
  for (const auto& n : names) {
    const std::string problem = person_name_problem(n.text);
    if (n.problem.empty()) EXPECT_EQ(problem, "") << n.text;
    else EXPECT_NE(problem.find(n.problem), std::string::npos) << "'" << n.text << "': " << problem;
  }
  test::TempDir dir;
  Gallery g(dir / "g.db", model_a());
  auto e = unit_rows(1, 4, 2);
  EXPECT_THROW(g.enroll("a\xC0\xAF" "b", {"x.jpg"}, e), Error);
  EXPECT_THROW(g.enroll("a\xC2\x85" "b", {"x.jpg"}, e), Error);
  EXPECT_EQ(g.enroll("Zoë", {"x.jpg"}, e), 1);
  EXPECT_EQ(g.list().size(), 1u);
}

TEST(Gallery, RefusesLineBreakingNamesAndKeepsARepeatedImageOnce) {
  test::TempDir dir;
  auto e = unit_rows(3, 4, 2);
  Gallery g(dir / "g.db", model_a());
  for (const std::string& bad : std::vector<std::string>{"eve\nmallory", "tab\there", std::string("nul\0x", 5)}) {
    try {
      g.enroll(bad, {"x.jpg"}, e.slice(0, 0, 1));
      ADD_FAILURE() << "a name with a control character was enrolled";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("control character"), std::string::npos) << err.what();
    }
  }
  EXPECT_TRUE(g.list().empty());
  std::vector<std::string> duplicates;
  EXPECT_EQ(g.enroll("carol", {"c1.jpg", "c1-copy.jpg", "c2.jpg"}, torch::cat({e.slice(0, 0, 1), e.slice(0, 0, 1),
                                                                              e.slice(0, 1, 2)}),
                     &duplicates),
            2);
  EXPECT_EQ(duplicates, std::vector<std::string>{"c1-copy.jpg"});
  duplicates.clear();
  EXPECT_EQ(g.enroll("carol", {"c1-again.jpg"}, e.slice(0, 0, 1), &duplicates), 2);  // already there
  EXPECT_EQ(duplicates, std::vector<std::string>{"c1-again.jpg"});
  EXPECT_EQ(g.enroll("dave", {"c1.jpg"}, e.slice(0, 0, 1)), 1);  // another person may share it
}
