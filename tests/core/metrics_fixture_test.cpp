// The verification metrics against an independent implementation: tools/make_metrics_fixture.py
// (numpy brute force, scikit-learn's KFold / roc_auc_score / roc_curve, scipy's brentq for the
// EER as facenet computes it) wrote tests/fixtures/metrics_fixture.txt once; every value there is
// recomputed here by src/eval/verification_metrics.cpp. Cases include ties between same and
// different pairs and folds of unequal size.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "eval/verification_metrics.h"
#include "test_support.h"

using namespace face;

namespace {

struct FixtureCase {
  std::string name;
  int folds = 0;
  std::map<std::string, std::vector<double>> values;
};

std::vector<FixtureCase> read_fixture() {
  std::ifstream in(test::source_dir() / "tests/fixtures/metrics_fixture.txt");
  std::vector<FixtureCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "case") {
      cases.emplace_back();
      fields >> cases.back().name >> cases.back().folds;
    } else if (key != "end" && !cases.empty()) {
      auto& v = cases.back().values[key];
      for (double x; fields >> x;) v.push_back(x);
    }
  }
  return cases;
}

}  // namespace

TEST(MetricsFixture, MatchesTheIndependentReference) {
  auto cases = read_fixture();
  ASSERT_EQ(cases.size(), 3u) << "tests/fixtures/metrics_fixture.txt missing or truncated";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto v = c.values;
    std::vector<double> d = v["distances"];
    std::vector<bool> same;
    for (double s : v["same"]) same.push_back(s != 0);
    ASSERT_EQ(d.size(), same.size());
    auto m = verification_metrics(d, same, c.folds, v["far_targets"]);

    ASSERT_EQ(m.folds.size(), static_cast<size_t>(c.folds));
    for (int f = 0; f < c.folds; ++f) {
      EXPECT_EQ(m.folds[f].pairs, static_cast<int64_t>(v["fold_pairs"][f])) << "fold " << f;
      EXPECT_NEAR(m.folds[f].threshold, v["fold_threshold"][f], 1e-12) << "fold " << f;
      EXPECT_NEAR(m.folds[f].accuracy, v["fold_accuracy"][f], 1e-12) << "fold " << f;
    }
    EXPECT_NEAR(m.accuracy_mean, v["accuracy_mean"][0], 1e-12);
    EXPECT_NEAR(m.accuracy_std, v["accuracy_std"][0], 1e-12);
    ASSERT_EQ(m.val.size(), v["far_targets"].size());
    for (size_t t = 0; t < m.val.size(); ++t) {
      EXPECT_NEAR(m.val[t].val_mean, v["val_mean"][t], 1e-12) << "target " << v["far_targets"][t];
      EXPECT_NEAR(m.val[t].val_std, v["val_std"][t], 1e-12) << "target " << v["far_targets"][t];
      EXPECT_NEAR(m.val[t].far_mean, v["far_mean"][t], 1e-12) << "target " << v["far_targets"][t];
    }
    EXPECT_NEAR(m.auc, v["auc"][0], 1e-12);
    EXPECT_NEAR(m.eer, v["eer"][0], 1e-9);  // brentq's tolerance
    EXPECT_NEAR(m.best_threshold, v["best_threshold"][0], 1e-12);
    EXPECT_NEAR(m.best_accuracy, v["best_accuracy"][0], 1e-12);
    ASSERT_EQ(m.roc.size(), v["roc_far"].size());
    for (size_t i = 0; i < m.roc.size(); ++i) {
      EXPECT_NEAR(m.roc[i].far, v["roc_far"][i], 1e-12) << "ROC point " << i;
      EXPECT_NEAR(m.roc[i].tar, v["roc_tar"][i], 1e-12) << "ROC point " << i;
    }
  }
}
