// Config loading: defaults, overrides, and errors that name the key and its line.
#include <gtest/gtest.h>

#include "test_support.h"
#include "train/config.h"
#include "util/error.h"

using face::test::TempDir;
using face::test::write_text;

namespace {

std::string error_of(const std::filesystem::path& file, std::vector<std::string> overrides = {}) {
  try {
    face::load_config(file, overrides);
  } catch (const face::Error& e) {
    return e.what();
  }
  return "";
}

const char* kValid = "data:\n  pack: x.pack\n  p: 8\nlength:\n  steps: 10\n";

}  // namespace

TEST(TrainConfig, LoadsValuesAndKeepsDefaults) {
  TempDir dir;
  write_text(dir / "r.yaml", kValid);
  auto c = face::load_config(dir / "r.yaml", {"optimiser.lr=0.05", "mining.strategy=batch_all"});
  EXPECT_EQ(c.data.pack, "x.pack");
  EXPECT_EQ(c.data.sampler.p, 8);
  EXPECT_EQ(c.data.sampler.k, 4);  // default
  EXPECT_DOUBLE_EQ(c.optimiser.lr, 0.05);
  EXPECT_EQ(c.mining.strategy, face::MiningStrategy::batch_all);
  EXPECT_DOUBLE_EQ(c.loss.margin, 0.2);
  EXPECT_EQ(c.run.name, "r");  // from the file name
}

TEST(TrainConfig, UnknownKeyNamesKeyAndLine) {
  TempDir dir;
  write_text(dir / "r.yaml", std::string(kValid) + "optimiser:\n  lr: 0.1\n  learning_rate: 0.1\n");
  auto error = error_of(dir / "r.yaml");
  EXPECT_NE(error.find("optimiser.learning_rate"), std::string::npos) << error;
  EXPECT_NE(error.find("line 8"), std::string::npos) << error;
  write_text(dir / "s.yaml", std::string("modle:\n  arch: nn4\n") + kValid);
  error = error_of(dir / "s.yaml");
  EXPECT_NE(error.find("unknown key 'modle'"), std::string::npos) << error;
  EXPECT_NE(error.find("line 1"), std::string::npos) << error;
}

TEST(TrainConfig, WrongTypeNamesKeyAndLine) {
  TempDir dir;
  write_text(dir / "r.yaml", std::string(kValid) + "loss:\n  margin: wide\n");
  auto error = error_of(dir / "r.yaml");
  EXPECT_NE(error.find("loss.margin"), std::string::npos) << error;
  EXPECT_NE(error.find("line 7"), std::string::npos) << error;
  EXPECT_NE(error.find("number"), std::string::npos) << error;
  write_text(dir / "s.yaml", std::string(kValid) + "data2: 1\n");
  EXPECT_NE(error_of(dir / "s.yaml").find("unknown key 'data2'"), std::string::npos);
  write_text(dir / "t.yaml", "data:\n  pack: x\n  p: 2.5\nlength:\n  steps: 1\n");
  error = error_of(dir / "t.yaml");
  EXPECT_NE(error.find("'data.p' must be an integer"), std::string::npos) << error;
  EXPECT_NE(error.find("line 3"), std::string::npos) << error;
}

TEST(TrainConfig, OutOfRangeAndBadChoiceNameTheKey) {
  TempDir dir;
  write_text(dir / "r.yaml", std::string(kValid) + "loss:\n  margin: -1\n");
  auto error = error_of(dir / "r.yaml");
  EXPECT_NE(error.find("loss.margin"), std::string::npos) << error;
  EXPECT_NE(error.find("line 7"), std::string::npos) << error;
  write_text(dir / "s.yaml", std::string(kValid) + "mining:\n  strategy: hardest\n");
  error = error_of(dir / "s.yaml");
  EXPECT_NE(error.find("mining.strategy"), std::string::npos) << error;
  EXPECT_NE(error.find("semihard"), std::string::npos) << error;  // lists the choices
  write_text(dir / "t.yaml", kValid);
  error = error_of(dir / "t.yaml", {"data.k=1"});
  EXPECT_NE(error.find("data.k"), std::string::npos) << error;
  EXPECT_NE(error.find("--set"), std::string::npos) << error;
  EXPECT_NE(error_of(dir / "t.yaml", {"data.kk=3"}).find("unknown key 'data.kk'"), std::string::npos);
}

