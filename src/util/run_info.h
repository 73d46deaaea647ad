// run_info.h: what makes a result reproducible, recorded beside every run and report: the
// source commit (with "-dirty" when the tree had uncommitted changes), the host, the time and
// the LibTorch version.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>

namespace face {

std::string git_commit();     // e.g. "3f2a9c1d0b7e" or "3f2a9c1d0b7e-dirty"; "unknown" outside git
std::string hostname();
std::string utc_timestamp();  // ISO 8601, e.g. 2026-11-28T04:05:06Z
std::string torch_version();
// The source tree this program was built from (where models/ and .venv are found by default).
std::filesystem::path source_dir();

// One JSON object with all of the above, for reports and run directories ({"commit", "host",
// "time", "torch"}), and the same as text.
nlohmann::json run_info();
std::string run_info_json();

}  // namespace face
