// The clustering metrics (src/eval/clustering_metrics.h): small cases worked by hand, and every
// case of tests/fixtures/clustering_fixture.txt, written once by tools/make_clustering_fixture.py
// from scikit-learn (pair_confusion_matrix, normalized_mutual_info_score) and a brute-force BCubed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "eval/clustering_metrics.h"
#include "test_support.h"
#include "util/error.h"

using namespace face;

namespace {

struct MetricsCase {
  std::string name;
  std::map<std::string, std::vector<double>> values;
};

std::vector<MetricsCase> read_metric_cases() {
  std::ifstream in(test::source_dir() / "tests/fixtures/clustering_fixture.txt");
  std::vector<MetricsCase> cases;
  std::string line;
  bool in_metrics = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "case") {
      std::string kind;
      fields >> kind;
      in_metrics = kind == "metrics";
      if (in_metrics) fields >> cases.emplace_back().name;
    } else if (key != "end" && in_metrics) {
      auto& v = cases.back().values[key];
      for (double x; fields >> x;) v.push_back(x);
    }
  }
  return cases;
}

std::vector<int64_t> as_labels(const std::vector<double>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST(ClusteringMetrics, WorkedByHand) {
  // Classes {0,1,2} {3,4} {5}; clusters {0,1} {2,3,4,5}. True pairs: 3 + 1 = 4; predicted pairs:
  // 1 + 6 = 7; pairs in both: (0,1) and (3,4). BCubed precision per item: 1, 1, 1/4, 2/4, 2/4,
  // 1/4; recall: 2/3, 2/3, 1/3, 1, 1, 1.
  auto s = score_clustering({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 1, 1});
  EXPECT_DOUBLE_EQ(s.pairwise_precision, 2.0 / 7);
  EXPECT_DOUBLE_EQ(s.pairwise_recall, 2.0 / 4);
  EXPECT_DOUBLE_EQ(s.pairwise_f, 2 * (2.0 / 7) * 0.5 / (2.0 / 7 + 0.5));
  EXPECT_DOUBLE_EQ(s.bcubed_precision, 3.5 / 6);
  EXPECT_DOUBLE_EQ(s.bcubed_recall, (14.0 / 3) / 6);
  EXPECT_EQ(s.items, 6);
  EXPECT_EQ(s.classes, 3);
  EXPECT_EQ(s.clusters, 2);
}

TEST(ClusteringMetrics, LimitCases) {
  auto perfect = score_clustering({5, 5, 9, 9, 9, 1}, {0, 0, 3, 3, 3, 7});  // only the names differ
  EXPECT_DOUBLE_EQ(perfect.pairwise_f, 1);
  EXPECT_DOUBLE_EQ(perfect.bcubed_f, 1);
  EXPECT_NEAR(perfect.nmi, 1, 1e-12);
  // All singletons: no predicted pair is wrong (precision 1), none is found (recall 0).
  auto singletons = score_clustering({0, 0, 1, 1}, {0, 1, 2, 3});
  EXPECT_DOUBLE_EQ(singletons.pairwise_precision, 1);
  EXPECT_DOUBLE_EQ(singletons.pairwise_recall, 0);
  EXPECT_DOUBLE_EQ(singletons.pairwise_f, 0);
  EXPECT_DOUBLE_EQ(singletons.bcubed_recall, 0.5);
  // One group on both sides: scikit-learn's NMI convention (1), every pair right.
  auto one = score_clustering({4, 4, 4}, {2, 2, 2});
  EXPECT_DOUBLE_EQ(one.nmi, 1);
  EXPECT_DOUBLE_EQ(one.pairwise_f, 1);
  // A single item: no pairs at all, by the conventions precision = recall = 1.
  EXPECT_DOUBLE_EQ(score_clustering({0}, {0}).pairwise_f, 1);
}

TEST(ClusteringMetrics, RefusesMismatchedOrEmptyInput) {
  EXPECT_THROW(score_clustering({0, 1}, {0}), Error);
  EXPECT_THROW(score_clustering({}, {}), Error);
}

TEST(ClusteringMetrics, MatchesScikitLearnAndBruteForce) {
  auto cases = read_metric_cases();
  ASSERT_EQ(cases.size(), 7u) << "tests/fixtures/clustering_fixture.txt missing or truncated";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto v = c.values;
    auto s = score_clustering(as_labels(v["truth"]), as_labels(v["predicted"]));
    ASSERT_EQ(v["pairwise"].size(), 3u);
    ASSERT_EQ(v["bcubed"].size(), 3u);
    EXPECT_NEAR(s.pairwise_precision, v["pairwise"][0], 1e-12);
    EXPECT_NEAR(s.pairwise_recall, v["pairwise"][1], 1e-12);
    EXPECT_NEAR(s.pairwise_f, v["pairwise"][2], 1e-12);
    EXPECT_NEAR(s.bcubed_precision, v["bcubed"][0], 1e-12);
    EXPECT_NEAR(s.bcubed_recall, v["bcubed"][1], 1e-12);
    EXPECT_NEAR(s.bcubed_f, v["bcubed"][2], 1e-12);
    EXPECT_NEAR(s.nmi, v["nmi"][0], 1e-12);
  }
}