TEST(TrainConfig, CrossKeyRules) {
  TempDir dir;
  write_text(dir / "r.yaml", "length:\n  steps: 5\n");
  EXPECT_NE(error_of(dir / "r.yaml").find("data.pack"), std::string::npos);
  write_text(dir / "s.yaml", kValid);
  // bf16 runs on the CPU too (autocast, model/precision.h); only the three names are accepted.
  EXPECT_EQ(error_of(dir / "s.yaml", {"runtime.precision=bf16"}), "");
  EXPECT_EQ(error_of(dir / "s.yaml", {"runtime.precision=auto"}), "");
  EXPECT_NE(error_of(dir / "s.yaml", {"runtime.precision=fp16"}).find("runtime.precision"), std::string::npos);
  // LFW View 1: pack and pairs together; selecting by it needs them.
  auto error = error_of(dir / "s.yaml", {"evaluation.lfw_pairs=pairsDevTest.txt"});
  EXPECT_NE(error.find("evaluation.lfw_pack"), std::string::npos) << error;
  error = error_of(dir / "s.yaml", {"evaluation.select_by=lfw_view1"});
  EXPECT_NE(error.find("evaluation.lfw_pairs"), std::string::npos) << error;
  EXPECT_NO_THROW(face::load_config(dir / "s.yaml", {"evaluation.lfw_pack=lfw.pack", "evaluation.lfw_pairs=p.txt",
                                                     "evaluation.select_by=lfw_view1"}));
}

TEST(TrainConfig, ResolvedYamlRoundTripsAndFingerprintCoversTheRecipeOnly) {
  TempDir dir;
  write_text(dir / "r.yaml", kValid);
  auto c = face::load_config(dir / "r.yaml", {"optimiser.name=sgd", "data.augmentation.flip=false"});
  write_text(dir / "resolved.yaml", c.to_yaml());
  auto again = face::load_config(dir / "resolved.yaml");
  EXPECT_EQ(again.to_yaml(), c.to_yaml());
  EXPECT_EQ(again.fingerprint(), c.fingerprint());
  EXPECT_FALSE(again.data.augmentation.flip);
  // Length, device and bookkeeping do not change the recipe; the learning rate does.
  auto longer = face::load_config(dir / "r.yaml",
                                  {"optimiser.name=sgd", "data.augmentation.flip=false", "length.steps=99",
                                   "runtime.threads=1", "checkpoint.every_steps=7"});
  EXPECT_EQ(longer.fingerprint(), c.fingerprint());
  auto other = face::load_config(dir / "r.yaml", {"optimiser.name=sgd", "data.augmentation.flip=false",
                                                  "optimiser.lr=0.5"});
  EXPECT_NE(other.fingerprint(), c.fingerprint());
}

TEST(TrainConfig, ShippedConfigsAreValid) {
  for (const char* name : {"configs/nn4.yaml", "configs/smoke.yaml"})
    EXPECT_NO_THROW(face::load_config(face::test::source_dir() / name, {"data.pack=x.pack"})) << name;
}

TEST(TrainConfig, KeyGivenTwiceNamesBothLines) {
  TempDir dir;
  write_text(dir / "twice.yaml", "data:\n  pack: x.pack\n  p: 8\n  p: 16\nlength:\n  steps: 10\n");
  auto e = error_of(dir / "twice.yaml");
  EXPECT_NE(e.find("'data.p' is given twice (lines 3 and 4)"), std::string::npos) << e;
  write_text(dir / "sections.yaml", "data:\n  pack: x.pack\nlength:\n  steps: 10\ndata:\n  p: 8\n");
  e = error_of(dir / "sections.yaml");
  EXPECT_NE(e.find("'data' is given twice (lines 1 and 5)"), std::string::npos) << e;
}

TEST(TrainConfig, NonFiniteNumbersAreRefusedWithTheirKey) {
  TempDir dir;
  write_text(dir / "r.yaml", kValid);
  for (const char* value : {".nan", ".inf", "-.inf"}) {
    auto e = error_of(dir / "r.yaml", {std::string("loss.margin=") + value});
    EXPECT_NE(e.find("loss.margin"), std::string::npos) << value << ": " << e;
    e = error_of(dir / "r.yaml", {std::string("loss.distill.weight=") + value});
    EXPECT_NE(e.find("loss.distill.weight"), std::string::npos) << value << ": " << e;
  }
}

TEST(TrainConfig, DistillationKeysAndTheirRules) {
  TempDir dir;
  write_text(dir / "r.yaml", kValid);
  auto c = face::load_config(dir / "r.yaml", {"loss.distill.weight=0.5", "loss.triplet_weight=0",
                                              "data.unlabelled_pack=u.pack", "data.unlabelled_per_batch=8"});
  EXPECT_DOUBLE_EQ(c.loss.distill.weight, 0.5);
  EXPECT_EQ(c.data.unlabelled_per_batch, 8);
  EXPECT_NE(c.to_yaml().find("relational_weight"), std::string::npos);
  auto plain = face::load_config(dir / "r.yaml");
  EXPECT_NE(c.fingerprint(), plain.fingerprint());  // the recipe changed
  EXPECT_NE(error_of(dir / "r.yaml", {"loss.triplet_weight=0"}).find("nothing to learn"), std::string::npos);
  EXPECT_NE(error_of(dir / "r.yaml", {"data.unlabelled_pack=u.pack", "data.unlabelled_per_batch=8"})
                .find("loss.distill.weight"),
            std::string::npos);
}
