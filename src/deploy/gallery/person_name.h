// person_name.h: what a person's name (an enrolment id) may hold, for every tool that writes one.
//
// Names are shown by `identify list`, in JSON, in line-based outputs and on the service's page,
// and deleted by typing them back: so a name is valid UTF-8 (no overlong forms, no surrogates),
// and holds no control character (C0, DEL, C1), no line or paragraph separator (U+2028/9) and
// no bidirectional override (U+202A-E, U+2066-9), which would make one name display as another.
#pragma once
#include <string>

namespace face {

// Why `name` cannot be a person's name ("" when it can): "is empty", "is not valid UTF-8 (byte 2)",
// "holds the control character U+0085", ...
std::string person_name_problem(const std::string& name);

}  // namespace face
