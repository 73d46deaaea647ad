// progress.h: progress reporting for long loops (align, embed, train, evaluate).
//
// On a terminal it redraws one line with a bar, the rate and the ETA; otherwise (CI, a log file)
// it prints a plain line at most every `interval_seconds`, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace face {

class Progress {
 public:
  Progress(std::string label, int64_t total, double interval_seconds = 10.0);
  ~Progress();
  // Adds `n` finished items; `note` is shown after the counters (for example the loss).
  void advance(int64_t n = 1, const std::string& note = "");
  // Prints the final line (also done by the destructor).
  void finish();
  double rate() const;  // items per second so far

 private:
  void draw(bool final);
  std::string label_;
  int64_t total_, done_ = 0;
  double interval_;
  bool terminal_, finished_ = false;
  std::string note_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace face
