// error_message.h: the message of the face::Error a call throws, for tests that check what a
// refusal says (bad files named, ...).
#pragma once
#include <functional>
#include <string>

#include "util/error.h"

namespace face::test {

// The message of the face::Error that `f` throws; "" when it throws none.
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const face::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace face::test
