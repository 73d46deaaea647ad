// error.h: the one exception type every user-facing failure uses.
//
// A message always names the thing and the place: a file and line, a config key, an image path.
// Tools catch face::Error at main(), print it, and exit non-zero; nothing else needs to.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace face {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace face
