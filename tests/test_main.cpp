#include <gtest/gtest.h>

#include <filesystem>

#include "util/threads.h"

namespace face::test {
// Set by tests/CMakeLists.txt on this file only (see test_support.h).
std::filesystem::path default_shared_data() { return FACE_SHARED_DATA_DEFAULT; }
std::filesystem::path default_build_dir() { return FACE_BUILD_DIR_DEFAULT; }
std::filesystem::path default_source_dir() { return FACE_SOURCE_DIR_DEFAULT; }
}  // namespace face::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  face::configure_threads(0);
  return RUN_ALL_TESTS();
}
